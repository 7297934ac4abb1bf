"""Development only: read the mail the local sink caught (``flask mail-sink``).

The caught mail holds every verification and password-reset link, so the pages
answer only in development (the blueprint is not even registered otherwise)
and only to a browser on this machine.
"""
from mailer.devmail.routes import bp

__all__ = ["bp"]
