"""The e-mail each client receives: the message rendered for them, with an unsubscribe link.

A ``Letter`` is prepared once per run (templates compiled, the HTML version
built, footer translated into the owner's language); ``Letter.for_client``
then builds one message for one recipient, never a list of recipients, as the
bytes to send: ``multipart/alternative``, the text as written and the HTML
made from it (``mailer.message_html``).

On the wire (RFC 5321/5322, 2045, 2047, 6152): every line ends in CRLF
(smtplib sends bytes as they are; a bare LF makes a letter one endless line,
refused past 1,000 octets by any server and as smuggling by Postfix); header
lines are folded at 76 characters, non-ASCII text in RFC 2047 words of at most
75, except ``List-Unsubscribe``, whose URL must stay whole (up to 998); a body
goes as it is (7bit, or 8bit when the server takes 8BITMIME) while its lines
fit in 998 octets, otherwise quoted-printable or base64 in lines of 76.

Speed: building an ``EmailMessage`` costs more than sending it (its header
registry parses every header back). The common case (ASCII addresses, a name,
subject and body in any script, a server with 8BITMIME) is therefore written
straight to bytes with the standard library's own encoders
(``email.header.Header`` for RFC 2047 words, a random boundary checked
against both parts); anything unusual (a non-ASCII
address, text that looks like an encoded word, a body line too long to send as
it is, a 7-bit server) goes through ``EmailMessage`` itself. A test holds the
two paths to the same result for any text hypothesis can think of.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timezone
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, format_datetime, make_msgid, parseaddr
from typing import Callable
from urllib.parse import urlsplit

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from mailer import message_html, message_template, senders, tokens
from mailer.bounces import verp
from mailer.delivery.dkim_signing import DkimSigner
from mailer.message_template import Recipient
from mailer.models import Mailing, Message, User

_TOKEN_SLOT = "TOKEN-SLOT"
NO_CLIENT = 0  # ids start at 1: an unsubscribe link for a test letter or a preview changes nothing
CRLF = b"\r\n"
FOLD = "\r\n "
# Folded lines and encoded lines of at most 76: RFC 2045 6.7 and 6.8 for the body, and
# so that an RFC 2047 word on a folded line stays within its 75 (the library's 78 allows 76).
WIDTH = 76
LINE_LIMIT = 998  # RFC 5322 2.1.1: MUST
# A header stored raw (set_raw: List-Unsubscribe) is left as it is.
_POLICY = policy.default.clone(linesep="\r\n", refold_source="none", max_line_length=WIDTH)
# An international address is written as UTF-8 (RFC 6531), for servers that take SMTPUTF8.
_UTF8_POLICY = _POLICY.clone(utf8=True)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _header(name: str, value: str) -> str:
    """``Name: value`` folded at 76 columns; non-ASCII text as RFC 2047 words."""
    if value.isascii() and len(name) + 2 + len(value) <= WIDTH:
        return f"{name}: {value}"
    charset = "us-ascii" if value.isascii() else "utf-8"
    folded = Header(value, charset, maxlinelen=WIDTH, header_name=name).encode(linesep="\r\n")
    return f"{name}: {folded}"


def _address_value(header: str, name: str, email: str) -> str:
    """A named address. A non-ASCII name is one RFC 2047 word even past 75 characters:
    readers disagree on the space between two words of a folded name (Python's own parser
    keeps it, RFC 2047 readers drop it), and a name torn apart is worse than a long word."""
    if not name:
        return email
    if name.isascii():
        return _header(header, formataddr((name, email)))[len(header) + 2:]
    word = Header(name, "utf-8", maxlinelen=LINE_LIMIT * 10).encode()
    room = len(header) + 2 + len(word) + len(email) + 3 <= WIDTH
    return f"{word}{' ' if room else FOLD}<{email}>"


def subject_fits(subject: str) -> bool:
    """Whether ``subject``, encoded and folded, stays within the 998 octets of RFC 5322 2.1.1
    (255 characters of emoji do not)."""
    return len(_header("Subject", _one_line(subject)).encode("ascii")) <= LINE_LIMIT


def _now() -> str:
    """RFC 5322 3.3 with a numeric zone (``+0000``), not the obsolete ``GMT``."""
    return format_datetime(datetime.now(timezone.utc))


def _lines_fit(raw_body: bytes) -> bool:
    return len(raw_body) <= LINE_LIMIT or max(map(len, raw_body.split(CRLF))) <= LINE_LIMIT


def _crlf(text: str) -> bytes:
    return CRLF.join(text.encode("utf-8").splitlines()) + CRLF  # as set_content does


def _transfer_encoding(text: str, raw: bytes, eight_bit: bool) -> str | None:
    """7bit or 8bit while the lines of ``raw`` (the text in CRLF lines) fit; else None:
    quoted-printable or base64, whichever is shorter, in lines of 76 (the library's choice)."""
    if not _lines_fit(raw):
        return None
    if text.isascii():
        return "7bit"
    return "8bit" if eight_bit else None


def _part_head(subtype: str, transfer_encoding: str) -> bytes:
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {transfer_encoding}\r\n\r\n").encode("ascii")


def _boundary(*parts: bytes) -> bytes:
    """``=_`` cannot occur in quoted-printable, and the rest is checked against the parts."""
    while True:
        boundary = f"=_{secrets.token_hex(12)}".encode("ascii")
        if not any(boundary in part for part in parts):
            return boundary


@dataclass(frozen=True)
class Letter:
    sender: str
    envelope_from: str
    domain: str  # of the Message-ID: the sender's own
    subject: Callable[[Recipient], str]
    body: Callable[[Recipient], str]
    footer: str
    unsubscribe_link: Callable[[int], str]
    html: message_html.HtmlVersion | None = None
    signer: DkimSigner | None = None  # signs every letter (its From domain is the DKIM domain)
    reply_to: str | None = None
    unsigned_because: str | None = None  # DKIM is configured, but not for this sender
    return_path: str | None = None  # MAIL_RETURN_PATH: each letter's envelope sender is its VERP

    def envelope_for(self, token: str | None) -> str:
        """The envelope sender of one letter: the return path with the letter's token in it
        (mailer/bounces/verp.py), so what comes back names the letter."""
        if token and self.return_path:
            return verp.address(self.return_path, token)
        return self.envelope_from

    def _message_id(self, token: str | None) -> str:
        """Carries the token too: a complaint quotes the letter's headers, not its envelope."""
        return make_msgid(idstring=token, domain=self.domain)

    @cached_property
    def from_value(self) -> str:
        name, address = parseaddr(self.sender)
        return _address_value("From", name, address)

    def for_client(self, client_id: int, email: str, full_name: str, eight_bit: bool = True,
                   personalised_for: Recipient | None = None, token: str | None = None) -> bytes:
        """The letter for one client; ``eight_bit``: the server takes 8BITMIME.

        ``personalised_for``: the client whose details fill the placeholders when the
        letter goes to someone else (a test letter to the owner). ``token``: the
        delivery's VERP token, put in the Message-ID."""
        recipient = personalised_for or Recipient(email=email, full_name=full_name)
        link = self.unsubscribe_link(client_id)
        name = _one_line(full_name)
        subject = _one_line(self.subject(recipient))
        body = self.text_for(recipient, link)
        html = self.html.render(recipient, subject, link) if self.html else None
        raw_body = _crlf(body)
        raw_html = _crlf(html) if html is not None else b""
        body_encoding = _transfer_encoding(body, raw_body, eight_bit)
        html_encoding = _transfer_encoding(html, raw_html, eight_bit) if html is not None else None
        if email.isascii() and "=?" not in name + subject + self.sender and body_encoding \
                and (html is None or html_encoding):
            head = "\r\n".join([
                f"From: {self.from_value}", *([f"Reply-To: {self.reply_to}"] if self.reply_to else []),
                f"To: {_address_value('To', name, email)}",
                _header("Subject", subject),
                f"Date: {_now()}", f"Message-ID: {self._message_id(token)}",
                f"List-Unsubscribe: <{link}>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                "MIME-Version: 1.0", ""])
            if all(len(line) <= LINE_LIMIT for line in head.split("\r\n")):
                if html is None:
                    return self._signed(head.encode("ascii") + _part_head("plain", body_encoding) + raw_body)
                boundary = _boundary(raw_body, raw_html)
                return self._signed(b"".join([
                    head.encode("ascii"),
                    b'Content-Type: multipart/alternative; boundary="', boundary, b'"\r\n\r\n',
                    b"--", boundary, CRLF, _part_head("plain", body_encoding), raw_body,
                    CRLF, b"--", boundary, CRLF, _part_head("html", html_encoding), raw_html,
                    CRLF, b"--", boundary, b"--", CRLF]))
        # Anything unusual (an international address, text that looks like an encoded
        # word, a line too long to send as it is, a 7-bit server) is left to the standard library.
        return self._signed(
            self.as_email_message(email, name, subject, body, link, eight_bit, html, token).as_bytes())

    def text_for(self, recipient: Recipient, link: str) -> str:
        """The text version: the message as written, with the footer and the unsubscribe link."""
        return f"{self.body(recipient).rstrip()}\n\n-- \n{self.footer}\n{link}\n"

    def _signed(self, letter: bytes) -> bytes:
        return self.signer.sign(letter) if self.signer else letter

    def as_email_message(self, email: str, name: str, subject: str, body: str, link: str,
                         eight_bit: bool = True, html: str | None = None,
                         token: str | None = None) -> EmailMessage:
        """The same letter built by the standard library (the reference for ``for_client``)."""
        base = _POLICY if email.isascii() else _UTF8_POLICY
        message = EmailMessage(policy=base.clone(cte_type="8bit" if eight_bit else "7bit"))
        if email.isascii():
            # The library's folding of RFC 2047 words can lose the space at a fold
            # ("конца недели" read back as "концанедели"): these are folded as the fast path does.
            message.set_raw("From", self.from_value)
            message.set_raw("To", _address_value("To", name, email))
            message.set_raw("Subject", _header("Subject", subject)[len("Subject: "):])
        else:  # UTF-8 headers (RFC 6532): no encoded words to fold
            message["From"] = self.sender
            local, _at, domain = email.rpartition("@")
            message["To"] = Address(display_name=name, username=local, domain=domain)
            message["Subject"] = subject
        if self.reply_to:
            message["Reply-To"] = self.reply_to
        message["Date"] = _now()
        message["Message-ID"] = self._message_id(token)
        message.set_raw("List-Unsubscribe", f"<{link}>")
        message.set_raw("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
        message.set_content(body, cte=_transfer_encoding(body, _crlf(body), eight_bit))
        if html is not None:
            message.add_alternative(html, subtype="html",
                                    cte=_transfer_encoding(html, _crlf(html), eight_bit))
        return message


def prepare(mailing: Mailing) -> Letter:
    """Compile the mailing's message; raises message_template.TemplateProblem."""
    return prepare_message(mailing.message, mailing.owner)


def prepare_message(message: Message, owner: User) -> Letter:
    """Compile ``message`` as ``owner`` sends it; raises message_template.TemplateProblem."""
    config = current_app.config
    sender = senders.from_header(owner, config)
    base_url = config["BASE_URL"]
    with current_app.test_request_context(base_url=base_url):
        link_pattern = base_url + url_for("unsubscribe.confirm", token=_TOKEN_SLOT)
    with force_locale(owner.language):
        footer = _("You receive this because you are on %(name)s's list. To unsubscribe:",
                   name=owner.full_name or owner.email)
        html = message_html.build(
            message.body, lang=owner.language,
            footer=_("You receive this because you are on %(name)s's list.",
                     name=owner.full_name or owner.email),
            unsubscribe_label=_("Unsubscribe"))

    def unsubscribe_link(client_id: int) -> str:
        return link_pattern.replace(_TOKEN_SLOT, tokens.make_token(tokens.UNSUBSCRIBE, client_id))

    sender_address = parseaddr(sender)[1]
    sender_domain = sender_address.rpartition("@")[2]
    signer = DkimSigner.from_config(config)
    unsigned_because = None
    if signer and not signer.signs_for(sender_domain):
        unsigned_because = (f"sent unsigned: the sender's domain {sender_domain or '(none)'} "
                            f"is not the DKIM domain {signer.domain}")
        signer = None
    return Letter(
        sender=sender,
        envelope_from=config.get("MAIL_RETURN_PATH") or sender_address,
        return_path=config.get("MAIL_RETURN_PATH"),
        domain=sender_domain or urlsplit(base_url).hostname or "localhost",
        subject=message_template.compile(message.subject),
        body=message_template.compile(message.body),
        footer=footer,
        unsubscribe_link=unsubscribe_link,
        html=html,
        signer=signer,
        unsigned_because=unsigned_because,
        reply_to=owner.reply_to,
    )
