"""Many hosts, one PostgreSQL: every host carries every mailing, and each brings its own
crontab in step by itself, through its ``sync`` line.

Two "hosts" here are two installs (MAILER_INSTANCE host-a and host-b) on this machine, each
with a crontab file, scripts folder and env file of its own, against the suite's one
database. Host B's crontab changes only when B's own generated sync script runs, started
as cron starts it (a bare environment, the settings from the env file baked in).
"""
from __future__ import annotations

import logging
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from mailer import lifecycle
from mailer.doctor import clock_row
from mailer.models import CronHost, Mailing, ScheduleVersion
from mailer.scheduling import cron, hosts
from tests.conftest import AuthActions, submit
from tests.processes import PROJECT_ROOT
from tests.provision import libfaketime_path
from tests.workspace import create, form_data, make_mailing, make_material


@pytest.fixture
def libfaketime():
    return libfaketime_path()


@pytest.fixture
def make_host(make_app, database_url, smtp_sink, tmp_path):
    """An install of its own: (name, app, crontab, scripts, env file, ...)."""

    def build(name: str, instance: str | None = None, crontab: Path | None = None,
              **extra) -> SimpleNamespace:
        """``extra``: more settings, for the env file and the app alike."""
        place = tmp_path / name
        place.mkdir()
        settings = {
            "APP_ENV": "testing", "SECRET_KEY": "test-secret-key", "DATABASE_URL": database_url,
            "BASE_URL": "http://mailer.test", "MAIL_PORT": smtp_sink.port, "REDIS_URL": "",
            "RATELIMIT_ENABLED": "false", "DEFAULT_LANGUAGE": "en",
            "MAILER_INSTANCE": instance or f"host-{name}",
            "CRONTAB_FILE": crontab or place / "crontab", "SCRIPTS_DIR": place / "scripts",
            "CRON_LOG": place / "cron.log", **extra,
        }
        env_file = place / "mailer.env"
        env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        app = make_app(MAILER_INSTANCE=settings["MAILER_INSTANCE"],
                       CRONTAB_FILE=str(settings["CRONTAB_FILE"]),
                       SCRIPTS_DIR=str(settings["SCRIPTS_DIR"]), CRON_LOG=str(settings["CRON_LOG"]),
                       MAILER_ENV_FILE=str(env_file), **extra)
        return SimpleNamespace(name=name, app=app, instance=settings["MAILER_INSTANCE"],
                               crontab=Path(settings["CRONTAB_FILE"]),
                               scripts=Path(settings["SCRIPTS_DIR"]), env_file=env_file)

    return build


def cli(host, *args):
    with host.app.app_context():
        return host.app.test_cli_runner().invoke(args=list(args))


def run_sync_script(host) -> subprocess.CompletedProcess:
    """The host's sync line as cron runs it: its script, an empty environment."""
    return subprocess.run([sys.executable, str(host.scripts / "sync_script.py")], cwd="/",
                          env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120)


def mailing_lines(host) -> dict[int, str]:
    """The host's mailing lines by mailing id."""
    tab = cron.Crontab(host.crontab.read_text() if host.crontab.exists() else "", host.instance)
    return {mailing_id: tab.line_of(mailing_id) for mailing_id in tab.ids()}


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def version(db) -> int:
    db.session.rollback()  # a fresh look, not this session's snapshot
    return db.session.scalar(sa.select(ScheduleVersion.version)) or 0


@pytest.fixture
def two_hosts(make_host, make_user):
    """Hosts A and B, each synced once by `flask cron sync` (as at deploy), and the owner of the
    mailings, signed in on host A's web app."""
    a, b = make_host("a"), make_host("b")
    for host in (a, b):
        synced = cli(host, "cron", "sync")
        assert synced.exit_code == 0, synced.output
    owner = make_user(email="user@example.com", timezone="America/New_York", language="en")
    a.web = a.app.test_client()
    AuthActions(a.web).login()
    return a, b, owner


# --- a change made on one host reaches the other by the other's own sync -----------------

