"""Two hosts, one PostgreSQL, one mail server, each host with its own `flask scheduler`:
a big send shared by both survives one host killed half-way, and a host stopped for good
takes none of its mailings with it.

The hosts are two installs (MAILER_INSTANCE host-a and host-b) on this machine, each with
its crontab file, scripts folder, env file and scheduler process of its own, as
tests/test_cron_hosts.py sets them up. Their schedulers fire lines on the minute, so this
test takes two to three minutes.
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from mailer.models import Attempt, AttemptBatch, AttemptStatus, Delivery, Mailing
from tests.conftest import AuthActions
from tests.processes import PROJECT_ROOT
from tests.smtp_servers import SlowSmtpServer
from tests.test_cron_hosts import cli, make_host, mailing_lines  # noqa: F401  (a fixture)
from tests.workspace import create, form_data, make_mailing, make_material

BATCH = 50
LEASE_SECONDS = 6


@pytest.fixture
def relay():
    """One mail server for both hosts, taking 2 ms over each letter as a relay does."""
    with SlowSmtpServer(delay=0.002, stage="data_end") as server:
        yield server


def scheduler(host) -> subprocess.Popen:
    """The host's `flask scheduler`, in a process group of its own (so killing the host kills
    the runs it started too)."""
    env = {"PATH": os.environ["PATH"], "MAILER_ENV_FILE": str(host.env_file),
           "FLASK_SKIP_DOTENV": "1"}  # the checkout's own .env is not this host's
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def kill(process: subprocess.Popen, host) -> None:
    """SIGKILL to the host: its scheduler and every run it started (each in a session of
    its own, as cron starts them), found by the host's scripts folder in their command."""
    process.kill()
    process.wait(timeout=10)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if str(host.scripts).encode() in cmdline.read():
                    os.kill(int(pid), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            continue


def next_minute(after: datetime, seconds_to_spare: int = 15) -> datetime:
    """The first whole minute at least ``seconds_to_spare`` after ``after``."""
    return (after + timedelta(seconds=seconds_to_spare + 60)).replace(second=0, microsecond=0)


def wait_until(condition, seconds: float, what: str, *hosts) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        logs = "".join(f"\n--- {host.name}'s run log:\n" + (host.scripts.parent / "cron.log").read_text()
                       for host in hosts if (host.scripts.parent / "cron.log").exists())
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s{logs}"
        time.sleep(0.05)


def letters(server) -> collections.Counter:
    with server.lock:
        return collections.Counter(m.envelope_to[0] for m in server.messages)


def runners(db, mailing_id: int) -> set[str]:
    """Who held the send's batches (``<instance>@<host>:<pid>:<token>``)."""
    db.session.rollback()
    return set(db.session.scalars(sa.select(AttemptBatch.runner).join(Attempt)
                                  .where(Attempt.mailing_id == mailing_id,
                                         AttemptBatch.runner.is_not(None))))


def instance(runner: str) -> str:
    return runner.split("@", 1)[0]


def test_a_send_shared_by_two_hosts_survives_one_killed_and_a_host_gone_for_good_loses_nothing(
        make_host, make_user, db, relay):
    settings = {"MAIL_PORT": relay.port, "MAILING_BATCH_SIZE": BATCH,
                "MAILING_LEASE_SECONDS": LEASE_SECONDS}
    a, b = make_host("a", **settings), make_host("b", **settings)
    owner = make_user(email="user@example.com", language="en", timezone="UTC")
    start = next_minute(datetime.now(timezone.utc), seconds_to_spare=20)
    big = make_mailing(db, owner, clients=5_000, start=start)
    for host in (a, b):  # as at deploy: each host's own sync puts the line in its own crontab
        assert cli(host, "cron", "sync").exit_code == 0
        assert big.id in mailing_lines(host)
    # Saved through host A's web app, due a minute after the big send: only A's crontab has
    # it; B's learns of it from B's own sync line, and A will be dead by its minute.
    a.web = a.app.test_client()
    AuthActions(a.web).login()
    message, clients = make_material(db, owner)
    later = start + timedelta(minutes=1)
    page = create(a.web, form_data(message, clients, start_at=f"{later:%Y-%m-%dT%H:%M}",
                                   end_at=f"{later + timedelta(days=30):%Y-%m-%dT%H:%M}")
                  ).get_data(as_text=True)
    assert "Mailing saved." in page
    saved = db.session.scalar(sa.select(Mailing.id).where(Mailing.id != big.id))
    assert saved in mailing_lines(a) and saved not in mailing_lines(b)
    schedulers = {"a": (a, scheduler(a)), "b": (b, scheduler(b))}
    try:
        # Both hosts fire the line at the same minute and share the send; A is killed half-way,
        # for good.
        wait_until(lambda: sum(letters(relay).values()) >= 2_500, 150, "half the big send", a, b)
        wait_until(lambda: {instance(r) for r in runners(db, big.id)} >= {a.instance, b.instance},
                   30, "both hosts sending", a, b)
        kill(*reversed(schedulers.pop("a")))
        at_the_kill = sum(letters(relay).values())

        wait_until(lambda: all(c.email in letters(relay) for c in clients), 150,
                   "the mailing saved through A, sent by B", a, b)
        wait_until(lambda: finished(db, big.id) and finished(db, saved), 60, "both attempts ended", a, b)
    finally:
        for host, process in schedulers.values():
            kill(process, host)

    received = letters(relay)
    later_emails = {c.email for c in clients}
    big_copies = {email: n for email, n in received.items() if email not in later_emails}
    assert len(big_copies) == 5_000, "no client of the big send was lost"
    assert sum(n - 1 for n in big_copies.values()) <= BATCH, "at most the killed host's batch went twice"
    db.session.rollback()
    attempt = db.session.scalars(sa.select(Attempt).where(Attempt.mailing_id == big.id)).one()
    assert (attempt.status, attempt.sent_count, attempt.failed_count) == (AttemptStatus.SUCCESS, 5_000, 0)
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id)).where(Delivery.attempt_id == attempt.id)) == 5_000
    assert all(received[c.email] == 1 for c in clients), "the mailing saved through A went out once"
    assert {instance(r) for r in runners(db, saved)} == {b.instance}, "sent by host B alone"
    assert at_the_kill < 5_000


def finished(db, mailing_id: int) -> bool:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count(Attempt.id)).where(
        Attempt.mailing_id == mailing_id, Attempt.status != AttemptStatus.SENDING)) == 1
