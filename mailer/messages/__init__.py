"""Messages: the letter's subject and Markdown body, its preview (text and HTML) and
"send me a test", for a message and for a mailing.

Every query here is scoped to ``current_user``.
"""
from mailer.messages.routes import bp

__all__ = ["bp"]
