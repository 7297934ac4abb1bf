"""Oversight: managers see every mailing and user, block users and stop mailings; they edit nothing."""
from mailer.manager.routes import bp

__all__ = ["bp"]
