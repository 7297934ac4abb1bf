"""Several workers on one send, as separate processes: they share it, join it, take over a
dead one's batch, and a full host hands a send to the database for a running worker."""
import collections
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from mailer.models import Attempt, AttemptBatch, AttemptStatus, Delivery
from tests.processes import PROJECT_ROOT, app_environment, start_run
from tests.smtp_servers import SlowSmtpServer
from tests.workspace import make_mailing

NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)


def slow_sink():
    """A server that takes 5 ms over each letter, as a real relay does: workers then wait on
    it, not on Python, and a send lasts long enough to be joined."""
    return SlowSmtpServer(delay=0.005, stage="data_end")


def copies(server) -> collections.Counter:
    with server.lock:
        return collections.Counter(m.envelope_to[0] for m in server.messages)


def wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.02)


def delivered(db, mailing_id=None) -> int:
    db.session.expire_all()
    query = sa.select(sa.func.count(Delivery.id))
    if mailing_id is not None:
        query = query.join(Attempt).where(Attempt.mailing_id == mailing_id)
    count = db.session.scalar(query)
    db.session.commit()
    return count


def force_mail(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "force-mail", *args],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_a_worker_joining_a_send_takes_half_of_it_and_every_client_gets_one_letter(database_url, db, owner):
    mailing = make_mailing(db, owner, clients=600, start=NOW - timedelta(minutes=1))
    with slow_sink() as server:
        env = app_environment(database_url, server.port, MAILING_BATCH_SIZE=20)
        first = start_run(mailing.id, env)
        wait_until(lambda: delivered(db) >= 40)
        joining = force_mail(env, str(mailing.id), "--join")
        outputs = [first.communicate(timeout=120)[0], joining.communicate(timeout=120)[0]]

        assert [first.returncode, joining.returncode] == [0, 0], outputs
        assert sum("success, sent 600, failed 0" in out for out in outputs) == 1, outputs
        helper = next(out for out in outputs if "success" not in out)
        assert "this run sent" in helper and "this run sent 0," not in helper, outputs
        received = copies(server)
    assert len(received) == 600 and set(received.values()) == {1}
    db.session.expire_all()
    (attempt,) = db.session.scalars(sa.select(Attempt)).all()
    assert (attempt.status, attempt.sent_count, attempt.failed_count) == (AttemptStatus.SUCCESS, 600, 0)
    assert db.session.scalar(sa.select(sa.func.count(AttemptBatch.id))
                             .where(AttemptBatch.done_at.is_(None))) == 0


def test_join_with_no_send_in_progress_says_so_and_sends_nothing(runner, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, clients=2)

    result = runner.invoke(args=["force-mail", str(mailing.id), "--join"])

    assert (result.exit_code, result.output.strip()) == (0, f"mailing {mailing.id}: no send is in progress to join")
    assert smtp_sink.messages == [] and delivered(db) == 0


def test_a_full_host_hands_its_send_to_the_database_and_the_running_worker_sends_it(
        database_url, db, owner, make_user, tmp_path):
    big = make_mailing(db, owner, clients=400, start=NOW - timedelta(minutes=1))
    small = make_mailing(db, make_user(email="second@example.com"), clients=30, start=NOW - timedelta(minutes=1))
    with slow_sink() as server:
        env = app_environment(database_url, server.port, MAILING_MAX_PARALLEL=1,
                              MAILER_HOME=tmp_path, MAILER_INSTANCE="crowded")
        sending = start_run(big.id, env)
        wait_until(lambda: delivered(db) >= 20)
        late = start_run(small.id, env)
        late_output = late.communicate(timeout=30)[0]
        assert late.returncode == 0 and "waits for the first of them to finish" in late_output, late_output
        assert delivered(db, small.id) == 0, "the full host's run sent nothing itself"

        output = sending.communicate(timeout=120)[0]
        received = copies(server)

    assert sending.returncode == 0, output
    assert f"mailing {big.id}: success, sent 400" in output
    assert f"mailing {small.id}: success, sent 30" in output, "the running worker took the waiting send"
    assert len(received) == 430 and set(received.values()) == {1}


def test_a_send_left_unplanned_is_planned_once_however_many_workers_pick_it_up(database_url, db, owner):
    """A send whose Attempt has no batches (one sending when the database was upgraded to
    batches), then eight workers at once: one plans it, all share it, one letter each."""
    mailing = make_mailing(db, owner, clients=300, start=NOW - timedelta(minutes=1))
    db.session.add(Attempt(mailing_id=mailing.id, occurrence_at=mailing.start_at))
    db.session.commit()
    with slow_sink() as server:
        env = app_environment(database_url, server.port, MAILING_BATCH_SIZE=10)
        runs = [start_run(mailing.id, env) for _ in range(8)]
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        received = copies(server)

    assert all(run.returncode == 0 for run in runs), outputs
    assert sum("success, sent 300" in out for out in outputs) == 1, outputs
    assert len(received) == 300 and set(received.values()) == {1}
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(AttemptBatch.id))) == 30, "planned once"


