"""``/unsubscribe/<token>``: the link at the foot of every mailing e-mail (RFC 8058 one-click too)."""
from mailer.unsubscribe.routes import bp

__all__ = ["bp"]
