"""Mailings: one message to many clients on a schedule, their pages, and starting a run.

The status machine is ``mailer.lifecycle``'s and cron is the TaskManager's; these views
and services only call them. Every query here is scoped to ``current_user``.
"""
from flask import Blueprint

from mailer.ownership import workspace_only

bp = Blueprint("mailings", __name__)
bp.before_request(workspace_only)

from mailer.mailings import routes  # noqa: E402,F401