def minutely_sync(env) -> subprocess.CompletedProcess:
    """The host's sync line, as cron runs it every minute."""
    return subprocess.run([sys.executable, "-c", "import sys; from mailer.scheduling import sync_entry;"
                           " sys.exit(sync_entry.main())"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def host_environment(database_url, port, tmp_path, **settings):
    return app_environment(database_url, port, MAILER_HOME=tmp_path, MAILER_INSTANCE="lefty",
                           CRONTAB_FILE=tmp_path / "crontab", SCRIPTS_DIR=tmp_path / "scripts",
                           CRON_LOG=tmp_path / "cron.log", **settings)


def test_a_run_left_when_every_sender_has_ended_is_taken_up_by_the_minutely_sync(
        database_url, db, owner, tmp_path):
    """A crowded minute's note outlives its senders (they ended, or the host went down):
    the sync line, which cron runs every minute, runs it."""
    from mailer.delivery.host_slots import Slots

    mailing = make_mailing(db, owner, clients=5, start=NOW - timedelta(minutes=1))
    with slow_sink() as server:
        Slots(tmp_path / "instance" / "run", "lefty", 1).leave(mailing.id)
        sync = minutely_sync(host_environment(database_url, server.port, tmp_path))
        received = copies(server)

    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert f"mailing {mailing.id}: success, sent 5" in sync.stdout
    assert len(received) == 5 and set(received.values()) == {1}
    assert not Slots(tmp_path / "instance" / "run", "lefty", 1).left(), "the note is gone"


def test_a_send_whose_workers_all_died_is_finished_by_the_next_minutely_sync(database_url, db, owner, tmp_path):
    """Its only worker died with its host half-way: once the lease has lapsed, any host's
    sync line finishes the send, sending only to those not reached."""
    mailing = make_mailing(db, owner, clients=40, start=NOW - timedelta(minutes=1))
    with slow_sink() as server:
        env = host_environment(database_url, server.port, tmp_path, MAILING_BATCH_SIZE=10,
                               MAILING_LEASE_SECONDS=2)
        first = start_run(mailing.id, env)
        wait_until(lambda: delivered(db) >= 15)
        first.kill()
        first.communicate(timeout=10)
        before = sum(copies(server).values())
        wait_until(lambda: batches_held(db) == 0, 10)  # the dead worker's lease lapses
        sync = minutely_sync(env)
        received = copies(server)

    assert 15 <= before < 40, "the first worker died half-way"
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert f"mailing {mailing.id}: success, sent 40" in sync.stdout, sync.stdout
    assert len(received) == 40 and sum(n - 1 for n in received.values()) <= 10
    db.session.expire_all()
    (attempt,) = db.session.scalars(sa.select(Attempt)).all()
    assert (attempt.status, attempt.sent_count) == (AttemptStatus.SUCCESS, 40)


def batches_held(db) -> int:
    """Batches whose lease has not lapsed on the database's clock."""
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count(AttemptBatch.id)).where(
        AttemptBatch.done_at.is_(None), AttemptBatch.lease_until >= sa.func.statement_timestamp()))


def test_a_host_whose_clock_runs_ahead_takes_no_lease_before_it_lapses_on_the_databases_clock(
        database_url, db, owner):
    """Leases are compared on PostgreSQL's clock: a worker on a host two minutes ahead joins
    a send whose one batch another worker holds for 15 more seconds, and sends nothing of
    it until those 15 seconds have passed, then takes it over."""
    from tests.provision import libfaketime_path

    mailing = make_mailing(db, owner, clients=20, start=NOW - timedelta(minutes=1))
    attempt = Attempt(mailing_id=mailing.id, occurrence_at=mailing.start_at, planned_at=NOW)
    db.session.add(attempt)
    db.session.flush()
    lease_until = db.session.scalar(sa.text("SELECT statement_timestamp() + interval '15 seconds'"))
    db.session.add(AttemptBatch(attempt_id=attempt.id, after_client_id=0, runner="elsewhere@host:1:ab",
                                lease_until=lease_until))
    db.session.commit()
    with slow_sink() as server:
        env = app_environment(database_url, server.port, LD_PRELOAD=libfaketime_path(), FAKETIME="+120s")
        joining = force_mail(env, str(mailing.id), "--join")
        while not server.messages and joining.poll() is None:
            time.sleep(0.02)
        first_letter_at = datetime.now(timezone.utc)
        output = joining.communicate(timeout=60)[0]
        received = copies(server)

    assert first_letter_at >= lease_until, f"a letter went before the lease lapsed on the database's clock: {output}"
    assert joining.returncode == 0 and f"mailing {mailing.id}: success, sent 20" in output, output
    assert len(received) == 20 and set(received.values()) == {1}


def test_a_send_just_claimed_has_a_worker_on_it_before_its_first_letter(app, db, owner):
    """Between claiming an occurrence and sending its first letter (the letter is prepared
    meanwhile), a worker finishing another send must not take this one for abandoned and
    join it: the claiming run holds its first batch from the claim's own commit."""
    from mailer.delivery import engine
    from mailer.models import Mailing

    mailing = make_mailing(db, owner, clients=3)
    with app.app_context():
        claimed = engine._claim(engine.db.session.get(Mailing, mailing.id), mailing.start_at, manual=True,
                                runner="here:1:claimer")

        assert isinstance(claimed, Attempt)
        assert not engine.anything_waiting()
