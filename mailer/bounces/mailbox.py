"""The bounce mailbox over IMAP or POP3, for ``flask bounces fetch``.

A run logs in, lists what is there, and hands each message it has not seen
before to ``intake.take``. A message is removed (moved to
``BOUNCE_MAILBOX_DONE_FOLDER`` over IMAP, else deleted) only after its bounce is
committed; anything else (an auto-reply, a stranger's mail, a bounce that names
no letter of ours) stays where it was, and its place in the mailbox
(IMAP UIDVALIDITY:UID, POP3 UIDL) is remembered so the next run skips it.
IMAP messages are read with BODY.PEEK, so not even their \\Seen flag changes.
Every network step has ``BOUNCE_MAILBOX_TIMEOUT`` seconds.
"""
from __future__ import annotations

import imaplib
import poplib
import re
import socket
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Protocol

_DEFAULT_PORTS = {("imap", True): 993, ("imap", False): 143, ("pop3", True): 995, ("pop3", False): 110}
NETWORK_ERRORS = (OSError, imaplib.IMAP4.error, poplib.error_proto, ssl.SSLError, EOFError)


class MailboxError(Exception):
    """The mailbox cannot be read this time; the message says why, in one line."""


@dataclass(frozen=True)
class MailboxSettings:
    protocol: str
    host: str
    port: int
    security: str
    user: str
    password: str
    folder: str = "INBOX"
    done_folder: str | None = None
    timeout: float = 30

    @classmethod
    def from_config(cls, config) -> MailboxSettings:
        protocol, security = config["BOUNCE_MAILBOX_PROTOCOL"], config["BOUNCE_MAILBOX_SECURITY"]
        return cls(protocol=protocol, host=config["BOUNCE_MAILBOX_HOST"],
                   port=config["BOUNCE_MAILBOX_PORT"] or _DEFAULT_PORTS[protocol, security == "ssl"],
                   security=security, user=config["BOUNCE_MAILBOX_USER"],
                   password=config["BOUNCE_MAILBOX_PASSWORD"],
                   folder=config["BOUNCE_MAILBOX_FOLDER"],
                   done_folder=config["BOUNCE_MAILBOX_DONE_FOLDER"],
                   timeout=config["BOUNCE_MAILBOX_TIMEOUT"])

    @property
    def where(self) -> str:
        return f"{self.protocol} {self.user}@{self.host}:{self.port}"


class Mailbox(Protocol):
    def keys(self) -> list[str]: ...
    def read(self, key: str) -> bytes: ...
    def let_go(self, key: str) -> None: ...


@contextmanager
def opened(settings: MailboxSettings) -> Iterator[Mailbox]:
    """The mailbox, logged in; MailboxError, with what went wrong, if it cannot be."""
    try:
        if settings.protocol == "pop3":
            with _pop3(settings) as mailbox:
                yield mailbox
        else:
            with _imap(settings) as mailbox:
                yield mailbox
    except MailboxError as error:
        raise MailboxError(f"{settings.where}: {error}") from None
    except (socket.timeout, TimeoutError):
        raise MailboxError(f"{settings.where}: no answer within {settings.timeout:g} s") from None
    except NETWORK_ERRORS as error:
        raise MailboxError(f"{settings.where}: {_describe(error)}") from None


# --- IMAP ---------------------------------------------------------------------------------

