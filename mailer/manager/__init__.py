"""Oversight: managers see every mailing and user, block users and stop mailings; they edit nothing."""
from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("manager", __name__)


@bp.before_request
@login_required
def managers_only():
    if not (current_user.is_manager or current_user.is_superuser):
        abort(403)


from mailer.manager import routes  # noqa: E402,F401
