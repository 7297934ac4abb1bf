"""Manager pages: all mailings (read-only, stop), all users (block, unblock)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from mailer import lifecycle, paging
from mailer.auth import services as accounts
from mailer.errors import ServiceError
from mailer.extensions import db
from mailer.mailings import services as mailing_services
from mailer.manager import services
from mailer.manager.forms import StopForm
from mailer.models import Mailing, MailingStatus, User
from mailer.reports.services import mailing_stats

bp = Blueprint("manager", __name__)


@bp.before_request
@login_required
def managers_only():
    if not (current_user.is_manager or current_user.is_superuser):
        abort(403)


def _status_filter() -> MailingStatus | None:
    value = request.args.get("status", "")
    try:
        return MailingStatus(value) if value else None
    except ValueError:
        flash(_("Unknown status “%(status)s”: showing every status.", status=value), "warning")
        return None


@bp.route("/manager/mailings")
def list_mailings():
    status = _status_filter()
    owner_q = request.args.get("owner", "").strip()
    page = services.mailings_page(status, owner_q, paging.Place.from_args(request.args))
    return render_template("manager/mailings.html", page=page, status=status, owner_q=owner_q,
                           statuses=list(MailingStatus))


@bp.route("/manager/mailings/<int:mailing_id>")
def show_mailing(mailing_id: int):
    mailing = db.get_or_404(Mailing, mailing_id)
    return render_template(
        "manager/mailing.html", mailing=mailing, form=StopForm(),
        next_times=mailing_services.next_send_times(mailing),
        attempts=mailing_services.attempts_of(mailing),
        client_count=mailing.recipient_count,
        stats=mailing_stats(mailing.id),
    )


@bp.route("/manager/mailings/<int:mailing_id>/stop", methods=["POST"])
def stop_mailing(mailing_id: int):
    mailing = db.get_or_404(Mailing, mailing_id)
    form = StopForm()
    if form.validate_on_submit():
        lifecycle.stop(mailing, form.reason.data)
        flash(_("Mailing stopped. Its owner cannot resume it."), "success")
    else:
        for error in form.reason.errors:
            flash(error, "danger")
    return redirect(url_for("manager.show_mailing", mailing_id=mailing.id))


@bp.route("/manager/users")
def list_users():
    q = request.args.get("q", "").strip()
    page, rows = services.users_page(q, request.args.get("page", 1, type=int))
    return render_template("manager/users.html", page=page, rows=rows, q=q, form=FlaskForm())


@bp.route("/manager/users/<int:user_id>/block", methods=["POST"])
def block_user(user_id: int):
    user = db.get_or_404(User, user_id)
    try:
        accounts.block_user(user, by=current_user)
    except ServiceError as error:
        flash(error.message, "danger")
    else:
        flash(_("%(email)s is blocked: signed out, cannot sign in, mailings do not send.",
                email=user.email), "success")
    return redirect(url_for("manager.list_users", **request.args))


@bp.route("/manager/users/<int:user_id>/unblock", methods=["POST"])
def unblock_user(user_id: int):
    user = db.get_or_404(User, user_id)
    accounts.unblock_user(user)
    flash(_("%(email)s is unblocked.", email=user.email), "success")
    return redirect(url_for("manager.list_users", **request.args))
