"""One SMTP session for a whole run: one message per recipient over one connection.

Each send speaks MAIL / RCPT / DATA itself (rather than ``sendmail``) so the
server's own reply is kept for every recipient. What the server says decides
what happens:

- 2xx: sent.
- 5xx for a recipient or a message: that recipient failed; the run goes on.
- 4xx for a recipient or a message: a temporary refusal; the engine retries
  it once at the end of the run.
- A dropped, refused or timed-out connection, or 421 ("closing"): reconnect
  after the next back-off delay and send the same message again. When the
  delays are used up the server counts as unreachable: ``ServerUnavailable``.
- A reply that is not SMTP at all, or a 5xx to MAIL FROM or to the login
  (the server refuses us, not the recipient): ``ServerUnavailable`` at once.

Every network step has ``timeout`` seconds, so nothing waits for ever.

With a server that offers PIPELINING (RFC 2920: Postfix, Exim, every relay),
MAIL, RCPT and DATA go out together and their three replies are read in
order: two round trips a letter instead of four, the same replies kept.
"""
from __future__ import annotations

import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Callable

from mailer.delivery import reasons


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    timeout: float
    retry_delays: tuple[float, ...] = (5, 30, 120)
    use_tls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_config(cls, config) -> SmtpSettings:
        return cls(
            host=config["MAIL_SERVER"],
            port=int(config["MAIL_PORT"]),
            timeout=float(config["MAILING_SMTP_TIMEOUT"]),
            retry_delays=tuple(config["MAILING_RETRY_DELAYS"]),
            use_tls=bool(config["MAIL_USE_TLS"]),
            use_ssl=bool(config["MAIL_USE_SSL"]),
            username=config.get("MAIL_USERNAME"),
            password=config.get("MAIL_PASSWORD"),
        )


@dataclass(frozen=True)
class SendOutcome:
    """What became of one message to one recipient."""

    sent: bool
    code: int | None
    reply: str
    refused_by_us: bool = False  # never offered to the server: retrying cannot help

    @property
    def temporary(self) -> bool:
        return not self.sent and not self.refused_by_us and (
            self.code is None or 400 <= self.code < 500)


class ServerUnavailable(Exception):
    """The mail server cannot be used for this run; ``reason`` quotes what happened."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Reconnect(Exception):
    """The connection is unusable; try again on a new one."""


def reply_text(code: int, reply: bytes | str) -> str:
    """A server's reply on one line, with its code (``flask doctor`` shows replies so too)."""
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    reply = " ".join(reply.split())
    return f"{code} {reply}".strip() if code and code > 0 else reply


def _garbage(reply: bytes | str) -> ServerUnavailable:
    return ServerUnavailable(f"{reasons.NOT_SMTP}: {reply_text(0, reply)[:300]!r}")


