"""The user's workspace: clients, messages and mailings (reports are their own blueprint).

Route modules are split by what they manage: ``client_routes``,
``message_routes``, ``mailing_routes``; each has its forms and services
beside it. Every query here is scoped to ``current_user``.
"""
from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("mailings", __name__)


@bp.before_request
@login_required
def owners_only():
    """Managers oversee but never edit, content managers keep to the admin: not theirs."""
    if not current_user.has_workspace:
        abort(403)


from mailer.mailings import client_routes, mailing_routes, message_routes  # noqa: E402,F401