def test_a_mailing_saved_on_host_a_reaches_host_b_only_by_b_s_own_sync(two_hosts, db):
    a, b, owner = two_hosts
    message, clients = make_material(db, owner)
    before = version(db)
    b_before = snapshot(b.crontab)

    page = create(a.web, form_data(message, clients)).get_data(as_text=True)

    assert "Mailing saved." in page
    mailing_id = db.session.scalar(sa.select(Mailing.id))
    assert list(mailing_lines(a)) == [mailing_id]  # the saving host's own crontab, at once
    assert version(db) == before + 1
    assert snapshot(b.crontab) == b_before  # never written by host A

    done = run_sync_script(b)

    assert done.returncode == 0, done.stdout + done.stderr
    (line,) = done.stdout.splitlines()
    assert f"sync: {b.crontab} (instance 'host-b') now at schedule version {before + 1}: " \
           "1 installed, 0 removed, 0 unchanged" in line
    assert list(mailing_lines(b)) == [mailing_id]
    assert str(b.scripts / f"{mailing_id}_script.py") in mailing_lines(b)[mailing_id]
    assert (b.scripts / f"{mailing_id}_script.py").exists()
    row = db.session.scalars(sa.select(CronHost).where(CronHost.instance == "host-b")).one()
    assert (row.synced_version, row.lines, row.crontab, row.scripts_dir) == \
        (before + 1, 1, str(b.crontab), str(b.scripts))


def test_nothing_changed_costs_b_no_rebuild_and_no_log_line(two_hosts, db):
    a, b, owner = two_hosts
    make_mailing(db, owner)  # straight into the database: no host is told
    assert run_sync_script(b).returncode == 0  # B's first minute: synced at deploy, nothing new
    settled = snapshot(b.crontab)
    seen = db.session.scalar(sa.select(CronHost.seen_at).where(CronHost.instance == "host-b"))

    done = run_sync_script(b)

    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert snapshot(b.crontab) == settled
    assert mailing_lines(b) == {}  # nothing told B of the mailing made behind the app's back...
    db.session.rollback()
    assert db.session.scalar(sa.select(CronHost.seen_at).where(CronHost.instance == "host-b")) > seen

    synced_at = db.session.scalar(sa.select(CronHost.synced_at).where(CronHost.instance == "host-b"))
    db.session.execute(sa.update(CronHost).where(CronHost.instance == "host-b")
                       .values(synced_at=synced_at - timedelta(hours=1)))
    db.session.commit()
    hourly = run_sync_script(b)  # ...until its hourly full sync

    assert hourly.returncode == 0 and "1 installed" in hourly.stdout, hourly.stdout + hourly.stderr
    assert len(mailing_lines(b)) == 1


def test_a_stopped_and_a_deleted_mailing_leave_host_b_at_its_next_sync(two_hosts, db):
    a, b, owner = two_hosts
    message, clients = make_material(db, owner)
    create(a.web, form_data(message, clients))
    create(a.web, form_data(message, clients[:1], frequency="daily"))
    first, second = db.session.scalars(sa.select(Mailing).order_by(Mailing.id)).all()
    ids = [first.id, second.id]
    assert run_sync_script(b).returncode == 0
    assert sorted(mailing_lines(b)) == ids

    lifecycle.stop(first, "Complaints")  # on a third app: a web host that keeps no crontab
    submit(a.web, f"/mailings/{ids[1]}/delete", {}, form_url="/mailings/")
    assert sorted(mailing_lines(b)) == ids  # until B's minute comes
    assert sorted(mailing_lines(a)) == ids[:1]  # A deleted its own line; the stop is news

    done = run_sync_script(b)

    assert done.returncode == 0 and "2 removed" in done.stdout, done.stdout + done.stderr
    assert mailing_lines(b) == {}
    assert sorted(p.name for p in b.scripts.iterdir()) == ["sync_script.py"]
    assert "1 removed" in run_sync_script(a).stdout and mailing_lines(a) == {}


def test_a_change_made_during_b_s_sync_brings_another(two_hosts, db):
    """The version B records is the one it read before its sync began: a change committed
    while B waits for its crontab makes B sync again a minute later, not never."""
    a, b, owner = two_hosts
    message, clients = make_material(db, owner)
    create(a.web, form_data(message, clients))
    seen_first = version(db)
    with cron.locked(cron.CronConfig.from_app(b.app)):  # B's crontab busy, as under a web edit
        syncing = subprocess.Popen([sys.executable, str(b.scripts / "sync_script.py")], cwd="/",
                                   env={"PATH": "/usr/bin:/bin"}, stdout=subprocess.PIPE, text=True)
        wait_until(lambda: read_the_version_and_waits(db))
        create(a.web, form_data(message, clients[:1]))  # the version moves on while B waits
    first = syncing.communicate(timeout=60)[0]

    assert f"now at schedule version {seen_first}: 2 installed" in first  # both mailings all the same
    again = run_sync_script(b)
    assert f"now at schedule version {seen_first + 1}: 0 installed, 0 removed, 2 unchanged" \
        in again.stdout, again.stdout + again.stderr
    assert run_sync_script(b).stdout == ""


