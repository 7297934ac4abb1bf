"""Clients: the owner's recipients, CSV import and export, and the search the mailing form uses.

Every query here is scoped to ``current_user``.
"""
from mailer.clients.routes import bp

__all__ = ["bp"]
