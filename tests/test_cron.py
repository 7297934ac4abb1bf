"""Cron kept in step with the database: one tagged line and one script per mailing that must send.

Every test works on a real crontab file and scripts directory under tmp_path
(never the user's crontab) and a real database. The "python" the lines call is
a small shell script that notes how it was started, so nothing is ever sent.
"""
import logging
import os
import signal
import stat
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from crontab import CronTab

from mailer.config import PROJECT_ROOT, ConfigError, settings_from_env
from mailer.extensions import db as _db
from mailer.mailings import mailing_services
from mailer.models import (Attempt, AttemptStatus, Client, Frequency, Mailing, MailingStatus,
                           Message)
from mailer.scheduling import cron
from mailer.scheduling.dev_runner import due_jobs
from tests.conftest import AuthActions, submit
from tests.workspace import make_mailing

UTC = timezone.utc


# --- fixtures ------------------------------------------------------------------------------

@pytest.fixture
def paths(tmp_path):
    fake_python = tmp_path / "bin" / "python"
    fake_python.parent.mkdir()
    started = tmp_path / "started"
    fake_python.write_text(f'#!/bin/sh\necho "start $*" >> {started}\nsleep 3\n'
                           f'echo "end $*" >> {started}\n')
    fake_python.chmod(0o755)
    return SimpleNamespace(crontab=tmp_path / "crontab", scripts=tmp_path / "scripts",
                           log=tmp_path / "logs" / "cron.log", python=fake_python,
                           started=started, root=tmp_path)


@pytest.fixture
def overrides(paths):
    return {"CRONTAB_FILE": str(paths.crontab), "SCRIPTS_DIR": str(paths.scripts),
            "CRON_LOG": str(paths.log), "CRON_PYTHON": str(paths.python)}


@pytest.fixture
def app(make_app, smtp_sink, overrides):
    smtp_sink.clear()
    return make_app(**overrides)


@pytest.fixture
def db(make_app, app, overrides):
    """The test's own view of the database, on an app with the same cron settings."""
    observer = make_app(**overrides)
    with observer.app_context():
        yield _db


@pytest.fixture
def config(app):
    return cron.CronConfig.from_app(app)


@pytest.fixture
def server_zone():
    """Set the process's local zone (cron's zone) for the test; restore it after."""
    before = os.environ.get("TZ")

    def set_zone(name: str) -> None:
        os.environ["TZ"] = name
        time.tzset()

    set_zone("Europe/Berlin")
    yield set_zone
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.fixture
def owner(make_user, auth):
    user = make_user(email="user@example.com", full_name="Olivia Owner",
                     timezone="America/New_York", language="en")
    auth.login()
    return user


@pytest.fixture
def material(db, owner):
    message = Message(owner=owner, subject="Spring news", body="Hi {{ client.full_name }}")
    clients = [Client(owner=owner, email=f"c{n}@example.com", full_name=f"Client Person {n}")
               for n in range(3)]
    db.session.add_all([message, *clients])
    db.session.commit()
    return message, clients


def form_data(message, clients, **changes):
    data = {"message_id": message.id, "client_ids": [c.id for c in clients],
            "start_at": "2027-03-10T09:00", "end_at": "2027-06-01T09:00", "frequency": "weekly"}
    data.update(changes)
    return data


def create(client, data):
    return submit(client, "/mailings/new", data, follow_redirects=True)


def tagged_jobs(path, instance="default"):
    """This instance's lines as python-crontab reads them, by mailing id."""
    if not Path(path).exists():
        return {}
    prefix = f"mailer:{instance}:"
    found = {}
    for job in CronTab(tabfile=str(path)):
        if job.comment.startswith(prefix):
            found.setdefault(int(job.comment[len(prefix):]), []).append(job)
    return found


def only_line(path, mailing_id):
    jobs = tagged_jobs(path)
    assert list(jobs) == [mailing_id], jobs
    (job,) = jobs[mailing_id]
    return job


