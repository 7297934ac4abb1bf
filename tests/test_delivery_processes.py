"""Runs as separate processes: concurrent runs send once; a killed run is resumed without loss."""
import collections
import subprocess
import sys
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from mailer.models import Attempt, AttemptStatus, Client, Delivery
from tests.processes import PROJECT_ROOT, app_environment, start_run
from tests.smtp_servers import DroppingSmtpServer, GarbageSmtpServer, ScriptedSmtpServer, SlowSmtpServer
from tests.workspace import make_mailing

NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)


def copies_per_client(smtp_sink) -> collections.Counter:
    with smtp_sink.lock:
        return collections.Counter(m.envelope_to[0] for m in smtp_sink.messages)


def wait_for_deliveries(db, count: int, seconds: float = 60) -> None:
    """Until a running send has recorded ``count`` deliveries (so it can be cut off mid-way)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.scalar(sa.select(sa.func.count(Delivery.id))) >= count:
            return
        time.sleep(0.01)


def test_eight_runs_at_once_send_each_client_exactly_one_copy(database_url, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, clients=200, start=NOW - timedelta(minutes=1))
    env = app_environment(database_url, smtp_sink.port)

    runs = [start_run(mailing.id, env) for _ in range(8)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]

    assert all(run.returncode == 0 for run in runs), outputs
    assert sum("success, sent 200" in out for out in outputs) == 1, outputs
    copies = copies_per_client(smtp_sink)
    assert len(copies) == 200 and set(copies.values()) == {1}
    assert db.session.scalar(sa.select(sa.func.count(Attempt.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 200


def test_a_run_killed_mid_way_is_resumed_by_the_next_run_without_loss(database_url, db, owner, smtp_sink):
    batch = 10
    mailing = make_mailing(db, owner, clients=1500, start=NOW - timedelta(minutes=1))
    env = app_environment(database_url, smtp_sink.port, MAILING_BATCH_SIZE=batch, MAILING_LEASE_SECONDS=2)

    first = start_run(mailing.id, env)
    wait_for_deliveries(db, 3 * batch)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    db.session.expire_all()
    killed_at = db.session.scalar(sa.select(sa.func.count(Delivery.id)))
    assert 3 * batch <= killed_at < 1500, "the first run must die mid-way"

    time.sleep(2.5)  # the killed run's lease lapses
    second = start_run(mailing.id, env)
    output = second.communicate(timeout=120)[0]

    assert second.returncode == 0, output
    assert "success, sent 1500" in output
    copies = copies_per_client(smtp_sink)
    assert len(copies) == 1500, "every client got the e-mail"
    assert sum(n - 1 for n in copies.values()) <= batch, "at most one batch was sent twice"
    db.session.expire_all()
    (attempt,) = db.session.scalars(sa.select(Attempt)).all()
    assert attempt.status is AttemptStatus.SUCCESS and attempt.sent_count == 1500
    per_client = db.session.execute(sa.select(Delivery.client_id, sa.func.count()).group_by(Delivery.client_id)).all()
    assert len(per_client) == 1500 and {n for _, n in per_client} == {1}
    assert db.session.scalar(sa.select(sa.func.count(Client.id))) == 1500


def test_a_run_whose_database_connection_is_killed_exits_with_one_line_and_is_resumed(
        database_url, db, owner, smtp_sink):
    batch = 10
    mailing = make_mailing(db, owner, clients=1500, start=NOW - timedelta(minutes=1))
    env = app_environment(database_url, smtp_sink.port, MAILING_BATCH_SIZE=batch, MAILING_LEASE_SECONDS=2,
                          PGAPPNAME="mailer-run-under-test")  # libpq names the run's connections

    first = start_run(mailing.id, env)
    wait_for_deliveries(db, 3 * batch)
    # Killed again and again until the run notices: a connection killed while it sits idle in
    # the pool is replaced unseen (pool_pre_ping), one killed mid-transaction is not.
    killed = 0
    while first.poll() is None:
        killed += db.session.scalar(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'mailer-run-under-test'"))
        db.session.commit()
        time.sleep(0.05)
    output = first.communicate(timeout=60)[0]

    assert killed >= 1
    assert first.returncode == 1, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "database error" in lines[0], output  # one clear line, no traceback
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) < 1500, "it must die mid-way"

    time.sleep(2.5)  # the dead run's lease lapses
    second = start_run(mailing.id, env)
    resumed = second.communicate(timeout=120)[0]

    assert second.returncode == 0 and "success, sent 1500" in resumed, resumed
    copies = copies_per_client(smtp_sink)
    assert len(copies) == 1500, "no client lost"
    assert sum(n - 1 for n in copies.values()) <= batch, "at most one batch sent twice"


def _mailing_of_a_new_owner(db, make_user, name, clients):
    owner = make_user(email=f"{name}@example.com", language="en")
    return make_mailing(db, owner, clients=clients, start=NOW - timedelta(minutes=1))


def _troubled_server(fault: str, recipients: list[str]):
    if fault == "refusals":  # every other recipient refused for good, the rest for now
        replies = {email: "550 5.1.1 No such user" for email in recipients[::2]}
        replies.update({email: "451 4.3.0 Try later" for email in recipients[1::2]})
        return ScriptedSmtpServer(rcpt_replies=replies)
    return {"garbage": lambda: GarbageSmtpServer(stage="rcpt"),
            "silence": lambda: SlowSmtpServer(delay=30, stage="greeting"),
            "drops": lambda: DroppingSmtpServer(drop_after_messages=5)}[fault]()


# What the troubled run ends with: its exit status and the start of its one line's verdict.
TROUBLED_ENDS = {"refusals": (1, "failure, sent 0, failed 60"), "garbage": (1, "failure"),
                 "silence": (1, "failure"), "drops": (0, "success, sent 60")}


@pytest.mark.parametrize("fault", list(TROUBLED_ENDS))
def test_one_mailings_mail_server_trouble_leaves_a_mailing_sending_at_the_same_time_untouched(
        database_url, db, make_user, smtp_sink, fault):
    troubled = _mailing_of_a_new_owner(db, make_user, "troubled", clients=60)
    healthy = _mailing_of_a_new_owner(db, make_user, "healthy", clients=300)
    emails_of = lambda mailing: db.session.scalars(  # noqa: E731
        sa.select(Client.email).where(Client.owner_id == mailing.owner_id)).all()

    with _troubled_server(fault, emails_of(troubled)) as server:
        troubled_run = start_run(troubled.id, app_environment(database_url, server.port,
                                                              MAILING_SMTP_TIMEOUT=1))
        healthy_run = start_run(healthy.id, app_environment(database_url, smtp_sink.port))
        healthy_out = healthy_run.communicate(timeout=120)[0]
        troubled_out = troubled_run.communicate(timeout=120)[0]

    assert healthy_run.returncode == 0 and "success, sent 300, failed 0" in healthy_out, healthy_out
    copies = copies_per_client(smtp_sink)
    assert {email: copies[email] for email in emails_of(healthy)} == {e: 1 for e in emails_of(healthy)}
    code, verdict = TROUBLED_ENDS[fault]
    assert troubled_run.returncode == code and verdict in troubled_out, troubled_out
    assert len(troubled_out.strip().splitlines()) == 1, troubled_out  # one line, no traceback


def test_the_not_due_path_of_a_run_imports_no_web_app_nor_sqlalchemy(database_url, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, clients=2, start=NOW + timedelta(days=1))
    env = app_environment(database_url, smtp_sink.port)
    probe = (
        "import sys\n"
        "from mailer.delivery.cron_entry import main\n"
        f"code = main({mailing.id})\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'jinja2', 'werkzeug', "
        "'flask_admin', 'flask_sqlalchemy', 'sqlalchemy') or m in ('mailer.app', 'mailer.models'))\n"
        "print('exit', code, 'heavy', heavy)\n"
    )

    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=60)

    assert "not due yet" in done.stdout
    assert "exit 0 heavy []" in done.stdout, done.stdout + done.stderr


def test_force_mail_says_what_it_did_in_one_line(runner, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, clients=2, start=NOW + timedelta(days=1))

    not_due = runner.invoke(args=["force-mail", str(mailing.id)])
    forced = runner.invoke(args=["force-mail", str(mailing.id), "--ignore-schedule"])
    missing = runner.invoke(args=["force-mail", "424242"])
    not_a_number = runner.invoke(args=["force-mail", "12; rm -rf /"])
    both = runner.invoke(args=["force-mail", str(mailing.id), "--ignore-schedule", "--resume"])

    assert (not_due.exit_code, not_due.output.strip()) == (0, f"mailing {mailing.id}: not due yet "
                                                          f"(first send {mailing.start_at:%Y-%m-%d %H:%M} UTC)")
    assert forced.exit_code == 0 and forced.output.count("\n") == 1
    assert forced.output.startswith(f"mailing {mailing.id}: success, sent 2, failed 0")
    assert (missing.exit_code, missing.output.strip()) == (2, "mailing 424242 does not exist")
    assert not_a_number.exit_code == 2 and "must be a whole number" in not_a_number.output
    assert both.exit_code == 2 and "use one of --ignore-schedule, --resume and --join" in both.output
    assert len(smtp_sink.wait_for(2)) == 2


def test_force_mail_all_runs_every_mailing_that_may_send_one_line_each(runner, db, owner, make_user, smtp_sink):
    """The requirements' "run every active mailing at once": due ones send, others say why not;
    paused, stopped, finished and blocked owners' mailings are not even looked at."""
    from mailer.models import MailingStatus

    due = make_mailing(db, owner, clients=2, start=NOW - timedelta(minutes=1))
    later = make_mailing(db, owner, clients=1, start=NOW + timedelta(days=1))
    paused = make_mailing(db, owner, clients=1, start=NOW - timedelta(minutes=1), status=MailingStatus.PAUSED)
    blocked = make_mailing(db, make_user(email="blocked@example.com", active=False), clients=1,
                           start=NOW - timedelta(minutes=1))

    scheduled = runner.invoke(args=["force-mail", "--all"])
    smtp_sink.wait_for(2)
    forced = runner.invoke(args=["force-mail", "--all", "--ignore-schedule"])
    wrong = [runner.invoke(args=args) for args in (["force-mail"], ["force-mail", "--all", str(due.id)],
                                                   ["force-mail", "--all", "--resume"])]

    lines = scheduled.output.splitlines()
    assert scheduled.exit_code == 0 and len(lines) == 2
    assert lines[0].startswith(f"mailing {due.id}: success, sent 2, failed 0")
    assert lines[1].startswith(f"mailing {later.id}: not due yet")
    forced_lines = forced.output.splitlines()
    assert forced.exit_code == 0 and [line.split(":")[0] for line in forced_lines] == [
        f"mailing {due.id}", f"mailing {later.id}"]
    assert all(": success, sent" in line for line in forced_lines)
    assert not any(f"mailing {m.id}" in scheduled.output + forced.output for m in (paused, blocked))
    assert all(result.exit_code == 2 for result in wrong)
    assert len(smtp_sink.wait_for(2 + 3)) == 5
