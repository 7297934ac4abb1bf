"""Reports: attempts across mailings (filters, CSV) and per-mailing statistics.

An owner sees the attempts of their own mailings; a manager or superuser
sees everyone's. Every query here is scoped by ``services.scope``.
"""
from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("reports", __name__)


@bp.before_request
@login_required
def signed_in_only():
    """Every report needs a viewer: what it shows depends on who is looking. Content managers
    work only in the admin, on the blog."""
    if current_user.is_content_manager:
        abort(403)


from mailer.reports import routes  # noqa: E402,F401