def expected_command(paths, mailing_id):
    return f"{paths.python} {paths.scripts / f'{mailing_id}_script.py'} >> {paths.log} 2>&1"


def the_mailing(db):
    db.session.expire_all()
    return db.session.scalar(sa.select(Mailing))


# --- saving a mailing writes its line and script ------------------------------------------

def test_saving_a_mailing_writes_one_tagged_line_and_a_script_without_user_data(
        client, db, owner, material, paths, server_zone):
    message, clients = material

    page = create(client, form_data(message, clients)).get_data(as_text=True)

    assert "Mailing saved." in page
    mailing = the_mailing(db)
    job = only_line(paths.crontab, mailing.id)
    # Wednesdays 09:00 in New York (EST, UTC-5) are 15:00 in Berlin (CET, UTC+1).
    assert str(job.slices) == "0 15 * * 3"
    assert job.command == expected_command(paths, mailing.id)
    assert job.is_enabled() and job.is_valid()
    script = paths.scripts / f"{mailing.id}_script.py"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert script.read_text() == (
        f"#!{paths.python}\n"
        f"# Generated by mailer for mailing {mailing.id}; do not edit. It holds no user data.\n"
        "import sys\n"
        f"sys.path.insert(0, {str(PROJECT_ROOT)!r})\n"
        "from mailer.delivery.cron_entry import main\n"
        f"sys.exit(main({mailing.id}, env_file=None))\n"
    )
    written = paths.crontab.read_text() + script.read_text()
    for private in ("Spring news", "Hi ", "user@example.com", "Olivia Owner", "America/New_York",
                    *(c.email for c in clients), *(c.full_name for c in clients)):
        assert private not in written
    assert paths.log.parent.is_dir()  # the line's ">>" needs it
    assert not paths.started.exists()  # the first send is in March 2027: nothing starts now


def test_a_mailing_created_through_the_service_gets_its_line(db, owner, material, paths,
                                                              server_zone):
    message, clients = material
    data = mailing_services.MailingData(
        message_id=message.id, start_local=datetime(2027, 4, 5, 7, 45),
        end_local=datetime(2027, 5, 5, 7, 45), frequency="daily", timezone="Asia/Tokyo",
        client_ids=[c.id for c in clients])

    mailing = mailing_services.create_mailing(owner, data)

    # 07:45 in Tokyo (UTC+9) is 00:45 in Berlin (CEST, UTC+2).
    assert str(only_line(paths.crontab, mailing.id).slices) == "45 0 * * *"
    assert (paths.scripts / f"{mailing.id}_script.py").exists()


def test_editing_moves_the_line_and_never_duplicates_it(client, db, owner, material, paths,
                                                        server_zone):
    message, clients = material
    create(client, form_data(message, clients))
    mailing = the_mailing(db)

    submit(client, f"/mailings/{mailing.id}/edit",
           form_data(message, clients[:1], start_at="2027-04-01T18:15", frequency="daily"))
    submit(client, f"/mailings/{mailing.id}/edit",
           form_data(message, clients[:1], start_at="2027-04-01T18:15", frequency="daily"))

    # 18:15 EDT (UTC-4) is 00:15 the next day in Berlin (CEST, UTC+2).
    assert str(only_line(paths.crontab, mailing.id).slices) == "15 0 * * *"
    assert paths.crontab.read_text().count(f"# mailer:default:{mailing.id}") == 1


def test_pause_removes_the_line_and_script_and_resume_restores_them(client, db, owner, paths,
                                                                    server_zone):
    mailing = make_mailing(db, owner, subject="Private subject")
    script = paths.scripts / f"{mailing.id}_script.py"
    cron.install(mailing, config=cron.CronConfig.from_app(client.application))
    assert tagged_jobs(paths.crontab).keys() == {mailing.id} and script.exists()

    submit(client, f"/mailings/{mailing.id}/pause", {}, form_url="/mailings/")

    assert tagged_jobs(paths.crontab) == {} and not script.exists()

    submit(client, f"/mailings/{mailing.id}/resume", {}, form_url="/mailings/")

    assert tagged_jobs(paths.crontab).keys() == {mailing.id} and script.exists()