@dataclass
class SmtpSession:
    settings: SmtpSettings
    sleep: Callable[[float], None] = time.sleep
    _connection: smtplib.SMTP | None = field(default=None, repr=False)

    # -- connection -------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            if s.use_ssl:
                connection = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                              context=ssl.create_default_context())
            else:
                connection = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except smtplib.SMTPConnectError as error:
            if error.smtp_code == -1:
                raise _garbage(error.smtp_error) from None
            raise _Reconnect(f"the server refused the connection: "
                             f"{reply_text(error.smtp_code, error.smtp_error)}") from None
        try:
            connection.ehlo_or_helo_if_needed()
            if s.use_tls:
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if s.username and s.password:
                connection.login(s.username, s.password)
        except smtplib.SMTPAuthenticationError as error:
            _close(connection)
            raise ServerUnavailable(f"{reasons.LOGIN_REFUSED}: "
                                    f"{reply_text(error.smtp_code, error.smtp_error)}") from None
        except smtplib.SMTPResponseException as error:
            _close(connection)
            if error.smtp_code == -1:
                raise _garbage(error.smtp_error) from None
            raise _Reconnect(reply_text(error.smtp_code, error.smtp_error)) from None
        except BaseException:
            _close(connection)
            raise
        return connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                pass
            _close(self._connection)
            self._connection = None

    def _drop(self) -> None:
        if self._connection is not None:
            _close(self._connection)
            self._connection = None

    # -- sending ----------------------------------------------------------

    def send(self, message: EmailMessage | bytes | Callable[[bool], bytes], sender: str,
             recipient: str) -> SendOutcome:
        """Send ``message`` to ``recipient`` alone; raises ServerUnavailable.

        A callable message is built for the server at hand: given True when it takes
        8-bit text (8BITMIME), False when the letter must be written in 7 bits.
        """
        built: dict[bool, bytes] = {}

        def payload_for(connection: smtplib.SMTP) -> bytes:
            if isinstance(message, bytes):
                return message
            if isinstance(message, EmailMessage):
                return message.as_bytes()
            eight_bit = bool(connection.has_extn("8bitmime"))
            if eight_bit not in built:
                built[eight_bit] = message(eight_bit)
            return built[eight_bit]

        failures = 0
        while True:
            try:
                if self._connection is None:
                    self._connection = self._connect()
                return self._transaction(self._connection, payload_for(self._connection), sender,
                                         recipient)
            except (_Reconnect, smtplib.SMTPServerDisconnected, OSError) as error:
                self._drop()
                reason = _describe(error)
                if failures >= len(self.settings.retry_delays):
                    raise ServerUnavailable(
                        f"{reasons.UNREACHABLE} after {failures + 1} tries: {reason}"
                    ) from None
                self.sleep(self.settings.retry_delays[failures])
                failures += 1

    def _transaction(self, connection: smtplib.SMTP, payload: bytes, sender: str,
                     recipient: str) -> SendOutcome:
        options = []
        if " " in recipient or not recipient.isprintable():  # any other space is unprintable
            # Saved addresses are validated; one that slipped into the database another way
            # must not smuggle SMTP commands onto the line.
            return SendOutcome(False, None, reasons.ADDRESS_UNSENDABLE, refused_by_us=True)
        if not recipient.isascii():
            if not connection.has_extn("smtputf8"):
                return SendOutcome(False, None, reasons.NO_SMTPUTF8, refused_by_us=True)
            options = ["SMTPUTF8"]
        if not payload.isascii() and connection.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")  # RFC 6152: say so before sending 8-bit text
        if connection.has_extn("pipelining") and "SMTPUTF8" not in options:
            return self._pipelined(connection, payload, sender, recipient, options)
        self._sender_taken(connection, *connection.mail(sender, options))
        code, reply = connection.rcpt(recipient)
        if code not in (250, 251):
            return self._refused(connection, code, reply)
        try:
            code, reply = connection.data(payload)
        except smtplib.SMTPDataError as error:  # DATA itself refused (no 354)
            code, reply = error.smtp_code, error.smtp_error
        return SendOutcome(True, code, reply_text(code, reply)) if code == 250 else \
            self._refused(connection, code, reply)

    def _pipelined(self, connection: smtplib.SMTP, payload: bytes, sender: str, recipient: str,
                   options: list[str]) -> SendOutcome:
        """MAIL, RCPT and DATA in one write (RFC 2920 3.1), each reply then taken as the
        one-by-one conversation takes it."""
        extra = "".join(f" {option}" for option in options)
        connection.send(f"mail FROM:{smtplib.quoteaddr(sender)}{extra}\r\n"
                        f"rcpt TO:{smtplib.quoteaddr(recipient)}\r\ndata\r\n")
        (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply) = (
            connection.getreply(), connection.getreply(), connection.getreply())
        if data_code == 354:
            # The message; or, from a server that took DATA after refusing the sender or the
            # recipient (RFC 2920 says it must not), an empty one it will refuse in turn.
            accepted = mail_code == 250 and rcpt_code in (250, 251)
            connection.send(_dot_stuffed(payload) if accepted else b".\r\n")
            data_code, data_reply = connection.getreply()
        for code, reply in ((mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, data_reply)):
            if code in (-1, 421):  # not SMTP, or closing: the connection is done for
                self._after_refusal(connection, code, reply)
        self._sender_taken(connection, mail_code, mail_reply)
        if rcpt_code not in (250, 251):
            return self._refused(connection, rcpt_code, rcpt_reply)
        return SendOutcome(True, data_code, reply_text(data_code, data_reply)) if data_code == 250 else \
            self._refused(connection, data_code, data_reply)

    def _sender_taken(self, connection: smtplib.SMTP, code: int, reply) -> None:
        """Raise unless the server took our sender address: a refusal is no one recipient's."""
        if code != 250:
            self._after_refusal(connection, code, reply)
            if 400 <= code < 500:
                raise _Reconnect(reply_text(code, reply))
            raise ServerUnavailable(f"{reasons.SENDER_REFUSED}: {reply_text(code, reply)}")

    def _refused(self, connection: smtplib.SMTP, code: int, reply) -> SendOutcome:
        self._after_refusal(connection, code, reply)
        return SendOutcome(False, code, reply_text(code, reply))

    def _after_refusal(self, connection: smtplib.SMTP, code: int, reply) -> None:
        """Garbage and 421 end the connection; anything else resets the transaction."""
        if code == -1:
            self._drop()
            raise _garbage(reply)
        if code == 421:
            raise _Reconnect(reply_text(code, reply))
        try:
            connection.rset()
        except (smtplib.SMTPException, OSError) as error:
            raise _Reconnect(_describe(error)) from None


_LINE_START_DOT = re.compile(rb"(?m)^\.")


def _dot_stuffed(payload: bytes) -> bytes:
    """The message as DATA carries it (RFC 5321 4.5.2), ended by the lone dot."""
    stuffed = _LINE_START_DOT.sub(b"..", payload)
    return stuffed + (b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n")


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer within the time limit"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if "timed out" in str(error):  # smtplib reports a read timeout as a disconnection
        return "no answer within the time limit"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"connection closed by the server ({error})" if str(error) else \
            "connection closed by the server"
    text = str(error) or type(error).__name__
    return text


def _close(connection: smtplib.SMTP) -> None:
    try:
        connection.close()
    except OSError:
        pass
