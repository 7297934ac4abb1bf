"""Real SMTP servers on loopback for the tests: a catching sink, and misbehaving ones.

Every server listens on 127.0.0.1, exposes ``.port`` and is a context manager
(``with X(...) as server:``) that starts on enter and stops on exit; all threads
are daemon threads and every socket is closed on exit, so nothing outlives a test.

What Python 3.11's ``smtplib`` raises against each fault is noted in the
servers' docstrings and shown by ``tests/test_smtp_servers.py``.
"""
from __future__ import annotations

import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as AioSMTP

from tests.mail_servers import ReadsAsLetter

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# Sockets bound but never listening: their ports refuse connections and no one
# else (free_port() included) can be given them while the test process lives.
_RESERVED_CLOSED: list[socket.socket] = []


def closed_port() -> int:
    """A loopback port with nothing listening: connecting gets ConnectionRefusedError."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    _RESERVED_CLOSED.append(sock)
    return sock.getsockname()[1]


@dataclass
class CaughtMessage(ReadsAsLetter):
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage
    raw: bytes = b""  # as it came over the wire
    mail_options: list[str] = field(default_factory=list)  # MAIL FROM parameters, e.g. BODY=8BITMIME


    def links(self) -> list[str]:
        return re.findall(r"https?://\S+", self.body)


def _parse(envelope_from: str, envelope_to: list[str], data: bytes,
           mail_options: list[str] = ()) -> CaughtMessage:
    return CaughtMessage(envelope_from, list(envelope_to), message_from_bytes(data, policy=policy.default),
                         data, list(mail_options))


def _is_positive(reply: str) -> bool:
    return reply[:1] == "2"


class _Recorder:
    """Accepted messages and connection count, safe to read from the test's thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[CaughtMessage] = []
        self.connections = 0

    def _record(self, caught: CaughtMessage) -> None:
        with self.lock:
            self.messages.append(caught)

    def _count_connection(self) -> None:
        with self.lock:
            self.connections += 1

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[CaughtMessage]:
        with self.lock:
            return [m for m in self.messages if address in m.envelope_to]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[CaughtMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        with self.lock:
            return list(self.messages)


# --------------------------------------------------------------------------
# aiosmtpd-based: the catching sink and the scripted one
# --------------------------------------------------------------------------


class _ScriptedHandler:
    def __init__(self, owner: "ScriptedSmtpServer"):
        self.owner = owner

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.owner.pipelining:  # aiosmtpd reads commands one by one, pipelined or not
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self.owner.mail_reply or "250 OK"
        if _is_positive(reply):
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
        return reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.owner._next_rcpt_reply(address)
        if _is_positive(reply):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return reply

    async def handle_DATA(self, server, session, envelope):
        reply = "250 OK"
        for address in envelope.rcpt_tos:
            if address in self.owner.data_replies:
                reply = self.owner.data_replies[address]
                break
        if _is_positive(reply):
            self.owner._record(_parse(envelope.mail_from, envelope.rcpt_tos, envelope.original_content,
                                      envelope.mail_options))
        return reply


class _CountingSMTP(AioSMTP):
    def __init__(self, owner: _Recorder, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._owner = owner

    def connection_made(self, transport) -> None:
        self._owner._count_connection()
        super().connection_made(transport)


class _CountingController(Controller):
    def __init__(self, owner: _Recorder, handler, **kwargs):
        self._owner = owner
        super().__init__(handler, **kwargs)

    def factory(self):
        return _CountingSMTP(self._owner, self.handler, **self.SMTP_kwargs)


class ScriptedSmtpServer(_Recorder):
    """An aiosmtpd server that answers MAIL, RCPT and end-of-DATA as scripted.

    ``rcpt_replies``: address -> reply to its RCPT TO; a list gives the replies to
    successive tries (the last one repeats once the list is used up), e.g.
    ``["451 4.3.0 Try again", "250 OK"]``. Unlisted addresses get "250 OK".
    ``data_replies``: address -> reply at the end of DATA of a message to it.
    ``mail_reply``: reply to every MAIL FROM (None: "250 OK").
    ``smtputf8``: whether EHLO offers SMTPUTF8 (international addresses);
    ``pipelining``: whether it offers PIPELINING (RFC 2920). Any 2xx reply accepts; the rest reject. Accepted messages are kept in
    ``.messages``; ``.connections`` counts TCP connections, ``.rcpt_attempts[addr]``
    RCPT TOs per address (a Counter: 0 for addresses never tried).

    smtplib (3.11): RCPT 5xx/4xx -> SMTPRecipientsRefused({addr: (code, msg)});
    DATA reject -> SMTPDataError(code); MAIL reject -> SMTPSenderRefused(code)
    (on 421 smtplib closes the connection itself).
    """

    def __init__(
        self,
        rcpt_replies: dict[str, str | list[str]] | None = None,
        data_replies: dict[str, str] | None = None,
        mail_reply: str | None = None,
        smtputf8: bool = True,
        pipelining: bool = False,
    ) -> None:
        super().__init__()
        self.pipelining = pipelining
        self.rcpt_replies = {
            address: [reply] if isinstance(reply, str) else list(reply)
            for address, reply in (rcpt_replies or {}).items()
        }
        self.data_replies = dict(data_replies or {})
        self.mail_reply = mail_reply
        self.rcpt_attempts: Counter[str] = Counter()
        self.port = free_port()
        self.controller = _CountingController(self, _ScriptedHandler(self), hostname=HOST, port=self.port,
                                              enable_SMTPUTF8=smtputf8)

    def _next_rcpt_reply(self, address: str) -> str:
        with self.lock:
            tries = self.rcpt_attempts[address]
            self.rcpt_attempts[address] += 1
        replies = self.rcpt_replies.get(address)
        if not replies:
            return "250 OK"
        return replies[min(tries, len(replies) - 1)]

    def start(self) -> None:
        self.controller.start()
        # Controller.start() opens one connection of its own to check the server is up.
        with self.lock:
            self.connections = 0

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class SmtpSink(ScriptedSmtpServer):
    """An aiosmtpd server that keeps every message it receives."""

    def __init__(self) -> None:
        super().__init__()


# --------------------------------------------------------------------------
# Raw-socket servers: misbehaviour aiosmtpd will not do
# --------------------------------------------------------------------------


class _Session:
    def __init__(self) -> None:
        self.accepted = 0  # messages accepted on this connection
        self.garbled = False
        self.reset()

    def reset(self) -> None:
        self.mail_from: str | None = None
        self.rcpt_tos: list[str] = []


_ADDRESS_RE = re.compile(r"<([^>]*)>")
_EHLO_REPLY = "250-127.0.0.1 Hello\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 HELP"


def _address(arg: str) -> str:
    match = _ADDRESS_RE.search(arg)
    return match.group(1) if match else arg.split(":", 1)[-1].strip()


class _RawSmtpServer(_Recorder):
    """A threaded plain-socket SMTP server; subclasses bend ``_respond``/``_drop_data``.

    ``pipelining``: EHLO offers PIPELINING (RFC 2920); commands are read one line at a
    time either way, so a client may send several at once."""

    banner = "220 127.0.0.1 ESMTP test server"
    ehlo_reply = _EHLO_REPLY

    def __init__(self, pipelining: bool = False) -> None:
        super().__init__()
        if pipelining:
            first, _crlf, rest = self.ehlo_reply.partition("\r\n")
            self.ehlo_reply = f"{first}\r\n250-PIPELINING\r\n{rest}"
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    # lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self._acceptor.start()

    def stop(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=1)
        self._listener.close()
        with self.lock:
            conns, self._open = list(self._open), set()
            threads = list(self._threads)
        for conn in conns:
            _hang_up(conn)
        for thread in threads:
            thread.join(timeout=1)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            with self.lock:
                self.connections += 1
                self._open.add(conn)
                self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            self._serve(conn, reader)
        except (OSError, ValueError):
            pass  # the client or stop() hung up
        finally:
            reader.close()
            with self.lock:
                self._open.discard(conn)
            _hang_up(conn)

    # the dialogue ----------------------------------------------------------

    def _send(self, conn: socket.socket, text: str) -> None:
        conn.sendall(text.encode() + b"\r\n")

    def _respond(self, conn: socket.socket, session: _Session, stage: str, reply: str) -> bool:
        """Answer at ``stage``; False when the normal reply was not sent."""
        self._send(conn, reply)
        return True

    def _drop_data(self, session: _Session) -> bool:
        """Whether to hang up in the middle of this message's DATA."""
        return False

    def _accepts(self, data: bytes) -> bool:
        return True

    def _serve(self, conn: socket.socket, reader) -> None:
        session = _Session()
        self._respond(conn, session, "greeting", self.banner)
        while not self._stopping.is_set():
            line = reader.readline()
            if not line:
                return
            verb, _, arg = line.decode("utf-8", "replace").strip().partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                self._respond(conn, session, "ehlo", self.ehlo_reply)
            elif verb == "HELO":
                self._respond(conn, session, "ehlo", "250 127.0.0.1")
            elif verb == "MAIL":
                session.reset()
                session.mail_from = _address(arg)
                self._respond(conn, session, "mail", "250 OK")
            elif verb == "RCPT":
                if session.mail_from is None:
                    self._send(conn, "503 5.5.1 Error: need MAIL command")
                    continue
                session.rcpt_tos.append(_address(arg))
                self._respond(conn, session, "rcpt", "250 OK")
            elif verb == "DATA":
                if not session.rcpt_tos:
                    self._send(conn, "503 5.5.1 Error: need RCPT command")
                    continue
                if not self._respond(conn, session, "data", "354 End data with <CR><LF>.<CR><LF>"):
                    continue
                if self._drop_data(session):
                    reader.readline()  # some of the message has arrived: now hang up
                    return
                data = self._read_data(reader)
                if data is None:
                    return
                if not self._accepts(data):
                    self._send(conn, "554 5.6.1 8-bit data is not accepted here")
                elif self._respond(conn, session, "data_end", "250 OK: queued"):
                    self._record(_parse(session.mail_from or "", session.rcpt_tos, data))
                    session.accepted += 1
                session.reset()
            elif verb == "RSET":
                session.reset()
                self._respond(conn, session, "rset", "250 OK")
            elif verb == "NOOP":
                self._respond(conn, session, "noop", "250 OK")
            elif verb == "QUIT":
                self._respond(conn, session, "quit", "221 Bye")
                return
            else:
                self._respond(conn, session, "other", "502 5.5.2 Error: command not recognized")

    @staticmethod
    def _read_data(reader) -> bytes | None:
        lines = []
        while True:
            line = reader.readline()
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)


def _hang_up(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()


class SevenBitSmtpServer(_RawSmtpServer):
    """An old-style server: no 8BITMIME (RFC 6152) in its EHLO, and 8-bit data refused."""

    ehlo_reply = "250-127.0.0.1 Hello\r\n250 HELP"

    def _accepts(self, data: bytes) -> bool:
        return data.isascii()


class BatchingSmtpServer(_RawSmtpServer):
    """Offers PIPELINING and answers MAIL and RCPT only once DATA has arrived, all three
    replies together (RFC 2920 3.2 lets a server hold replies so). A client that waits for
    each reply before its next command waits until its timeout; one that pipelines goes
    through."""

    def __init__(self) -> None:
        super().__init__(pipelining=True)

    def _respond(self, conn, session, stage, reply) -> bool:
        held = session.__dict__.setdefault("held", [])
        if stage in ("mail", "rcpt"):
            held.append(reply)
            return True
        self._send(conn, "\r\n".join([*held, reply]))
        held.clear()
        return True


class DroppingSmtpServer(_RawSmtpServer):
    """Accepts mail, but hangs up in the middle of DATA for some messages.

    ``drop_after_messages=n``: on every connection, n messages are accepted and
    the connection is dropped during the DATA of the next one (so a client that
    reconnects gets n more through). ``drop_addresses``: drop during the DATA of
    a message to one of these, the first time per address only (the retry is
    accepted). Dropped messages are not recorded; ``.drops`` counts the drops,
    ``.dropped`` lists the recipients of each dropped message.

    smtplib (3.11): send_message/sendmail raise SMTPServerDisconnected
    ("Connection unexpectedly closed") and close the client; a new SMTP() works.
    """

    def __init__(self, drop_after_messages: int | None = None, drop_addresses: set[str] | None = None,
                 pipelining: bool = False) -> None:
        super().__init__(pipelining)
        self.drop_after_messages = drop_after_messages
        self.drop_addresses = set(drop_addresses or ())
        self._dropped_addresses: set[str] = set()
        self.drops = 0
        self.dropped: list[list[str]] = []

    def _drop_data(self, session: _Session) -> bool:
        with self.lock:
            drop = self.drop_after_messages is not None and session.accepted >= self.drop_after_messages
            first_time = (set(session.rcpt_tos) & self.drop_addresses) - self._dropped_addresses
            if first_time:
                self._dropped_addresses |= first_time
                drop = True
            if drop:
                self.drops += 1
                self.dropped.append(list(session.rcpt_tos))
        return drop


GARBAGE_STAGES = ("greeting", "ehlo", "mail", "rcpt", "data", "data_end")


class GarbageSmtpServer(_RawSmtpServer):
    """Speaks SMTP until ``stage``, then answers that and every later command with
    ``garbage`` (not an SMTP reply) and keeps the connection open.

    Stages: "greeting" (instead of the 220), "ehlo", "mail", "rcpt", "data" (the
    DATA command), "data_end" (after the message). smtplib (3.11) reads such a
    line as reply code -1 and raises, at once: greeting -> SMTPConnectError(-1),
    ehlo -> SMTPHeloError(-1), mail -> SMTPSenderRefused(-1),
    rcpt -> SMTPRecipientsRefused({addr: (-1, ...)}), data/data_end -> SMTPDataError(-1).
    """

    def __init__(self, stage: str = "mail", garbage: str = "HELLO?? this is not smtp",
                 pipelining: bool = False) -> None:
        if stage not in GARBAGE_STAGES:
            raise ValueError(f"stage must be one of {GARBAGE_STAGES}")
        super().__init__(pipelining)
        self.stage = stage
        self.garbage = garbage.rstrip("\r\n")
        self.garbage_sent = 0

    def _respond(self, conn, session, stage, reply) -> bool:
        if stage == self.stage:
            session.garbled = True
        if not session.garbled:
            return super()._respond(conn, session, stage, reply)
        with self.lock:
            self.garbage_sent += 1
        self._send(conn, self.garbage)
        return False


SLOW_STAGES = ("greeting", "ehlo", "mail", "rcpt", "data", "data_end")


class SlowSmtpServer(_RawSmtpServer):
    """A normal server that waits ``delay`` seconds before its reply at ``stage``
    ("greeting", "ehlo", "mail", "rcpt", "data", "data_end").

    ``slow_replies``: how many replies at that stage are delayed, over all
    connections (None: every one), so a retry can find the server healthy.
    ``.slowed`` counts the delayed replies.

    smtplib (3.11) with timeout < delay: its reply read times out and it raises
    SMTPServerDisconnected("Connection unexpectedly closed: timed out") - not
    TimeoutError, because SMTP.getreply() turns every OSError into that - and
    closes the client. Stopping the server cuts any wait short.
    """

    def __init__(self, delay: float = 2.0, stage: str = "greeting", slow_replies: int | None = None,
                 pipelining: bool = False) -> None:
        if stage not in SLOW_STAGES:
            raise ValueError(f"stage must be one of {SLOW_STAGES}")
        super().__init__(pipelining)
        self.delay = delay
        self.stage = stage
        self.slow_replies = slow_replies
        self.slowed = 0

    def _respond(self, conn, session, stage, reply) -> bool:
        if stage == self.stage:
            with self.lock:
                slow = self.slow_replies is None or self.slowed < self.slow_replies
                if slow:
                    self.slowed += 1
            if slow and self._stopping.wait(self.delay):
                raise OSError("server stopped")
        return super()._respond(conn, session, stage, reply)


class RefusingSmtpServer(_RawSmtpServer):
    """Greets every connection with ``reply`` (a refusal) and hangs up.

    smtplib (3.11): SMTP(host, port) raises SMTPConnectError(code) with the code
    of ``reply`` (421 by default, 554 for "554 No SMTP service here").
    """

    def __init__(self, reply: str = "421 4.3.2 Service not available") -> None:
        super().__init__()
        self.reply = reply

    def _serve(self, conn, reader) -> None:
        self._send(conn, self.reply)


class SilentSmtpServer:
    """Accepts TCP connections and never says a word: a hung mail server."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def __enter__(self) -> "SilentSmtpServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()
