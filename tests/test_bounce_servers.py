"""The bounce world of tests/mailbox_server.py, driven with plain smtplib, imaplib and poplib.

A message is sent to the private Postfix with the envelope sender
``bounces+abc123@mailer.test``; Dovecot refuses unknown and over-quota recipients at
delivery, and the RFC 3464 reports Postfix writes land in the bounce mailbox, which
Dovecot serves over IMAP and POP3.
"""
from __future__ import annotations

import email.policy
import imaplib
import poplib
import smtplib
import socket
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.mail_servers import HOST, processes_mentioning
from tests.mailbox_server import BounceWorld
from tests.provision import dovecot_problem

SENDER = "bounces+abc123@mailer.test"
TIMEOUT = 10  # seconds, for every client connection


def send(world, to: str, subject: str = "Hello") -> None:
    with smtplib.SMTP(HOST, world.smtp_port, timeout=TIMEOUT) as client:
        client.sendmail(SENDER, [to], f"From: news@mailer.test\r\nTo: {to}\r\n"
                                      f"Subject: {subject}\r\n\r\nHi there.\r\n")


def parsed(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=email.policy.default)


def report(dsn: EmailMessage) -> dict[str, str]:
    """The DSN's first per-recipient fields (RFC 3464 section 2.3), by name."""
    status = next(part for part in dsn.walk()
                  if part.get_content_type() == "message/delivery-status")
    per_message, first_recipient, *_ = status.get_payload()
    return {name: " ".join(str(value).split()) for name, value in first_recipient.items()}


def by_recipient(messages: list[bytes]) -> dict[str, tuple[EmailMessage, dict[str, str]]]:
    found = {}
    for raw in messages:
        dsn = parsed(raw)
        fields = report(dsn)
        found[fields["Final-Recipient"].removeprefix("rfc822; ")] = (dsn, fields)
    return found


def test_unknown_and_over_quota_recipients_bring_one_standard_report_each(bounce_world):
    for to in ("nobody-here@dest.test", "full@dest.test", "alice@dest.test"):
        send(bounce_world, to)
    bounce_world.wait_until_idle()

    reports = by_recipient(bounce_world.bounce_messages())

    assert sorted(reports) == ["full@dest.test", "nobody-here@dest.test"]
    for dsn, fields in reports.values():
        assert dsn.get_content_type() == "multipart/report"
        assert dsn.get_param("report-type") == "delivery-status"
        assert (dsn["X-Original-To"], dsn["Delivered-To"]) == (SENDER, SENDER)
        assert fields["Action"] == "failed"
    unknown, full = reports["nobody-here@dest.test"][1], reports["full@dest.test"][1]
    assert unknown["Status"] == "5.1.1" and "550 5.1.1" in unknown["Diagnostic-Code"]
    assert full["Status"] == "5.2.2" and "552 5.2.2" in full["Diagnostic-Code"]


def test_alice_gets_the_message_itself(bounce_world):
    send(bounce_world, "alice@dest.test", subject="For Alice")
    bounce_world.wait_until_idle()

    delivered = [path for path in (bounce_world.dovecot.maildir("alice") / "new").iterdir()]
    assert [parsed(path.read_bytes())["Subject"] for path in delivered] == ["For Alice"]
    assert bounce_world.bounce_messages() == []


def test_a_temporary_refusal_brings_a_delayed_report(bounce_world):
    send(bounce_world, "soft@dest.test")

    [raw] = bounce_world.wait_for_bounces(1, nudge=True)

    fields = report(parsed(raw))
    assert fields["Final-Recipient"] == "rfc822; soft@dest.test"
    assert (fields["Action"], fields["Status"]) == ("delayed", "4.2.2")


def test_the_bounce_mailbox_reads_over_imap(bounce_world):
    send(bounce_world, "nobody-here@dest.test")
    [stored] = bounce_world.wait_for_bounces(1)
    dovecot = bounce_world.dovecot

    with imaplib.IMAP4(HOST, dovecot.imap_port, timeout=TIMEOUT) as imap:
        imap.login(dovecot.bounce_user, dovecot.bounce_password)
        imap.select("INBOX", readonly=True)
        _, [numbers] = imap.search(None, "ALL")
        _, [(_, fetched), _] = imap.fetch(numbers, "(RFC822)")

    assert numbers == b"1"
    assert fetched.replace(b"\r\n", b"\n") == stored
    assert report(parsed(fetched))["Status"] == "5.1.1"


def test_the_bounce_mailbox_reads_over_pop3(bounce_world):
    send(bounce_world, "full@dest.test")
    [stored] = bounce_world.wait_for_bounces(1)
    dovecot = bounce_world.dovecot

    pop = poplib.POP3(HOST, dovecot.pop3_port, timeout=TIMEOUT)
    try:
        pop.user(dovecot.bounce_user)
        pop.pass_(dovecot.bounce_password)
        count, _ = pop.stat()
        _, lines, _ = pop.retr(1)
    finally:
        pop.quit()

    assert count == 1
    assert b"\n".join(lines) + b"\n" == stored
    assert report(parsed(b"\r\n".join(lines)))["Status"] == "5.2.2"


def test_a_wrong_password_is_refused(bounce_world):
    dovecot = bounce_world.dovecot

    with imaplib.IMAP4(HOST, dovecot.imap_port, timeout=TIMEOUT) as imap:
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            imap.login(dovecot.bounce_user, "not-the-password")
    pop = poplib.POP3(HOST, dovecot.pop3_port, timeout=TIMEOUT)
    try:
        pop.user(dovecot.bounce_user)
        with pytest.raises(poplib.error_proto, match="Authentication failed"):
            pop.pass_("not-the-password")
    finally:
        pop.close()


def test_stop_leaves_no_process_and_no_file():
    with BounceWorld() as world:
        send(world, "nobody-here@dest.test")
        world.wait_for_bounces(1)
        servers = (world.postfix, world.dovecot)
        directories = [server.directory for server in servers]
        ports = [world.smtp_port, world.dovecot.imap_port, world.dovecot.pop3_port,
                 world.dovecot.lmtp_port]
        pids = [pid for server in servers for pid in server.processes()]

    assert len(pids) >= 4, "a reaper and a server each, at least"
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    assert [d for d in directories if processes_mentioning(str(d)) or d.exists()] == []
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((HOST, port), timeout=2).close()


# --- provisioning --------------------------------------------------------------------

def test_this_machine_has_dovecot():
    assert dovecot_problem() is None


def test_no_system_dovecot_listens():
    """Installed under a policy-rc.d that forbids starts: only our private instances run."""
    for port in (143, 110):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((HOST, port), timeout=2).close()
