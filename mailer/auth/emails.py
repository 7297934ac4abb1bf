"""Account e-mails (verification, password reset, sender confirmation), in the user's language."""
from __future__ import annotations

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_mail import Message as MailMessage

from mailer.delivery.smtp import MAIL_ERRORS
from mailer.extensions import mail
from mailer.models import User


def external_url(endpoint: str, **values) -> str:
    """An absolute link built on BASE_URL, never on the request's Host header."""
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def send_verification_mail(user: User, link: str) -> bool:
    return _send(user, _l("Confirm your e-mail address"), "auth/email/verify.txt", link)


def send_reset_mail(user: User, link: str) -> bool:
    return _send(user, _l("Reset your password"), "auth/email/reset.txt", link)


def send_sender_confirmation_mail(user: User, link: str) -> bool:
    return _send(user, _l("Confirm your sender address"), "auth/email/confirm_sender.txt", link,
                 to=user.sender_email)


def _send(user: User, subject, template: str, link: str, to: str | None = None) -> bool:
    """Send one account e-mail in the user's language; False if the mail server failed.

    The caller tells the user. An e-mail that could not go out never loses the
    account, and never holds the request longer than MAIL_TIMEOUT per step.
    """
    with force_locale(user.language):
        message = MailMessage(
            subject=str(subject),
            recipients=[to or user.email],
            body=render_template(template, user=user, link=link),
        )
    try:
        mail.send(message)
    except MAIL_ERRORS as error:
        current_app.logger.warning("e-mail %s to user %s not sent: %s", template, user.id, error)
        return False
    return True
