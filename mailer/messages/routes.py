from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from mailer import message_template
from mailer.errors import ServiceError
from mailer.extensions import limiter
from mailer.form_errors import attach_error
from mailer.letter_page import letter_response
from mailer.messages import services
from mailer.messages.forms import MessageForm
from mailer.models import Mailing, Message
from mailer.ownership import own_or_404, workspace_only

bp = Blueprint("messages", __name__)
bp.before_request(workspace_only)


@bp.route("/messages/")
def list_messages():
    page = services.messages_page(current_user, request.args.get("page", 1, type=int))
    return render_template(
        "messages/list.html", page=page, used_by=services.usage_counts(page.items)
    )


def _data(form: MessageForm) -> services.MessageData:
    return services.MessageData(subject=form.subject.data, body=form.body.data)


@bp.route("/messages/new", methods=["GET", "POST"])
def new_message():
    form = MessageForm()
    if form.validate_on_submit():
        try:
            message = services.create_message(current_user, _data(form))
        except ServiceError as error:
            attach_error(form, error.message, error.field)
        else:
            flash(_("Message saved."), "success")
            return redirect(url_for("messages.preview_message", message_id=message.id))
    return _form_page(form, None)


@bp.route("/messages/<int:message_id>/edit", methods=["GET", "POST"])
def edit_message(message_id: int):
    message = own_or_404(Message, message_id, current_user)
    form = MessageForm(obj=message)
    if form.validate_on_submit():
        try:
            services.update_message(message, _data(form))
        except ServiceError as error:
            attach_error(form, error.message, error.field)
        else:
            flash(_("Message saved."), "success")
            return redirect(url_for("messages.preview_message", message_id=message.id))
    return _form_page(form, message)


def _form_page(form: MessageForm, message: Message | None):
    return render_template(
        "messages/form.html",
        form=form,
        message=message,
        placeholders=message_template.PLACEHOLDERS,
    )


@bp.route("/messages/<int:message_id>/preview")
def preview_message(message_id: int):
    message = own_or_404(Message, message_id, current_user)
    shown = services.preview(message, current_user)
    return render_template("messages/preview.html", message=message, shown=shown)


@bp.route("/messages/<int:message_id>/preview.html")
def preview_message_html(message_id: int):
    message = own_or_404(Message, message_id, current_user)
    html = services.preview(message, current_user).html
    if html is None:
        abort(404)
    return letter_response(html)


@bp.route("/messages/<int:message_id>/delete", methods=["POST"])
def delete_message(message_id: int):
    message = own_or_404(Message, message_id, current_user)
    try:
        services.delete_message(message)
    except ServiceError as error:
        flash(error.message, "danger")
        return redirect(url_for("messages.preview_message", message_id=message.id))
    flash(_("Message deleted."), "success")
    return redirect(url_for("messages.list_messages"))


def _test_send_limit() -> str:
    return current_app.config["RATELIMIT_TEST_SEND"]


def _per_user() -> str:
    return f"user:{current_user.get_id()}"


def _send_test(message: Message, mailing: Mailing | None = None) -> None:
    try:
        outcome = services.send_test(message, current_user, mailing)
    except ServiceError as error:
        flash(error.message, "danger")
        return
    if outcome.sent:
        flash(_("A test letter is on its way to %(email)s.", email=current_user.email), "success")
    else:
        flash(_("The mail server did not take the test letter: %(reply)s", reply=outcome.reply), "danger")


@bp.route("/messages/<int:message_id>/test", methods=["POST"])
@limiter.limit(_test_send_limit, key_func=_per_user)
def send_test_message(message_id: int):
    message = own_or_404(Message, message_id, current_user)
    _send_test(message)
    return redirect(url_for("messages.preview_message", message_id=message.id))


@bp.route("/mailings/<int:mailing_id>/test", methods=["POST"])
@limiter.limit(_test_send_limit, key_func=_per_user)
def send_test_mailing(mailing_id: int):
    mailing = own_or_404(Mailing, mailing_id, current_user)
    _send_test(mailing.message, mailing)
    return redirect(url_for("mailings.show_mailing", mailing_id=mailing.id))
