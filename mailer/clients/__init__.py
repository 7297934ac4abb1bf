"""Clients: the owner's recipients, CSV import and export, and the search the mailing form uses.

Every query here is scoped to ``current_user``.
"""
from flask import Blueprint

from mailer.ownership import workspace_only

bp = Blueprint("clients", __name__)
bp.before_request(workspace_only)

from mailer.clients import routes  # noqa: E402,F401
