"""Messages: the letter's subject and Markdown body, its preview (text and HTML) and
"send me a test", for a message and for a mailing.

Every query here is scoped to ``current_user``.
"""
from flask import Blueprint

from mailer.ownership import workspace_only

bp = Blueprint("messages", __name__)
bp.before_request(workspace_only)

from mailer.messages import routes  # noqa: E402,F401