def read_the_version_and_waits(db) -> bool:
    """Whether a session has read schedule_version and waits, its transaction open (B's sync
    script, between reading the version and taking the crontab's lock). The script's quick
    look, which reads the version with its cron_hosts row just before, is not that: on a busy
    machine the poll could catch it between its two statements."""
    db.session.rollback()  # pg_stat_activity is read once per transaction
    return bool(db.session.scalar(sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND state = 'idle in transaction' AND query LIKE '%FROM schedule_version%'"
        " AND query NOT LIKE '%cron_hosts%'")))


def wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def test_a_failing_bump_never_breaks_the_request(two_hosts, db, caplog, monkeypatch):
    a, b, owner = two_hosts
    message, clients = make_material(db, owner)
    monkeypatch.setattr(a.app.logger, "disabled", False)  # see test_cron's crontab-write failure
    db.session.execute(sa.text("ALTER TABLE schedule_version RENAME TO schedule_version_away"))
    db.session.commit()
    try:
        with caplog.at_level(logging.ERROR):
            page = create(a.web, form_data(message, clients)).get_data(as_text=True)
    finally:
        db.session.execute(sa.text("ALTER TABLE schedule_version_away RENAME TO schedule_version"))
        db.session.commit()

    assert "Mailing saved." in page
    assert len(mailing_lines(a)) == 1  # the saving host's crontab is kept in step all the same
    assert "could not note mailing change 'created' in schedule_version" in caplog.text


# --- the registry ---------------------------------------------------------------------------

def test_cron_list_shows_every_host_with_its_last_sync(two_hosts, db):
    a, b, owner = two_hosts
    message, clients = make_material(db, owner)
    create(a.web, form_data(message, clients))
    assert run_sync_script(a).returncode == 0 and run_sync_script(b).returncode == 0

    listed = cli(a, "cron", "list")

    assert listed.exit_code == 0, listed.output
    text = listed.output.split("\n\n", 1)[1].splitlines()
    assert text[0] == f"Hosts carrying the lines (schedule version {version(db)}):"
    assert text[1].split() == ["instance", "machine", "lines", "last", "synced"]
    machine = cron.this_machine()
    rows = {line.split()[0]: line for line in text[2:]}
    assert sorted(rows) == ["host-a", "host-b"]
    for instance, line in rows.items():
        assert line.split()[1:4] == [machine, "1", time.strftime("%Y-%m-%d", time.gmtime())]
        assert "UTC, 0 min ago" in line
        assert "behind" not in line and "silent" not in line
    assert rows["host-a"].endswith("this host") and not rows["host-b"].endswith("this host")

    # B misses a change made five minutes ago, and its sync line stopped running.
    now = hosts.database_now(db.session)
    db.session.execute(sa.update(ScheduleVersion).values(
        version=ScheduleVersion.version + 1, changed_at=now - timedelta(minutes=5)))
    db.session.execute(sa.update(CronHost).where(CronHost.instance == "host-b").values(
        synced_at=now - timedelta(minutes=7, seconds=10), seen_at=now - timedelta(minutes=6, seconds=10)))
    db.session.commit()

    later = cli(a, "cron", "list").output

    (b_row,) = [line for line in later.splitlines() if line.startswith("host-b ")]
    assert "7 min ago" in b_row and b_row.endswith("behind; silent, last seen 6 min ago")


def test_forget_drops_a_host_that_left(two_hosts, db):
    a, b, owner = two_hosts

    forgotten = cli(a, "cron", "forget", cron.this_machine(), "--instance", "host-b")

    assert forgotten.exit_code == 0, forgotten.output
    assert db.session.scalars(sa.select(CronHost.instance)).all() == ["host-a"]
    assert cli(a, "cron", "forget", "nowhere").exit_code == 1


# --- two installs of one instance writing one crontab ---------------------------------------

def test_a_second_install_of_the_same_instance_on_the_same_crontab_is_refused(make_host, db,
                                                                              make_user):
    first = make_host("first", instance="shop")
    make_mailing(db, make_user())
    assert cli(first, "cron", "sync").exit_code == 0
    second = make_host("second", instance="shop", crontab=first.crontab)
    cron.write_script(cron.CronConfig.from_app(second.app), cron.SYNC)  # as if it had synced once
    settled = snapshot(first.crontab)

    synced = cli(second, "cron", "sync")
    scripted = run_sync_script(second)
    scheduler = cli(second, "scheduler")

    for refused in (synced.output, scripted.stdout, scheduler.output):
        assert "refused: lines tagged mailer:shop: in " in refused, refused
        assert f"call scripts in {first.scripts}, not in this install's {second.scripts}" in refused
        assert "give each install its own MAILER_INSTANCE" in refused
    assert (synced.exit_code, scripted.returncode, scheduler.exit_code) == (1, 1, 1)
    assert len(scripted.stdout.splitlines()) == 1
    assert snapshot(first.crontab) == settled
    assert sorted(p.name for p in second.scripts.iterdir()) == ["sync_script.py"]
    doctor = cli(second, "doctor").output
    (row,) = [line for line in doctor.splitlines() if "cron instance" in line]
    assert row.startswith("failure") and f"call scripts in {first.scripts}" in row

    taken = cli(second, "cron", "sync", "--take-over")  # what a moved SCRIPTS_DIR needs

    assert taken.exit_code == 0, taken.output
    assert all(str(second.scripts) in line for line in mailing_lines(second).values())


