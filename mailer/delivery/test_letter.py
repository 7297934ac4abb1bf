"""'Send me a test': one letter of a message to its owner's own address, as a client gets it.

The letter is built by the same composer as a mailing's (placeholders filled
for a real client of the owner, or the sample one), with the subject marked
as a test. It is no run: no Attempt, no Delivery, nothing in the reports.
Its unsubscribe link carries a token for no client, so a click changes
nothing. The request waits for the mail server, so the server gets no second
chance: one connection within ``MAIL_TIMEOUT`` seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from mailer.delivery import compose
from mailer.delivery.sender import ServerUnavailable, SmtpSession, SmtpSettings
from mailer.message_template import Recipient
from mailer.models import Message, User

@dataclass(frozen=True)
class SentToOwner:
    sent: bool
    reply: str  # the mail server's words


def send_test_letter(message: Message, owner: User, personalised_for: Recipient) -> SentToOwner:
    """Send ``message`` to ``owner``; raises message_template.TemplateProblem."""
    letter = compose.prepare_message(message, owner)
    with force_locale(owner.language):
        mark = _("[Test]")
    subject = letter.subject
    letter = replace(letter, subject=lambda recipient: f"{mark} {subject(recipient)}")
    settings = SmtpSettings.from_config(current_app.config)
    session = SmtpSession(replace(settings, timeout=float(current_app.config["MAIL_TIMEOUT"]),
                                  retry_delays=()))
    build = partial(letter.for_client, compose.NO_CLIENT, owner.email, owner.full_name,
                    personalised_for=personalised_for)
    try:
        outcome = session.send(build, letter.envelope_from, owner.email)
    except ServerUnavailable as error:
        return SentToOwner(False, error.reason)
    finally:
        session.close()
    return SentToOwner(outcome.sent, outcome.reply)