class _Imap:
    def __init__(self, connection: imaplib.IMAP4, settings: MailboxSettings) -> None:
        self.connection, self.settings = connection, settings
        self.validity = ""
        self.moves = settings.done_folder is not None

    def select(self) -> None:
        _ok(self.connection.select(_quoted(self.settings.folder)), "cannot open the folder")
        validity = self.connection.response("UIDVALIDITY")[1]
        self.validity = validity[0].decode() if validity and validity[0] else "0"
        if self.moves:
            self.connection.create(_quoted(self.settings.done_folder))  # fails if it exists: fine

    def keys(self) -> list[str]:
        data = _ok(self.connection.uid("SEARCH", "UNDELETED"), "cannot list the messages")
        uids = data[0].split() if data and data[0] else []
        return [f"imap:{self.validity}:{uid.decode()}" for uid in uids]

    def read(self, key: str) -> bytes:
        data = _ok(self.connection.uid("FETCH", _uid(key), "(BODY.PEEK[])"), "cannot read a message")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                return item[1]
        return b""

    def let_go(self, key: str) -> None:
        uid = _uid(key)
        if self.moves and b"MOVE" in self._capabilities():
            _ok(self.connection.uid("MOVE", uid, _quoted(self.settings.done_folder)), "cannot move")
            return
        if self.moves:
            _ok(self.connection.uid("COPY", uid, _quoted(self.settings.done_folder)), "cannot copy")
        _ok(self.connection.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), "cannot delete")
        if b"UIDPLUS" in self._capabilities():
            _ok(self.connection.uid("EXPUNGE", uid), "cannot expunge")
        # Without UIDPLUS, CLOSE at the end expunges: only what this run flagged, in a
        # mailbox kept for bounces.

    def _capabilities(self) -> bytes:
        return b" ".join(item if isinstance(item, bytes) else str(item).encode()
                         for item in self.connection.capabilities)


@contextmanager
def _imap(settings: MailboxSettings) -> Iterator[_Imap]:
    if settings.security == "ssl":
        connection = imaplib.IMAP4_SSL(settings.host, settings.port, timeout=settings.timeout,
                                       ssl_context=ssl.create_default_context())
    else:
        connection = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            connection.starttls(ssl.create_default_context())
        _login(lambda: connection.login(settings.user, settings.password))
        mailbox = _Imap(connection, settings)
        mailbox.select()
        yield mailbox
        connection.close()
        connection.logout()
    finally:
        try:
            connection.shutdown()
        except OSError:
            pass


def _uid(key: str) -> str:
    return key.rsplit(":", 1)[1]


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(reply, what: str):
    status, data = reply
    if status != "OK":
        detail = b" ".join(part for part in data if isinstance(part, bytes)).decode("utf-8", "replace")
        raise imaplib.IMAP4.error(f"{what}: {detail}".strip())
    return data


# --- POP3 ---------------------------------------------------------------------------------

class _Pop3:
    def __init__(self, connection: poplib.POP3) -> None:
        self.connection = connection
        self.numbers: dict[str, bytes] = {}

    def keys(self) -> list[str]:
        _response, listing, _size = self.connection.uidl()
        for line in listing:
            number, uidl = line.split(None, 1)
            self.numbers[f"pop3:{uidl.decode('ascii', 'replace')}"] = number
        return list(self.numbers)

    def read(self, key: str) -> bytes:
        _response, lines, _size = self.connection.retr(int(self.numbers[key]))
        return b"\r\n".join(lines) + b"\r\n"

    def let_go(self, key: str) -> None:
        self.connection.dele(int(self.numbers[key]))


@contextmanager
def _pop3(settings: MailboxSettings) -> Iterator[_Pop3]:
    if settings.security == "ssl":
        connection = poplib.POP3_SSL(settings.host, settings.port, timeout=settings.timeout,
                                     context=ssl.create_default_context())
    else:
        connection = poplib.POP3(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            connection.stls(ssl.create_default_context())
        connection.user(settings.user)
        _login(lambda: connection.pass_(settings.password))
        yield _Pop3(connection)
        connection.quit()  # deletions take effect here, and only here
    finally:
        try:
            connection.close()
        except OSError:
            pass


# --- both ---------------------------------------------------------------------------------

def _login(log_in) -> None:
    try:
        log_in()
    except (imaplib.IMAP4.error, poplib.error_proto) as error:
        raise MailboxError(f"login refused: {_describe(error)}") from None


def _describe(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, MailboxError):
        return str(error)
    text = error.args[0] if error.args else type(error).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return re.sub(r"\s+", " ", str(text)).strip() or type(error).__name__