def test_the_registry_refuses_the_same_instance_with_another_crontab_on_this_machine(make_host):
    first = make_host("first", instance="shop")
    assert cli(first, "cron", "sync").exit_code == 0
    second = make_host("second", instance="shop")  # a crontab of its own: nothing in it clashes

    synced = cli(second, "cron", "sync")

    assert synced.exit_code == 1
    assert (f"refused: another install with MAILER_INSTANCE=shop on this machine "
            f"({cron.this_machine()}) keeps {first.crontab} with scripts in {first.scripts}, "
            f"seen 0 min ago") in synced.output
    assert not second.crontab.exists()


# --- clocks ----------------------------------------------------------------------------------

def test_doctor_compares_this_hosts_clock_with_the_databases(two_hosts, libfaketime):
    a, _b, _owner = two_hosts
    doctor = cli(a, "doctor").output
    (row,) = [line for line in doctor.splitlines() if line.split()[1:2] == ["clock"]]
    assert row.startswith("ok") and ("s ahead of the database's (±" in row
                                     or "s behind the database's (±" in row), row

    env = {"PATH": "/usr/bin:/bin", "MAILER_ENV_FILE": str(a.env_file), "FLASK_SKIP_DOTENV": "1",
           "LD_PRELOAD": libfaketime, "FAKETIME": "+90s", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "MAILER_HOME": str(PROJECT_ROOT)}
    ahead = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "doctor"], cwd=PROJECT_ROOT,
                           env=env, capture_output=True, text=True, timeout=120)

    (row,) = [line for line in ahead.stdout.splitlines() if line.split()[1:2] == ["clock"]]
    assert row.startswith("failure"), ahead.stdout + ahead.stderr
    assert "s ahead of the database's" in row and "over 60 s (MAILING_LEASE_SECONDS/10)" in row


@pytest.mark.parametrize("offset, lease, status", [
    (0.3, 600, "ok"), (-1.9, 600, "ok"), (2.5, 600, "warning"), (-59, 600, "warning"),
    (61, 600, "failure"), (-61, 600, "failure"), (2.5, 10, "failure"),
])
def test_clock_limits(offset, lease, status):
    assert clock_row(offset, 0.002, lease).status == status


# --- what else the hosts share ---------------------------------------------------------------

def test_one_host_at_a_time_reads_the_bounce_mailbox(make_app, db):
    """Every host carries the bounces line, and cron fires it in the same minute on each."""
    from mailer.bounces import fetching
    from tests.smtp_servers import closed_port

    app = make_app(BOUNCE_MAILBOX_HOST="127.0.0.1", BOUNCE_MAILBOX_PORT=closed_port(),
                   BOUNCE_MAILBOX_SECURITY="none", BOUNCE_MAILBOX_USER="bounces",
                   BOUNCE_MAILBOX_PASSWORD="secret")
    with db.engine.connect() as other_host:
        assert other_host.scalar(sa.select(sa.func.pg_try_advisory_lock(fetching.MAILBOX_LOCK_KEY)))
        with app.app_context():
            waited = fetching.run(app.config)
        other_host.execute(sa.select(sa.func.pg_advisory_unlock(fetching.MAILBOX_LOCK_KEY)))
    with app.app_context():
        tried = fetching.run(app.config)

    assert waited == (0, f"imap bounces@127.0.0.1:{app.config['BOUNCE_MAILBOX_PORT']}: "
                         "another host is reading it now")
    assert tried[0] == 1 and "connection refused" in tried[1]


def test_doctor_names_the_hosts_that_share_a_database_without_redis(two_hosts, db):
    a, _b, _owner = two_hosts
    db.session.add(CronHost(instance="default", machine="web2", crontab="user crontab of mailer",
                            scripts_dir="/var/lib/mailer/scripts", seen_at=hosts.database_now(db.session)))
    db.session.commit()

    (row,) = [line for line in cli(a, "doctor").output.splitlines() if line.split()[1:2] == ["Redis"]]

    assert "2 hosts share this database: each counts its own sign-in attempts" in row
