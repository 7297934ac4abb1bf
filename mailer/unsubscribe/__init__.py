"""``/unsubscribe/<token>``: the link at the foot of every mailing e-mail (RFC 8058 one-click too)."""
from flask import Blueprint

bp = Blueprint("unsubscribe", __name__)

from mailer.unsubscribe import routes  # noqa: E402,F401
