"""Real bounces, end to end: a mailing goes out through a real Postfix, Dovecot refuses what a
real mailbox would (no such user, mailbox full, full for now), Postfix's own DSNs come back
to each letter's VERP address, and the app reads them as administrators set it up: piped
into ``flask bounces read``, or fetched from the bounce mailbox over IMAP and POP3.
"""
from __future__ import annotations

import re
import smtplib
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mailer.bounces import fetching
from mailer.delivery.engine import run_mailing
from mailer.models import Bounce, BounceMessage, BounceOutcome, Client, Delivery, utcnow
from tests.bounce_corpus import SAMPLES, read
from tests.mail_servers import HOST
from tests.processes import PROJECT_ROOT, app_environment
from tests.smtp_servers import closed_port
from tests.workspace import make_mailing

RETURN_PATH = "bounces@mailer.test"
RECIPIENTS = ("alice@dest.test", "full@dest.test", "nobody-here@dest.test")


@pytest.fixture
def mailed(make_app, db, owner, bounce_world):
    """A mailing to RECIPIENTS sent through the bouncing Postfix, and the two DSNs it brought."""
    app = make_app(MAIL_PORT=bounce_world.smtp_port, MAIL_RETURN_PATH=RETURN_PATH)
    mailing = make_mailing(db, owner, clients=len(RECIPIENTS), start=utcnow() - timedelta(minutes=1))
    for client, address in zip(db.session.scalars(sa.select(Client).order_by(Client.id)), RECIPIENTS):
        client.email = address
    db.session.commit()
    with app.app_context():
        result = run_mailing(mailing.id)
    assert "sent 3" in result.line, result.line
    bounce_world.wait_until_idle()
    return app, bounce_world.wait_for_bounces(2)


def client_at(db, address: str) -> Client:
    db.session.expire_all()
    return db.session.scalars(sa.select(Client).where(Client.email == address)).one()


def assert_bounces_recorded(db) -> None:
    unknown, full, alice = (client_at(db, address) for address in
                            ("nobody-here@dest.test", "full@dest.test", "alice@dest.test"))
    assert unknown.suppressed_reason.startswith("5.1.1 550 5.1.1 <nobody-here@dest.test>")
    assert full.suppressed_reason.startswith("5.2.2 552 5.2.2 <full@dest.test> Quota exceeded")
    assert alice.suppressed_at is None
    bounced = dict(db.session.execute(sa.select(Delivery.email, Delivery.bounce)
                                      .where(Delivery.bounce.is_not(None))).all())
    assert bounced == {"nobody-here@dest.test": Bounce.HARD, "full@dest.test": Bounce.HARD}


def bounces_command(database_url: str, *arguments: str, stdin: bytes = b"",
                    **settings) -> subprocess.CompletedProcess:
    """``flask bounces ...`` as a Postfix pipe or cron runs it: a process of its own."""
    env = app_environment(database_url, 25, MAIL_RETURN_PATH=RETURN_PATH, **settings)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "bounces", *arguments],
                          cwd=PROJECT_ROOT, env=env, input=stdin, capture_output=True, timeout=120)


def test_postfix_dsns_piped_into_bounces_read_suppress_the_dead_addresses(mailed, db, database_url):
    _app, dsns = mailed
    for dsn in dsns:
        done = bounces_command(database_url, "read", stdin=dsn)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.decode().count("\n") == 1 and b"client suppressed" in done.stdout

    assert_bounces_recorded(db)


def mailbox_settings(bounce_world, protocol: str) -> dict:
    dovecot = bounce_world.dovecot
    return {"BOUNCE_MAILBOX_PROTOCOL": protocol, "BOUNCE_MAILBOX_HOST": HOST,
            "BOUNCE_MAILBOX_PORT": dovecot.imap_port if protocol == "imap" else dovecot.pop3_port,
            "BOUNCE_MAILBOX_SECURITY": "none", "BOUNCE_MAILBOX_USER": dovecot.bounce_user,
            "BOUNCE_MAILBOX_PASSWORD": dovecot.bounce_password, "BOUNCE_MAILBOX_TIMEOUT": 5}


