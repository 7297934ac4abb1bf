"""Mailings: one message to many clients on a schedule, their pages, and starting a run.

The status machine is ``mailer.lifecycle``'s and cron is the TaskManager's; these views
and services only call them. Every query here is scoped to ``current_user``.
"""
from mailer.mailings.routes import bp

__all__ = ["bp"]
