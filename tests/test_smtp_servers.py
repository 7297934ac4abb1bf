"""The test SMTP servers, driven with plain smtplib: what the sending engine will see.

smtplib.SMTP is the client the engine uses, so these tests pin down exactly which
exception (and smtp_code) each misbehaving server produces in Python's smtplib.
"""
from __future__ import annotations

import smtplib
import socket
import threading
import time
from email.message import EmailMessage

import pytest

from tests.smtp_servers import (
    HOST,
    DroppingSmtpServer,
    GarbageSmtpServer,
    RefusingSmtpServer,
    ScriptedSmtpServer,
    SlowSmtpServer,
    SmtpSink,
    closed_port,
)

TIMEOUT = 1.0


def message(to: str, subject: str = "Hello", body: str = "Hi there.\n.A line starting with a dot\n") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "sender@example.com"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def connect(server, timeout: float = TIMEOUT) -> smtplib.SMTP:
    return smtplib.SMTP(HOST, server.port, timeout=timeout)


# --- SmtpSink ---------------------------------------------------------------


def test_sink_keeps_its_interface():
    sink = SmtpSink()
    sink.start()
    try:
        client = connect(sink)
        client.send_message(message("a@example.com", subject="One"))
        client.send_message(message("b@example.com", subject="Two"))
        client.quit()

        assert [m.subject for m in sink.wait_for(2)] == ["One", "Two"]
        assert sink.to("b@example.com")[0].envelope_to == ["b@example.com"]
        assert sink.to("a@example.com")[0].body.startswith("Hi there.")
        assert sink.connections == 1
        sink.clear()
        assert sink.messages == []
    finally:
        sink.stop()


# --- ScriptedSmtpServer -------------------------------------------------------


def test_rcpt_550_refuses_that_recipient_and_the_connection_stays_usable():
    with ScriptedSmtpServer(rcpt_replies={"gone@example.com": "550 5.1.1 User unknown"}) as server:
        client = connect(server)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.send_message(message("gone@example.com"))
        assert refused.value.recipients == {"gone@example.com": (550, b"5.1.1 User unknown")}

        client.send_message(message("here@example.com"))
        client.quit()

    assert [m.envelope_to for m in server.messages] == [["here@example.com"]]
    assert server.rcpt_attempts["gone@example.com"] == 1
    assert server.rcpt_attempts["never@example.com"] == 0
    assert server.connections == 1


def test_rcpt_replies_list_gives_successive_replies():
    with ScriptedSmtpServer(rcpt_replies={"busy@example.com": ["451 4.3.0 Try again", "250 OK"]}) as server:
        client = connect(server)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.send_message(message("busy@example.com"))
        assert refused.value.recipients["busy@example.com"][0] == 451

        client.send_message(message("busy@example.com"))  # the retry goes through
        client.send_message(message("busy@example.com"))  # the last reply repeats
        client.quit()

    assert len(server.to("busy@example.com")) == 2
    assert server.rcpt_attempts["busy@example.com"] == 3


def test_data_554_raises_data_error_and_keeps_nothing():
    with ScriptedSmtpServer(data_replies={"spam@example.com": "554 5.7.1 Message rejected as spam"}) as server:
        client = connect(server)
        with pytest.raises(smtplib.SMTPDataError) as rejected:
            client.send_message(message("spam@example.com"))
        assert rejected.value.smtp_code == 554
        assert rejected.value.smtp_error == b"5.7.1 Message rejected as spam"

        client.send_message(message("ham@example.com"))
        client.quit()

    assert server.to("spam@example.com") == []
    assert len(server.to("ham@example.com")) == 1


def test_mail_421_raises_sender_refused_and_smtplib_hangs_up():
    with ScriptedSmtpServer(mail_reply="421 4.7.0 Too busy, closing") as server:
        client = connect(server)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(message("a@example.com"))
        assert refused.value.smtp_code == 421
        assert refused.value.sender == "sender@example.com"
        assert client.sock is None  # smtplib closes the connection itself on 421
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.send_message(message("a@example.com"))

    assert server.messages == []


def test_mail_530_raises_sender_refused_and_keeps_the_connection():
    with ScriptedSmtpServer(mail_reply="530 Authentication required") as server:
        client = connect(server)
        for _ in range(2):
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                client.send_message(message("a@example.com"))
            assert refused.value.smtp_code == 530
        assert client.noop()[0] == 250
        client.quit()

    assert server.connections == 1


# --- DroppingSmtpServer -------------------------------------------------------


def test_drop_after_messages_drops_mid_data_and_a_new_connection_works():
    with DroppingSmtpServer(drop_after_messages=2) as server:
        client = connect(server)
        client.send_message(message("1@example.com"))
        client.send_message(message("2@example.com"))
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.send_message(message("3@example.com"))
        assert client.sock is None

        client = connect(server)  # the engine reconnects
        client.send_message(message("3@example.com"))
        client.send_message(message("4@example.com"))
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.send_message(message("5@example.com"))
        client = connect(server)
        client.send_message(message("5@example.com"))
        client.quit()

    assert [m.envelope_to[0] for m in server.messages] == [f"{n}@example.com" for n in range(1, 6)]
    # dot-unstuffed, and CRLF kept in the body exactly as aiosmtpd (SmtpSink) keeps it
    assert server.messages[0].body == "Hi there.\r\n.A line starting with a dot\r\n"
    assert server.drops == 2
    assert server.dropped == [["3@example.com"], ["5@example.com"]]
    assert server.connections == 3