@pytest.mark.parametrize("change", ["stop", "finish", "delete"])
def test_stop_finish_and_delete_remove_line_and_script(client, db, owner, paths, change):
    mailing = make_mailing(db, owner)
    mailing_id = mailing.id
    script = paths.scripts / f"{mailing_id}_script.py"
    cron.install(mailing, config=cron.CronConfig.from_app(client.application))
    assert tagged_jobs(paths.crontab).keys() == {mailing_id} and script.exists()

    if change == "stop":
        mailing_services.stop_mailing(mailing, "Complaints")
    elif change == "finish":
        mailing_services.finish_mailing(mailing)
    else:
        submit(client, f"/mailings/{mailing_id}/delete", {}, form_url="/mailings/")

    assert tagged_jobs(paths.crontab) == {}
    assert not script.exists()


def test_each_run_rewrites_the_line(db, owner, config, paths):
    mailing = make_mailing(db, owner)
    paths.crontab.write_text(f"0 0 1 1 * stale # mailer:default:{mailing.id}\n")

    mailing_services.record_run(mailing)  # what the engine calls after a run

    assert str(only_line(paths.crontab, mailing.id).slices) == cron.cron_spec(mailing)


def test_pausing_one_mailing_leaves_the_other_lines(db, owner, make_user, config, paths):
    mine = make_mailing(db, owner)
    theirs = make_mailing(db, make_user(email="other@example.com"))
    cron.install(mine, config=config)
    cron.install(theirs, config=config)

    mailing_services.pause_mailing(mine)

    assert tagged_jobs(paths.crontab).keys() == {theirs.id}


# --- schedules in server time ----------------------------------------------------------

def weekly_in_new_york(hour=9):
    start = datetime(2027, 3, 3, hour, 0, tzinfo=ZoneInfo("America/New_York"))  # a Wednesday
    return SimpleNamespace(start_at=start.astimezone(UTC), end_at=datetime(2027, 6, 1, tzinfo=UTC),
                           frequency=Frequency.WEEKLY, timezone="America/New_York")


@pytest.mark.parametrize("now, spec", [
    (datetime(2027, 3, 5, tzinfo=UTC), "0 15 * * 3"),   # NY EST (-5), Berlin CET (+1)
    (datetime(2027, 3, 12, tzinfo=UTC), "0 14 * * 3"),  # NY EDT (-4) since 14 March, Berlin CET
    (datetime(2027, 3, 29, tzinfo=UTC), "0 15 * * 3"),  # Berlin CEST (+2) since 28 March
])
def test_weekly_spec_follows_both_dst_changes(server_zone, now, spec):
    assert cron.cron_spec(weekly_in_new_york(), now) == spec


def test_weekday_is_the_servers_not_the_mailings(server_zone):
    # Wednesday 21:00 in New York is Thursday 03:00 in Berlin.
    now = datetime(2027, 3, 5, tzinfo=UTC)

    assert cron.cron_spec(weekly_in_new_york(hour=21), now) == "0 3 * * 4"


