from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from mailer import message_template
from mailer.form_errors import attach_error
from mailer.mailings import bp, message_services as services
from mailer.mailings.errors import WorkspaceError
from mailer.mailings.message_forms import MessageForm
from mailer.models import Message
from mailer.ownership import own_or_404


@bp.route("/messages/")
def list_messages():
    page = services.messages_page(current_user, request.args.get("page", 1, type=int))
    return render_template(
        "mailings/messages/list.html", page=page, used_by=services.usage_counts(page.items)
    )


def _data(form: MessageForm) -> services.MessageData:
    return services.MessageData(subject=form.subject.data, body=form.body.data)


@bp.route("/messages/new", methods=["GET", "POST"])
def new_message():
    form = MessageForm()
    if form.validate_on_submit():
        try:
            message = services.create_message(current_user, _data(form))
        except WorkspaceError as error:
            attach_error(form, error.message, error.field)
        else:
            flash(_("Message saved."), "success")
            return redirect(url_for("mailings.preview_message", message_id=message.id))
    return _form_page(form, None)


@bp.route("/messages/<int:message_id>/edit", methods=["GET", "POST"])
def edit_message(message_id: int):
    message = own_or_404(Message, message_id, current_user)
    form = MessageForm(obj=message)
    if form.validate_on_submit():
        try:
            services.update_message(message, _data(form))
        except WorkspaceError as error:
            attach_error(form, error.message, error.field)
        else:
            flash(_("Message saved."), "success")
            return redirect(url_for("mailings.preview_message", message_id=message.id))
    return _form_page(form, message)


def _form_page(form: MessageForm, message: Message | None):
    return render_template(
        "mailings/messages/form.html",
        form=form,
        message=message,
        placeholders=message_template.PLACEHOLDERS,
    )


@bp.route("/messages/<int:message_id>/preview")
def preview_message(message_id: int):
    message = own_or_404(Message, message_id, current_user)
    shown = services.preview(message, current_user)
    return render_template(
        "mailings/messages/preview.html",
        message=message, subject=shown.subject, body=shown.body, recipient=shown.recipient,
        problem=shown.problem,
    )


@bp.route("/messages/<int:message_id>/delete", methods=["POST"])
def delete_message(message_id: int):
    message = own_or_404(Message, message_id, current_user)
    try:
        services.delete_message(message)
    except WorkspaceError as error:
        flash(error.message, "danger")
        return redirect(url_for("mailings.preview_message", message_id=message.id))
    flash(_("Message deleted."), "success")
    return redirect(url_for("mailings.list_messages"))
