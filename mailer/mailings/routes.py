from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from mailer import lifecycle, paging
from mailer.clients.csv_io import csv_lines
from mailer.downloads import csv_download
from mailer.errors import ServiceError
from mailer.extensions import db
from mailer.form_errors import attach_error
from mailer.mailings import services
from mailer.mailings.forms import MailingForm
from mailer.models import AttemptStatus, Client, Mailing, Message, is_row_id, named_address
from mailer.ownership import own_or_404, owned, workspace_only
from mailer.reports.services import (DELIVERY_EXPORT_HEADER, attempt_delivery_rows,
                                     mailing_stats)
from mailer.scheduling.task_manager import TaskManager

bp = Blueprint("mailings", __name__)
bp.before_request(workspace_only)


@bp.route("/mailings/")
def list_mailings():
    page = services.mailings_page(current_user, paging.Place.from_args(request.args))
    return render_template(
        "mailings/list.html",
        page=page,
        last_attempts=services.last_attempts(page.items),
        next_send=services.next_send_times,
    )


def _choices(form: MailingForm, selected_client_ids: list[int]) -> None:
    messages = db.session.scalars(owned(Message, current_user).order_by(Message.subject))
    # A required select starts on an empty option (HTML: the first option of a required
    # select may not be a real choice), so nobody sends a message they did not pick.
    form.message_id.choices = [SelectChoice("", _("Choose a message")),
                               *(SelectChoice(m.id, m.subject) for m in messages)]
    form.has_messages = len(form.message_id.choices) > 1
    chosen = []
    possible = [client_id for client_id in selected_client_ids if is_row_id(client_id)]
    if possible:
        chosen = db.session.scalars(
            owned(Client, current_user).where(Client.id.in_(possible)).order_by(Client.email)
        )
    form.client_ids.choices = [
        SelectChoice(c.id, named_address(c.full_name, c.email)) for c in chosen
    ]


def _data(form: MailingForm, timezone: str) -> services.MailingData:
    return services.MailingData(
        message_id=form.message_id.data,
        client_ids=form.client_ids.data or [],
        all_clients=form.all_clients.data,
        start_local=form.start_at.data,
        end_local=form.end_at.data,
        frequency=form.frequency.data,
        timezone=timezone,
    )


def _form_page(form: MailingForm, mailing: Mailing | None):
    return render_template(
        "mailings/form.html",
        form=form,
        mailing=mailing,
        timezone=mailing.timezone if mailing else current_user.timezone,
    )


@bp.route("/mailings/new", methods=["GET", "POST"])
def new_mailing():
    form = MailingForm()
    if request.method == "GET":
        form.start_at.data, form.end_at.data = services.default_window(current_user)
        form.message_id.data = request.args.get("message_id", type=int)
    _choices(form, form.client_ids.data or [])
    if form.validate_on_submit():
        try:
            mailing = services.create_mailing(current_user, _data(form, current_user.timezone))
        except ServiceError as error:
            attach_error(form, error.message, error.field)
        else:
            flash(_("Mailing saved."), "success")
            return redirect(url_for("mailings.show_mailing", mailing_id=mailing.id))
    return _form_page(form, None)


@bp.route("/mailings/<int:mailing_id>/edit", methods=["GET", "POST"])
def edit_mailing(mailing_id: int):
    mailing = own_or_404(Mailing, mailing_id, current_user)
    form = MailingForm()
    if request.method == "GET":
        local = services.local_window(mailing)
        form.message_id.data = mailing.message_id
        if services.has_every_client(mailing):
            form.all_clients.data = True
        else:
            form.client_ids.data = services.client_ids_of(mailing)
        form.start_at.data, form.end_at.data = local
        form.frequency.data = mailing.frequency.value
    _choices(form, form.client_ids.data or [])
    if form.validate_on_submit():
        try:
            services.update_mailing(mailing, _data(form, mailing.timezone))
        except ServiceError as error:
            attach_error(form, error.message, error.field)
        else:
            flash(_("Mailing saved."), "success")
            return redirect(url_for("mailings.show_mailing", mailing_id=mailing.id))
    return _form_page(form, mailing)