def put_in_bounce_mailbox(bounce_world, raw: bytes) -> None:
    """A message arriving at a VERP address the way anything does: through Postfix (which
    takes CRLF lines only)."""
    with smtplib.SMTP(HOST, bounce_world.smtp_port, timeout=10) as smtp:
        smtp.sendmail("someone@example.org", ["bounces+hello@mailer.test"],
                      re.sub(rb"\r?\n", b"\r\n", raw))


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_bounces_fetch_records_the_dsns_and_removes_only_them(mailed, db, make_app, bounce_world,
                                                              protocol):
    vacation = next(sample for sample in SAMPLES if sample.kind == "none"
                    and "rfc3834" in sample.path)
    put_in_bounce_mailbox(bounce_world, read(vacation))
    bounce_world.wait_for_bounces(3)
    app = make_app(MAIL_RETURN_PATH=RETURN_PATH, **mailbox_settings(bounce_world, protocol))

    with app.app_context():
        code, line = fetching.run(app.config)
        assert code == 0 and "3 read (1 not bounce, 2 recorded), 2 removed" in line, line
        again = fetching.run(app.config)[1]

    assert_bounces_recorded(db)
    assert "0 read (none), 0 removed, 1 left from earlier runs" in again, again
    (left,) = bounce_world.bounce_messages()
    assert b"Auto-Submitted" in left  # the auto-reply, where it was
    counted = db.session.scalars(sa.select(BounceMessage.outcome).order_by(BounceMessage.id)).all()
    assert sorted(counted) == sorted([BounceOutcome.RECORDED, BounceOutcome.RECORDED,
                                      BounceOutcome.NOT_BOUNCE])


def test_bounces_fetch_from_cron_runs_the_generated_script(mailed, db, make_app, bounce_world,
                                                           tmp_path, database_url):
    """The line `flask cron sync` keeps for the bounce mailbox runs, with its script, as cron
    would: a bare environment and the settings from the env file baked in."""
    settings = mailbox_settings(bounce_world, "imap")
    env_file = tmp_path / "mailer.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in {
        **app_environment(database_url, 25, MAIL_RETURN_PATH=RETURN_PATH, **settings)}.items()
        if key.isupper() and key.isidentifier() and "\n" not in str(value)))
    app = make_app(APP_ENV="development", MAILER_ENV_FILE=str(env_file), **settings)
    from mailer.scheduling.task_manager import TaskManager

    with app.app_context():
        tasks = TaskManager.of(app)
        tasks.sync()
        (line,) = [entry for entry in tasks.lines() if entry[0] == "bounces"]
    assert line[1] == "*/5 * * * *"
    script = tasks.config.script_path("bounces")
    done = subprocess.run([sys.executable, str(script)], cwd="/", env={"PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 recorded" in done.stdout
    assert_bounces_recorded(db)


@pytest.mark.parametrize("where, says", [
    (lambda world: {"BOUNCE_MAILBOX_PORT": closed_port()}, "connection refused"),
    (lambda world: {"BOUNCE_MAILBOX_PASSWORD": "wrong"}, "login refused"),
], ids=["unreachable", "wrong password"])
def test_a_mailbox_that_cannot_be_read_costs_one_line_and_changes_nothing(
        make_app, db, bounce_world, where, says):
    app = make_app(**{**mailbox_settings(bounce_world, "imap"), **where(bounce_world)})
    started = time.monotonic()
    with app.app_context():
        code, line = fetching.run(app.config)
    assert code == 1 and says in line and "\n" not in line, line
    assert time.monotonic() - started < 5 + 1
    assert db.session.scalar(sa.select(sa.func.count(BounceMessage.id))) == 0


@pytest.mark.parametrize("stdin, says", [
    (b"", "refused: empty"),
    (b"From: a@example.com\r\n\r\n" + b"x" * (50 * 1024 * 1024), "larger than 10240 kB"),
    (b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--yy\r\n\x00\xff broken", "not a bounce"),
    (read(next(s for s in SAMPLES if s.kind == "none")), "not a bounce"),
], ids=["empty", "50 MB", "malformed MIME", "an auto-reply"])
def test_bounces_read_of_what_is_no_bounce_says_so_and_exits_non_zero(db, database_url, stdin, says):
    done = bounces_command(database_url, "read", stdin=stdin)
    assert done.returncode == 65, done.stdout + done.stderr
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1 and says in lines[0], lines
    (outcome,) = db.session.scalars(sa.select(BounceMessage.outcome)).all()  # counted, no more
    assert outcome in (BounceOutcome.UNREADABLE, BounceOutcome.NOT_BOUNCE)
