"""Account e-mails (verification, password reset), in the recipient's language."""
from __future__ import annotations

import smtplib

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_mail import Message as MailMessage

from mailer.extensions import mail
from mailer.models import User


def external_url(endpoint: str, **values) -> str:
    """An absolute link built on BASE_URL, never on the request's Host header."""
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def send_verification_mail(user: User, link: str) -> bool:
    with force_locale(user.language):
        message = MailMessage(
            subject=_("Confirm your e-mail address"),
            recipients=[user.email],
            body=render_template("auth/email/verify.txt", user=user, link=link),
        )
    return _deliver(message, user, "verification")


def send_reset_mail(user: User, link: str) -> bool:
    with force_locale(user.language):
        message = MailMessage(
            subject=_("Reset your password"),
            recipients=[user.email],
            body=render_template("auth/email/reset.txt", user=user, link=link),
        )
    return _deliver(message, user, "password reset")


def _deliver(message: MailMessage, user: User, kind: str) -> bool:
    """Send; False (and a log line) if the mail server failed or timed out.

    The caller tells the user. An e-mail that could not go out never loses the
    account, and never holds the request longer than MAIL_TIMEOUT per step.
    """
    try:
        mail.send(message)
    except (smtplib.SMTPException, OSError) as error:
        current_app.logger.warning("%s e-mail to user %s not sent: %s", kind, user.id, error)
        return False
    return True