@pytest.mark.parametrize("now, spec", [
    (datetime(2027, 3, 13, 12, 0, tzinfo=UTC), "0 15 * * *"),  # 13 March 09:00 EST = 15:00 CET
    (datetime(2027, 3, 13, 14, 0, tzinfo=UTC), "0 15 * * *"),  # exactly then: at or after now
    (datetime(2027, 3, 13, 14, 0, 1, tzinfo=UTC), "0 14 * * *"),  # 14 March 09:00 EDT = 14:00 CET
    (datetime(2027, 3, 28, 14, 0, tzinfo=UTC), "0 15 * * *"),  # 29 March 09:00 EDT = 15:00 CEST
])
def test_daily_spec_in_server_time(server_zone, now, spec):
    start = datetime(2027, 3, 1, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    mailing = SimpleNamespace(start_at=start, end_at=start + timedelta(days=60),
                              frequency=Frequency.DAILY, timezone="America/New_York")

    assert cron.cron_spec(mailing, now) == spec


@pytest.mark.parametrize("now, spec", [
    (datetime(2027, 1, 15, tzinfo=UTC), "30 16 31 * *"),
    (datetime(2027, 2, 2, tzinfo=UTC), "30 16 28 * *"),  # clamped: 28 February
    (datetime(2027, 3, 1, tzinfo=UTC), "30 16 31 * *"),  # 10:30 EDT = 14:30 UTC = 16:30 CEST
    (datetime(2027, 4, 1, tzinfo=UTC), "30 16 30 * *"),  # 10:30 EDT = 16:30 CEST
])
def test_monthly_spec_takes_the_next_occurrences_day(server_zone, now, spec):
    start = datetime(2027, 1, 31, 10, 30, tzinfo=ZoneInfo("America/New_York"))
    mailing = SimpleNamespace(start_at=start.astimezone(UTC),
                              end_at=datetime(2027, 12, 31, tzinfo=UTC),
                              frequency=Frequency.MONTHLY, timezone="America/New_York")

    assert cron.cron_spec(mailing, now) == spec


def test_seconds_fire_on_the_next_minute_and_a_spent_window_has_no_spec(server_zone):
    server_zone("UTC")
    start = datetime(2027, 1, 1, 23, 59, 30, tzinfo=UTC)
    mailing = SimpleNamespace(start_at=start, end_at=start + timedelta(days=3),
                              frequency="weekly", timezone="UTC")

    assert cron.cron_spec(mailing, datetime(2026, 12, 1, tzinfo=UTC)) == "0 0 * * 6"
    assert cron.cron_spec(mailing, start + timedelta(seconds=1)) is None


def test_the_run_rewrites_the_line_when_dst_moves_the_server_time(db, owner, config, paths,
                                                                 server_zone):
    start = datetime(2027, 3, 10, 14, 0, tzinfo=UTC)  # Wednesdays 09:00 EST
    mailing = make_mailing(db, owner, start=start, days=60, zone="America/New_York")

    before = datetime(2027, 3, 10, 13, 0, tzinfo=UTC)
    after = datetime(2027, 3, 10, 14, 1, tzinfo=UTC)  # the run of 10 March is done

    assert cron.keep_in_step(mailing.id, config=config, now=before) == "0 15 * * 3"
    assert cron.keep_in_step(mailing.id, config=config, now=after) == "0 14 * * 3"

    assert str(only_line(paths.crontab, mailing.id).slices) == "0 14 * * 3"


def test_monthly_line_from_jan_31_fires_on_feb_28(db, owner, config, paths, server_zone):
    start = datetime(2027, 1, 31, 15, 30, tzinfo=UTC)  # 10:30 EST
    mailing = make_mailing(db, owner, start=start, days=300, frequency=Frequency.MONTHLY,
                           zone="America/New_York")

    cron.keep_in_step(mailing, config=config, now=datetime(2027, 2, 10, tzinfo=UTC))

    assert str(only_line(paths.crontab, mailing.id).slices) == "30 16 28 * *"


def test_the_dev_runner_fires_the_line_at_the_server_time(db, owner, config, paths, server_zone):
    mailing = make_mailing(db, owner, start=datetime(2027, 3, 10, 14, 0, tzinfo=UTC),
                           zone="America/New_York")
    cron.install(mailing, config=config, now=datetime(2027, 3, 1, tzinfo=UTC))

    (job,) = due_jobs(paths.crontab, datetime(2027, 3, 10, 14, 59, 30),
                      datetime(2027, 3, 10, 15, 0, 30))

    assert job.comment == f"mailer:default:{mailing.id}"
    assert due_jobs(paths.crontab, datetime(2027, 3, 10, 13, 59, 30),
                    datetime(2027, 3, 10, 14, 0, 30)) == []


# --- sync ----------------------------------------------------------------------------------

FOREIGN_HEAD = (
    "SHELL=/bin/sh\n"
    'MAILTO=""\n'
    "# my backups; keep\n"
    "0 3 * * * /usr/bin/backup # nightly\n"
    "*/5  *  * * *   /usr/bin/poll --quiet   \n"
    "\n"
)
OTHER_INSTANCE = ("0 9 * * 1 /opt/other/python /opt/other/scripts/5_script.py "
                  ">> /opt/other/cron.log 2>&1 # mailer:other:5\n")


def test_sync_installs_missing_lines_prunes_stale_ones_and_leaves_the_rest_byte_identical(
        db, owner, config, paths):
    ok = make_mailing(db, owner)
    missing = make_mailing(db, owner)
    outdated = make_mailing(db, owner)
    paused = make_mailing(db, owner, status=MailingStatus.PAUSED)
    spent = make_mailing(db, owner, start=datetime.now(UTC) - timedelta(days=10), days=5)
    paths.crontab.write_text(
        FOREIGN_HEAD
        + f"0 0 1 1 * /old/python /old/{outdated.id}_script.py # mailer:default:{outdated.id}\n"
        + OTHER_INSTANCE
        + f"1 1 1 1 * /old/python /old/x # mailer:default:{paused.id}\n"
        + f"2 2 2 2 * /old/python /old/y # mailer:default:{outdated.id}\n"
        + f"3 3 3 3 * /old/python /old/z # mailer:default:{spent.id}\n"
        + "0 0 1 1 * /old/python /old/scripts/999_script.py # mailer:default:999\n"
        + "@reboot /usr/bin/startup"  # no final newline
    )
    cron.install(ok, config=config)
    for orphan in (4242, paused.id):
        (paths.scripts / f"{orphan}_script.py").write_text("old")
    (paths.scripts / "notes.txt").write_text("not ours")
    before = paths.crontab.read_text()

    report = cron.sync(db.session, config=config)

    assert (report.installed, report.removed, report.unchanged) == (2, 4, 1)
    after = paths.crontab.read_text()
    assert after.startswith(FOREIGN_HEAD)
    assert OTHER_INSTANCE in after and "@reboot /usr/bin/startup\n" in after

    def foreign(text):
        return [line for line in text.splitlines() if "mailer:default:" not in line]

    assert foreign(after) == foreign(before)
    jobs = tagged_jobs(paths.crontab)
    assert sorted(jobs) == sorted([ok.id, missing.id, outdated.id])
    assert all(len(found) == 1 for found in jobs.values())
    for mailing in (ok, missing, outdated):
        assert jobs[mailing.id][0].command == expected_command(paths, mailing.id)
        assert str(jobs[mailing.id][0].slices) == cron.cron_spec(mailing)
    assert sorted(p.name for p in paths.scripts.iterdir()) == sorted(
        [f"{ok.id}_script.py", f"{missing.id}_script.py", f"{outdated.id}_script.py", "notes.txt"])
    listed = [mailing_id for mailing_id, _, _ in cron.list_lines(config=config)]
    assert listed == sorted([ok.id, missing.id, outdated.id])

    again = cron.sync(db.session, config=config)

    assert (again.installed, again.removed, again.unchanged) == (0, 0, 3)
    assert paths.crontab.read_text() == after


def test_sync_drops_the_lines_of_a_blocked_owner(db, make_user, config, paths):
    blocked = make_user(email="blocked@example.com")
    mailing = make_mailing(db, blocked)
    cron.install(mailing, config=config)
    blocked.active = False
    db.session.commit()

    report = cron.sync(db.session, config=config)

    assert report.removed == 1
    assert tagged_jobs(paths.crontab) == {}
    assert cron.keep_in_step(mailing.id, config=config) is None


def test_sync_of_ten_thousand_mailings_reads_and_writes_the_crontab_once(db, owner, config, paths):
    message = Message(owner=owner, subject="Bulk", body="x")
    db.session.add(message)
    db.session.flush()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    db.session.execute(sa.insert(Mailing), [
        {"owner_id": owner.id, "message_id": message.id, "start_at": start + timedelta(minutes=n),
         "end_at": start + timedelta(days=90), "timezone": "Europe/Moscow",
         "frequency": Frequency.DAILY, "status": MailingStatus.CREATED}
        for n in range(10_000)])
    db.session.commit()
    paths.crontab.write_text(FOREIGN_HEAD)

    started = time.monotonic()
    report = cron.sync(db.session, config=config)
    first = time.monotonic() - started
    started = time.monotonic()
    again = cron.sync(db.session, config=config)
    second = time.monotonic() - started

    assert (report.installed, report.unchanged) == (10_000, 0)
    assert (again.installed, again.removed, again.unchanged) == (0, 0, 10_000)
    assert len(cron.list_lines(config=config)) == 10_000
    assert paths.crontab.read_text().startswith(FOREIGN_HEAD)
    assert first < 30 and second < 10, (first, second)


def test_remove_leaves_another_instances_line_for_the_same_id(config, paths):
    mine = "0 9 * * 1 /x/python /x/scripts/5_script.py # mailer:default:5\n"
    paths.crontab.write_text(OTHER_INSTANCE + mine)

    assert cron.remove(5, config=config) is True
    assert paths.crontab.read_text() == OTHER_INSTANCE
    assert cron.remove(5, config=config) is False


# --- the CLI -------------------------------------------------------------------------------

def test_cron_sync_and_list_commands(runner, db, owner, paths, server_zone):
    first = make_mailing(db, owner, start=datetime(2027, 3, 10, 14, 0, tzinfo=UTC),
                         zone="America/New_York")
    second = make_mailing(db, owner, start=datetime(2027, 3, 11, 8, 0, tzinfo=UTC),
                          frequency=Frequency.DAILY)
    paths.crontab.write_text(OTHER_INSTANCE)

    synced = runner.invoke(args=["cron", "sync"])

    assert synced.exit_code == 0, synced.output
    assert synced.output == (f"Synced {paths.crontab} (instance 'default'): "
                             "2 installed, 0 removed, 0 unchanged\n")

    listed = runner.invoke(args=["cron", "list"])

    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines() == [
        f"{first.id}\t0 15 * * 3\t{expected_command(paths, first.id)}",
        f"{second.id}\t0 9 * * *\t{expected_command(paths, second.id)}",
        f"2 lines for instance 'default' in {paths.crontab}",
    ]


def test_cron_commands_refuse_the_user_crontab_in_tests(make_app):
    result = make_app().test_cli_runner().invoke(args=["cron", "list"])

    assert result.exit_code != 0
    assert "refusing to touch the user's crontab" in result.output


# --- failures and the testing guard -------------------------------------------------------

def test_a_failing_crontab_write_keeps_the_saved_mailing(make_app, db, owner, material, overrides,
                                                         paths, caplog, monkeypatch):
    message, clients = material
    (paths.root / "not-a-directory").write_text("")
    unwritable = paths.root / "not-a-directory" / "crontab"
    broken = make_app(**{**overrides, "CRONTAB_FILE": str(unwritable)})
    # The session's in-process Alembic upgrade (logging.fileConfig) disabled every logger
    # that existed then, the app's among them; a server process never runs it.
    monkeypatch.setattr(broken.logger, "disabled", False)
    web = broken.test_client()
    AuthActions(web).login()

    with caplog.at_level(logging.ERROR):
        page = create(web, form_data(message, clients)).get_data(as_text=True)

    assert "Mailing saved." in page
    assert db.session.scalar(sa.select(sa.func.count(Mailing.id))) == 1
    assert "run `flask cron sync` to repair it" in caplog.text
    with broken.app_context():  # the test's own context (db) is another app's
        failed = broken.test_cli_runner().invoke(args=["cron", "sync"])
    assert failed.exit_code != 0 and "cannot" in failed.output


def test_without_a_crontab_file_tests_leave_cron_alone(make_app, db, owner, material, paths):
    message, clients = material
    quiet = make_app(SCRIPTS_DIR=str(paths.scripts), CRON_LOG=str(paths.log),
                     CRON_PYTHON=str(paths.python))
    web = quiet.test_client()
    AuthActions(web).login()

    assert "Mailing saved." in create(web, form_data(message, clients)).get_data(as_text=True)
    assert not cron.cron_enabled(quiet)
    assert not paths.scripts.exists() and not paths.log.parent.exists()


# --- starting at once ---------------------------------------------------------------------

def wait_for(path, text, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_saving_a_mailing_due_now_starts_its_script_without_waiting(client, db, owner, material,
                                                                    paths):
    message, clients = material
    zone = ZoneInfo("America/New_York")
    start = (datetime.now(zone) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    end = (datetime.now(zone) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")

    began = time.monotonic()
    page = create(client, form_data(message, clients, start_at=start, end_at=end))
    took = time.monotonic() - began

    assert "Mailing saved." in page.get_data(as_text=True)
    assert took < 2.5  # the stand-in python sleeps 3 s: the request did not wait for it
    mailing = the_mailing(db)
    script = paths.scripts / f"{mailing.id}_script.py"
    started = wait_for(paths.started, "start")
    assert started.splitlines() == [f"start {script}"]
    assert script.exists()
    # No later occurrence in the window, so no line: this run is the last one.
    assert tagged_jobs(paths.crontab) == {}


def test_an_occurrence_already_attempted_is_not_started_again(db, owner, config, paths):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    mailing = make_mailing(db, owner, start=start, days=3, frequency=Frequency.WEEKLY)
    sent = make_mailing(db, owner, start=start, days=3, frequency=Frequency.WEEKLY)
    db.session.add(Attempt(mailing=sent, occurrence_at=start, status=AttemptStatus.SUCCESS))
    db.session.commit()
    later = make_mailing(db, owner)  # starts tomorrow
    paused = make_mailing(db, owner, start=start, days=3, status=MailingStatus.PAUSED)

    assert cron.start_now(sent.id, config=config) is None
    assert cron.start_now(later.id, config=config) is None
    assert cron.start_now(paused.id, config=config) is None
    process = cron.start_now(mailing.id, config=config)

    assert process is not None
    assert wait_for(paths.started, "start").splitlines() == [
        f"start {paths.scripts / f'{mailing.id}_script.py'}"]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


# --- settings -------------------------------------------------------------------------------

def test_default_settings_point_at_the_project(monkeypatch):
    for name in ("CRONTAB_FILE", "SCRIPTS_DIR", "CRON_LOG", "CRON_PYTHON", "MAILER_INSTANCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAILER_ENV_FILE", "/srv/mailer/settings.env")

    config = cron.CronConfig.from_config(settings_from_env())

    assert config.python == sys.executable
    assert config.project_root == str(PROJECT_ROOT)
    assert config.scripts_dir == str(PROJECT_ROOT / "scripts")
    assert config.log_file == str(PROJECT_ROOT / "instance" / "logs" / "cron.log")
    assert config.env_file == "/srv/mailer/settings.env"
    assert config.crontab_file is None and config.target == "the user's crontab"
    assert config.instance == "default"
    assert "env_file='/srv/mailer/settings.env'" in cron.script_text(config, 7)


def test_instance_names_that_would_break_the_tag_are_refused(make_app):
    with pytest.raises(ConfigError, match="MAILER_INSTANCE"):
        make_app(MAILER_INSTANCE="two words")
    with pytest.raises(ValueError):
        cron.CronConfig.from_config({"MAILER_INSTANCE": "a:b"})


def test_only_whole_numbers_name_a_script(config):
    with pytest.raises(ValueError):
        config.script_path("1; rm -rf /")
    with pytest.raises(ValueError):
        config.script_path(-3)
    assert config.script_path("12").name == "12_script.py"
