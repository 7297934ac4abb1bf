"""The e-mail each client receives: the message rendered for them, with an unsubscribe link.

A ``Letter`` is prepared once per run (templates compiled, footer translated
into the owner's language); ``Letter.for_client`` then builds one message
for one recipient, never a list of recipients, as the bytes to send.

Speed: building an ``EmailMessage`` costs more than sending it (its header
registry parses every header back). The common case (ASCII addresses, a name,
subject and body in any script) is therefore written straight to bytes with
the standard library's own encoders (``email.header.Header`` for RFC 2047
words), headers in the order and with the transfer encoding ``EmailMessage``
would choose; anything unusual (a non-ASCII address, text that looks like an
encoded word, a body line too long to send as it is) goes through
``EmailMessage`` itself. A test holds the two paths to the same result for
any text hypothesis can think of.
"""
from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.header import Header
from email.headerregistry import Address
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
# Every line ends in CRLF: smtplib sends bytes as they are, and a bare LF makes the
# whole letter one line, refused past 1,000 octets (RFC 5321 4.5.3.1.6) by any server.
CRLF = b"\r\n"
# Headers unfolded up to RFC 5322's hard limit, so a long unsubscribe URL stays on its line.
_POLICY = policy.default.clone(max_line_length=998, linesep="\r\n")
# An international address is written as UTF-8 (RFC 6531), for servers that take SMTPUTF8.
_UTF8_POLICY = _POLICY.clone(utf8=True)


def _one_line(text: str) -> str:
    return " ".join(text.split())


_LINE_LIMIT = 998


def _header_text(value: str) -> str:
    """A header's text as it is when ASCII, else one RFC 2047 word (unfolded: the words of
    a folded display name come apart in some readers)."""
    if value.isascii():
        return value
    return Header(value, "utf-8", maxlinelen=10 * _LINE_LIMIT).encode()


@dataclass(frozen=True)
class Letter:
    sender: str
    envelope_from: str
    domain: str
    subject: Callable[[Recipient], str]
    body: Callable[[Recipient], str]
    footer: str
    unsubscribe_link: Callable[[int], str]

    def for_client(self, client_id: int, email: str, full_name: str) -> bytes:
        recipient = Recipient(email=email, full_name=full_name)
        link = self.unsubscribe_link(client_id)
        name = _one_line(full_name)
        subject = _one_line(self.subject(recipient))
        body = f"{self.body(recipient).rstrip()}\n\n-- \n{self.footer}\n{link}\n"
        raw_body = CRLF.join(body.encode("utf-8").splitlines()) + CRLF  # as set_content does
        if email.isascii() and "=?" not in name + subject + self.sender:
            to = formataddr((name, email)) if name.isascii() else f"{_header_text(name)} <{email}>"
            lines = [f"From: {_header_text(self.sender)}", f"To: {to}",
                     f"Subject: {_header_text(subject)}"]
            if all(len(line) <= _LINE_LIMIT for line in lines) \
                    and max(len(line) for line in raw_body.split(CRLF)) <= _LINE_LIMIT:
                encoding = "7bit" if body.isascii() else "8bit"
                head = "\r\n".join(lines + [
                    f"Date: {formatdate(usegmt=True)}", f"Message-ID: {make_msgid(domain=self.domain)}",
                    f"List-Unsubscribe: <{link}>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                    'Content-Type: text/plain; charset="utf-8"', f"Content-Transfer-Encoding: {encoding}",
                    "MIME-Version: 1.0", "", ""])
                return head.encode("ascii") + raw_body
        # Anything unusual (an international address, text that looks like an encoded
        # word, a line too long to send as it is) is left to the standard library.
        return self.as_email_message(email, name, subject, body, link).as_bytes()

    def as_email_message(self, email: str, name: str, subject: str, body: str,
                         link: str) -> EmailMessage:
        """The same letter built by the standard library (the reference for ``for_client``)."""
        message = EmailMessage(policy=_POLICY if email.isascii() else _UTF8_POLICY)
        message["From"] = self.sender
        local, _at, domain = email.rpartition("@")
        message["To"] = Address(display_name=name, username=local, domain=domain)
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.domain)
        message["List-Unsubscribe"] = f"<{link}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(body)
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