@bp.route("/mailings/<int:mailing_id>")
def show_mailing(mailing_id: int):
    mailing = own_or_404(Mailing, mailing_id, current_user)
    attempts = services.attempts_of(mailing)
    return render_template(
        "mailings/detail.html",
        mailing=mailing,
        next_times=services.next_send_times(mailing),
        sending_now=next((a for a in attempts if a.status is AttemptStatus.SENDING), None),
        attempts=attempts,
        can_resend=services.can_resend(mailing, attempts[0] if attempts else None),
        client_count=mailing.recipient_count,
        stats=mailing_stats(mailing.id),
    )


def _status_change(mailing_id: int, change, done_message: str):
    mailing = own_or_404(Mailing, mailing_id, current_user)
    try:
        change(mailing)
    except ServiceError as error:
        flash(error.message, "danger")
    else:
        flash(done_message, "success")
    return redirect(url_for("mailings.show_mailing", mailing_id=mailing.id))


@bp.route("/mailings/<int:mailing_id>/pause", methods=["POST"])
def pause_mailing(mailing_id: int):
    return _status_change(mailing_id, lifecycle.pause, _("Mailing paused."))


@bp.route("/mailings/<int:mailing_id>/resume", methods=["POST"])
def resume_mailing(mailing_id: int):
    return _status_change(mailing_id, lifecycle.resume, _("Mailing resumed."))


@bp.route("/mailings/<int:mailing_id>/delete", methods=["POST"])
def delete_mailing(mailing_id: int):
    mailing = own_or_404(Mailing, mailing_id, current_user)
    services.delete_mailing(mailing)
    flash(_("Mailing deleted."), "success")
    return redirect(url_for("mailings.list_mailings"))


@bp.route("/mailings/<int:mailing_id>/send-now", methods=["POST"])
def send_now(mailing_id: int):
    mailing = own_or_404(Mailing, mailing_id, current_user)
    if not mailing.status.sends:
        flash(_("Only a created or running mailing can be sent."), "danger")
    else:
        TaskManager().start_run(mailing.id, "--ignore-schedule")
        flash(_("Sending has started. Reload this page to see the attempt."), "success")
    return redirect(url_for("mailings.show_mailing", mailing_id=mailing.id))


@bp.route("/mailings/<int:mailing_id>/resend", methods=["POST"])
def resend_not_reached(mailing_id: int):
    mailing = own_or_404(Mailing, mailing_id, current_user)
    attempts = services.attempts_of(mailing, limit=1)
    if not services.can_resend(mailing, attempts[0] if attempts else None):
        flash(_("There is nobody left to send the last attempt to."), "info")
    else:
        TaskManager().start_run(mailing.id, "--resume")
        flash(_("Sending to the clients not reached has started."), "success")
    return redirect(url_for("mailings.show_mailing", mailing_id=mailing.id))


def _own_attempt_or_404(mailing_id: int, attempt_id: int):
    mailing = own_or_404(Mailing, mailing_id, current_user)
    attempt = services.attempt_of(mailing, attempt_id)
    if attempt is None:
        abort(404)
    return mailing, attempt


@bp.route("/mailings/<int:mailing_id>/attempts/<int:attempt_id>")
def show_attempt(mailing_id: int, attempt_id: int):
    mailing, attempt = _own_attempt_or_404(mailing_id, attempt_id)
    return render_template(
        "mailings/attempt.html",
        mailing=mailing,
        attempt=attempt,
        page=services.deliveries_page(attempt, paging.Place.from_args(request.args)),
        not_reached=services.not_reached(mailing, attempt),
    )


@bp.route("/mailings/<int:mailing_id>/attempts/<int:attempt_id>/deliveries.csv")
def export_attempt_deliveries(mailing_id: int, attempt_id: int):
    """The attempt's letters as the report's deliveries CSV writes them."""
    _mailing, attempt = _own_attempt_or_404(mailing_id, attempt_id)
    lines = csv_lines(DELIVERY_EXPORT_HEADER,
                      attempt_delivery_rows(attempt, current_user.timezone))
    return csv_download(lines, f"attempt-{attempt.id}-deliveries")
