"""The real mail servers of tests/mail_servers.py, driven with plain smtplib.

What each does with the faults that matter to us:

- bare <LF> line ending: Postfix refuses the message (550 5.5.2 "bare <LF>
  received"); Exim 4.96 accepts it, but the lone LF does not end a line in
  what it stores (Debian's 4.96-15+deb12u11 keeps a space in its place).
- a line over 998 octets: both refuse it with 550, by our configuration
  (Postfix's header/body checks, Exim's DATA ACL); stock, both accept it and
  store it whole.
"""
from __future__ import annotations

import smtplib
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.mail_servers import (
    EXIM_BINARY,
    HOST,
    EximServer,
    PostfixServer,
    processes_mentioning,
)
from tests.provision import exim_problem, postfix_problem

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SENDER = "sender@example.org"


@pytest.fixture(params=["postfix_server", "exim_server"])
def server(request):
    """Each of the two real servers in turn."""
    return request.getfixturevalue(request.param)


def letter(to: str = "reader@example.com", subject: str = "Hello",
           body: str = "Hi there.\n") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def send_raw(port: int, data: bytes, to: str = "reader@example.com") -> None:
    """Send ``data`` as given: smtplib only doubles leading dots and adds CRLF.CRLF."""
    with smtplib.SMTP(HOST, port, timeout=10) as client:
        client.sendmail(SENDER, [to], data)


def refusal(port: int, data: bytes) -> smtplib.SMTPDataError:
    with pytest.raises(smtplib.SMTPDataError) as caught:
        send_raw(port, data)
    return caught.value


def assert_only_marker_follows(server) -> None:
    """Nothing else got in: a marker message sent after the fault arrives alone."""
    with smtplib.SMTP(HOST, server.port, timeout=10) as client:
        client.send_message(letter(subject="marker"))
    assert [m.subject for m in server.wait_for(1)] == ["marker"]


# --- receiving ------------------------------------------------------------------

def test_postfix_delivers_a_copy_per_recipient_into_its_maildir(postfix_server):
    with smtplib.SMTP(HOST, postfix_server.port, timeout=10) as client:
        client.send_message(letter(to="a@example.com, b@example.net"))

    received = postfix_server.wait_for(2)

    assert sorted(m.envelope_to[0] for m in received) == ["a@example.com", "b@example.net"]
    first = received[0]
    assert first.envelope_from == SENDER
    assert first.subject == "Hello" and first.body == "Hi there.\n"
    assert first.raw.startswith(b"Return-Path: <sender@example.org>\nX-Original-To: ")
    assert first.message["Message-Id"] is None, "headers are stored as sent: none added"


def test_exim_keeps_the_message_in_its_spool(exim_server):
    with smtplib.SMTP(HOST, exim_server.port, timeout=10) as client:
        client.send_message(letter(to="a@example.com, b@example.net"))

    [received] = exim_server.wait_for(1)

    assert received.envelope_from == SENDER
    assert received.envelope_to == ["a@example.com", "b@example.net"]
    assert received.subject == "Hello" and received.body == "Hi there.\n"
    assert received.raw.startswith(b"Received: from ")
    shown = subprocess.run([str(EXIM_BINARY), "-C", str(exim_server.config_file), "-Mvc",
                            received.id], capture_output=True, check=True)
    assert received.raw == shown.stdout, "read from the spool as exim -Mvc prints it"


def test_both_advertise_8bitmime_and_smtputf8_and_take_an_international_letter(server):
    recipient = "читатель@пример.рф"
    msg = letter(to=recipient, subject="Привет 👋", body="Строка в UTF-8.\n")
    with smtplib.SMTP(HOST, server.port, timeout=10) as client:
        client.ehlo()
        assert {"8bitmime", "smtputf8"} <= set(client.esmtp_features)
        client.send_message(msg, mail_options=["SMTPUTF8", "BODY=8BITMIME"])

    [received] = server.wait_for(1)

    assert received.envelope_to == [recipient]
    assert received.subject == "Привет 👋"
    assert received.body == "Строка в UTF-8.\n"


def test_clear_forgets_what_was_received(server):
    send_raw(server.port, b"Subject: one\r\n\r\nbody\r\n")
    server.wait_for(1)

    server.clear()

    assert server.messages() == []


def test_wait_for_tells_from_the_log_why_nothing_came(server):
    refusal(server.port, b"Subject: long\r\n\r\n" + b"x" * 1200 + b"\r\n")

    with pytest.raises(AssertionError, match="has 0 messages, not 1") as caught:
        server.wait_for(1, timeout=0.2)
    assert "line longer than 998 octets" in str(caught.value)


