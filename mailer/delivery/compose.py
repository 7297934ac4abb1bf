"""The e-mail each client receives: the message rendered for them, with an unsubscribe link.

A ``Letter`` is prepared once per run (templates compiled, footer translated
into the owner's language); ``Letter.for_client`` then builds one message
for one recipient, never a list of recipients.
"""
from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Callable
from urllib.parse import urlsplit

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from mailer import message_template
from mailer.auth import tokens
from mailer.message_template import Recipient
from mailer.models import Mailing

_TOKEN_SLOT = "TOKEN-SLOT"
# Headers unfolded up to RFC 5322's hard limit, so a long unsubscribe URL stays on its line.
_POLICY = policy.default.clone(max_line_length=998)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Letter:
    sender: str
    envelope_from: str
    domain: str
    subject: Callable[[Recipient], str]
    body: Callable[[Recipient], str]
    footer: str
    unsubscribe_link: Callable[[int], str]

    def for_client(self, client_id: int, email: str, full_name: str) -> EmailMessage:
        recipient = Recipient(email=email, full_name=full_name)
        link = self.unsubscribe_link(client_id)
        message = EmailMessage(policy=_POLICY)
        message["From"] = self.sender
        message["To"] = formataddr((_one_line(full_name), email))
        message["Subject"] = _one_line(self.subject(recipient))
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.domain)
        message["List-Unsubscribe"] = f"<{link}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(f"{self.body(recipient).rstrip()}\n\n-- \n{self.footer}\n{link}\n")
        return message


def prepare(mailing: Mailing) -> Letter:
    """Compile the mailing's message; raises message_template.TemplateProblem."""
    config = current_app.config
    sender = config["MAIL_DEFAULT_SENDER"]
    base_url = config["BASE_URL"]
    with current_app.test_request_context(base_url=base_url):
        link_pattern = base_url + url_for("unsubscribe.confirm", token=_TOKEN_SLOT)
    with force_locale(mailing.owner.language):
        footer = _("You receive this because you are on %(name)s's list. To unsubscribe:",
                   name=mailing.owner.full_name or mailing.owner.email)

    def unsubscribe_link(client_id: int) -> str:
        return link_pattern.replace(_TOKEN_SLOT, tokens.make_token(tokens.UNSUBSCRIBE, client_id))

    return Letter(
        sender=sender,
        envelope_from=parseaddr(sender)[1],
        domain=urlsplit(base_url).hostname or "localhost",
        subject=message_template.compile(mailing.message.subject),
        body=message_template.compile(mailing.message.body),
        footer=footer,
        unsubscribe_link=unsubscribe_link,
    )
