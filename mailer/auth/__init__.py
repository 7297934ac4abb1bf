"""Accounts: sign-up, e-mail verification, sign-in, password reset, the profile and the
sender address."""
from mailer.auth.routes import bp

__all__ = ["bp"]