def test_drop_addresses_drops_only_the_first_time():
    with DroppingSmtpServer(drop_addresses={"flaky@example.com"}) as server:
        client = connect(server)
        client.send_message(message("before@example.com"))
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.send_message(message("flaky@example.com"))
        client = connect(server)
        client.send_message(message("flaky@example.com"))
        client.send_message(message("after@example.com"))
        client.quit()

    assert [m.envelope_to[0] for m in server.messages] == [
        "before@example.com", "flaky@example.com", "after@example.com"
    ]
    assert server.drops == 1
    assert server.connections == 2


def test_drop_during_a_large_message_is_also_a_disconnect():
    big = message("big@example.com", body="x" * 2_000_000)
    with DroppingSmtpServer(drop_after_messages=0) as server:
        client = connect(server)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.send_message(big)
    assert server.messages == []
    assert server.drops == 1


# --- GarbageSmtpServer ----------------------------------------------------------


@pytest.mark.parametrize(
    "stage, error",
    [
        ("ehlo", smtplib.SMTPHeloError),
        ("mail", smtplib.SMTPSenderRefused),
        ("data", smtplib.SMTPDataError),
        ("data_end", smtplib.SMTPDataError),
    ],
)
def test_garbage_reads_as_code_minus_one(stage, error):
    with GarbageSmtpServer(stage=stage) as server:
        client = connect(server)
        started = time.monotonic()
        with pytest.raises(error) as raised:
            client.send_message(message("a@example.com"))
        assert type(raised.value) is error
        assert raised.value.smtp_code == -1
        assert time.monotonic() - started < 0.5  # at once, no timeout involved
        client.close()
    assert server.messages == []
    assert server.garbage_sent >= 1


def test_garbage_at_rcpt_refuses_the_recipient_with_minus_one():
    with GarbageSmtpServer(stage="rcpt", garbage="what is this") as server:
        client = connect(server)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.send_message(message("a@example.com"))
        assert refused.value.recipients["a@example.com"][0] == -1
        client.close()


def test_garbage_greeting_is_a_connect_error_minus_one():
    with GarbageSmtpServer(stage="greeting") as server:
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            connect(server)
        assert refused.value.smtp_code == -1
        assert server.connections == 1


def test_garbage_inside_a_with_block_surfaces_from_quit_as_response_exception():
    # SMTP.__exit__ sends QUIT, gets garbage too, and raises its own
    # SMTPResponseException(-1), hiding the SMTPSenderRefused (kept as __context__).
    with GarbageSmtpServer(stage="mail") as server:
        with pytest.raises(smtplib.SMTPResponseException) as raised:
            with connect(server) as client:
                client.send_message(message("a@example.com"))
        assert type(raised.value) is smtplib.SMTPResponseException
        assert raised.value.smtp_code == -1
        assert isinstance(raised.value.__context__, smtplib.SMTPSenderRefused)


# --- SlowSmtpServer -------------------------------------------------------------


@pytest.mark.parametrize("stage", ["greeting", "rcpt", "data_end"])
def test_slow_reply_times_out_as_server_disconnected(stage):
    with SlowSmtpServer(delay=5, stage=stage) as server:
        started = time.monotonic()
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            client = connect(server, timeout=0.3)
            client.send_message(message("a@example.com"))
        assert 0.25 < time.monotonic() - started < 1.5
    assert server.messages == []
    assert server.slowed == 1


def test_slow_replies_limit_lets_the_retry_through():
    with SlowSmtpServer(delay=5, stage="rcpt", slow_replies=1) as server:
        client = connect(server, timeout=0.3)
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.send_message(message("a@example.com"))
        client = connect(server, timeout=0.3)
        client.send_message(message("a@example.com"))
        client.quit()
    assert len(server.to("a@example.com")) == 1
    assert server.connections == 2


# --- RefusingSmtpServer and closed_port ---------------------------------------------


@pytest.mark.parametrize(
    "reply, code",
    [("421 4.3.2 Service not available", 421), ("554 No SMTP service here", 554)],
)
def test_refusing_server_is_a_connect_error(reply, code):
    with RefusingSmtpServer(reply) as server:
        for _ in range(2):
            with pytest.raises(smtplib.SMTPConnectError) as refused:
                connect(server)
            assert refused.value.smtp_code == code
    assert server.connections == 2


def test_closed_port_refuses_the_connection():
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(HOST, closed_port(), timeout=TIMEOUT)


# --- clean shutdown ---------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: ScriptedSmtpServer(),
        lambda: DroppingSmtpServer(drop_after_messages=1),
        lambda: GarbageSmtpServer(stage="rcpt"),
        lambda: SlowSmtpServer(delay=30, stage="mail"),
        lambda: RefusingSmtpServer(),
    ],
)
def test_servers_stop_at_once_with_clients_still_connected(make):
    before = set(threading.enumerate())
    server = make()
    with server:
        raw = socket.create_connection((HOST, server.port), timeout=TIMEOUT)
        raw.recv(1024)
        raw.sendall(b"EHLO me\r\nMAIL FROM:<a@example.com>\r\n")
        time.sleep(0.05)
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    raw.close()
    with pytest.raises(OSError):
        socket.create_connection((HOST, server.port), timeout=TIMEOUT)
    time.sleep(0.05)
    assert {t for t in threading.enumerate() if t.is_alive()} <= before