# --- strictness -------------------------------------------------------------------

def test_postfix_refuses_a_bare_line_feed(postfix_server):
    error = refusal(postfix_server.port, b"Subject: smuggled\r\n\r\nfirst line\nsecond line\r\n")

    assert error.smtp_code == 550
    assert b"bare <LF> received" in error.smtp_error
    assert_only_marker_follows(postfix_server)


def test_postfix_with_bare_newline_yes_only_normalizes():
    """Postfix 3.7.11's ``yes`` is ``normalize``: the bare LF is taken as a line end."""
    with PostfixServer(bare_newline="yes") as lenient:
        send_raw(lenient.port, b"Subject: lenient\r\n\r\nfirst line\nsecond line\r\n")
        [received] = lenient.wait_for(1)

    assert received.raw.endswith(b"\n\nfirst line\nsecond line\n")


def test_exim_accepts_a_bare_line_feed_but_does_not_end_a_line_there(exim_server):
    send_raw(exim_server.port, b"Subject: smuggled\r\n\r\nfirst line\nsecond line\r\n")

    [received] = exim_server.wait_for(1)

    assert b"first line\nsecond line" not in received.raw
    assert received.body.count("\n") == 1


@pytest.mark.parametrize("data", [
    b"Subject: long\r\n\r\n" + b"x" * 999 + b"\r\n",
    b"Subject: long\r\n\r\n" + "ж".encode() * 500 + b"\r\n",
    b"Subject: " + b"s" * 990 + b"\r\n\r\nbody\r\n",
], ids=["ascii-body-999-octets", "cyrillic-body-1000-octets", "header-999-octets"])
def test_both_refuse_a_line_over_998_octets(server, data):
    error = refusal(server.port, data)

    assert error.smtp_code == 550
    assert b"line longer than 998 octets" in error.smtp_error
    assert_only_marker_follows(server)


def test_both_take_998_octet_lines_and_long_folded_headers(server):
    folded = "Subject: " + "\r\n ".join(["word " * 15] * 20)
    send_raw(server.port, folded.encode() + b"\r\n\r\n" + b"y" * 998 + b"\r\n")

    [received] = server.wait_for(1)

    assert received.body == "y" * 998 + "\n"
    assert received.subject.count("word") == 300


@pytest.mark.parametrize("server_class", [PostfixServer, EximServer])
def test_stock_servers_store_long_lines_whole(server_class):
    line = b"z" * 5000
    with server_class(line_limit=None) as stock:
        send_raw(stock.port, b"Subject: long\r\n\r\n" + line + b"\r\n")
        [received] = stock.wait_for(1)

    assert received.raw.endswith(b"\n\n" + line + b"\n")


# --- isolation and cleanup ----------------------------------------------------------

@pytest.mark.parametrize("server_class", [PostfixServer, EximServer])
def test_two_servers_of_a_kind_run_at_once(server_class):
    with server_class() as one, server_class() as two:
        assert one.port != two.port and one.directory != two.directory
        send_raw(one.port, b"Subject: for one\r\n\r\nbody\r\n")
        send_raw(two.port, b"Subject: for two\r\n\r\nbody\r\n")

        assert [m.subject for m in one.wait_for(1)] == ["for one"]
        assert [m.subject for m in two.wait_for(1)] == ["for two"]


@pytest.mark.parametrize("server_class", [PostfixServer, EximServer])
def test_stop_leaves_no_process_and_no_file(server_class):
    server = server_class().start()
    try:
        send_raw(server.port, b"Subject: wake the daemons\r\n\r\nbody\r\n")
        server.wait_for(1)
        directory, port, pids = server.directory, server.port, server.processes()
    finally:
        server.stop()

    assert len(pids) >= 2, "the reaper and the server at least"
    assert processes_mentioning(str(directory)) == []
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == [], "not even a zombie"
    assert not directory.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, port), timeout=2).close()


# --- provisioning --------------------------------------------------------------------

def test_this_machine_has_both():
    assert postfix_problem() is None
    assert exim_problem() is None


def test_nothing_listens_on_port_25():
    """Installed without a configuration, the system's Postfix stays off: only ours run."""
    assert not Path("/etc/postfix/main.cf").exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, 25), timeout=2).close()


def test_the_provisioning_imports_with_the_standard_library_alone():
    """-S keeps site-packages out: what make test runs before the venv exists finds what it needs."""
    done = subprocess.run([sys.executable, "-S", "-c", "import tests.provision as p; "
                           "print(p.postfix_problem(), p.exim_problem())"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "None"]
