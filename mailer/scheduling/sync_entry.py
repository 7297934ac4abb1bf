"""What ``scripts/sync_script.py`` calls: this host's crontab brought in step with the database.

Cron runs it every minute on every host (the line ``* * * * * … # mailer:<instance>:sync``
that ``TaskManager.sync`` keeps), so nearly every run finds nothing changed. That path
reads ``schedule_version`` and this host's ``cron_hosts`` row, notes that the host was seen,
and exits printing nothing (1,440 runs a day would bury what the log is for); it imports
no Flask and no models: psycopg alone on PostgreSQL, SQLAlchemy Core on SQLite, as
``mailer.delivery.cron_entry``'s quick look does. Measured with tests/test_cron_hosts.py's
hosts: about 0.3 s a run (half of it importing psycopg) against 1.6 s for a full sync of an
install with no mailing, which is mostly building the app.

Anything else builds the app and runs ``TaskManager.sync``: the version moved since this
host's last sync, that sync is FULL_SYNC_EVERY old (which moves lines for DST and prunes
what a change outside the app left behind), or the row is missing or names another crontab
or scripts folder. The sync records the version it read before it began, so a change made
during it brings another a minute later; a version lower than the host's (the database
restored from a backup) is a change too. One line says what happened.

Then, with a sending slot free, the line runs what a crowded minute left for senders
and sends whose workers all died (their leases lapsed, on any host): a dead host's
half-sent mailing is finished within a minute or two by whichever host looks first.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from mailer import config, quick_database
from mailer.delivery.cron_entry import SENDING_STATUS_VALUES
from mailer.scheduling import cron

FULL_SYNC_EVERY = timedelta(hours=1)


def _say(line: str) -> None:
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} sync: {line}", flush=True)


class _Postgres:
    """PostgreSQL through psycopg alone; times on the server's clock, as ``hosts`` writes them."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def look(self, instance: str, machine: str):
        """(now, version, this host's row or None)."""
        row = self.connection.execute(
            "SELECT now(), (SELECT version FROM schedule_version WHERE id = 1),"
            " h.synced_version, h.synced_at, h.crontab, h.scripts_dir"
            " FROM (SELECT 1) AS one"
            " LEFT JOIN cron_hosts h ON h.instance = %s AND h.machine = %s",
            (instance, machine),
        ).fetchone()
        return row[0], row[1] or 0, (row[2:] if row[2] is not None else None)

    def seen(self, instance: str, machine: str) -> None:
        self.connection.execute(
            "UPDATE cron_hosts SET seen_at = now() WHERE instance = %s AND machine = %s",
            (instance, machine),
        )

    def abandoned(self) -> bool:
        """``delivery.batches.abandoned`` of a mailing that may send, in SQL."""
        return self.connection.execute(
            "SELECT EXISTS (SELECT 1 FROM attempts a JOIN mailings m ON m.id = a.mailing_id"
            " JOIN users u ON u.id = m.owner_id WHERE a.status = 'sending' AND u.active"
            " AND m.status = ANY(%s) AND (a.planned_at IS NULL OR ("
            " EXISTS (SELECT 1 FROM attempt_batches b WHERE b.attempt_id = a.id"
            " AND b.done_at IS NULL AND (b.lease_until IS NULL OR b.lease_until < now()))"
            " AND NOT EXISTS (SELECT 1 FROM attempt_batches b WHERE b.attempt_id = a.id"
            " AND b.done_at IS NULL AND b.lease_until >= now()))))",
            (list(SENDING_STATUS_VALUES),),
        ).fetchone()[0]


class _Core:
    """Any other database (SQLite, the embedded default) through SQLAlchemy Core."""

    def __init__(self, connection) -> None:
        import sqlalchemy as sa

        from mailer.database import UTCDateTime

        self.sa, self.connection = sa, connection
        metadata = sa.MetaData()
        self.versions = sa.Table("schedule_version", metadata, sa.Column("id", sa.Integer),
                                 sa.Column("version", sa.BigInteger))
        self.hosts = sa.Table(
            "cron_hosts", metadata,
            sa.Column("instance", sa.String), sa.Column("machine", sa.String),
            sa.Column("synced_version", sa.BigInteger), sa.Column("synced_at", UTCDateTime),
            sa.Column("crontab", sa.String), sa.Column("scripts_dir", sa.String),
            sa.Column("seen_at", UTCDateTime),
        )

    def look(self, instance: str, machine: str):
        h = self.hosts.c
        version = self.connection.scalar(
            self.sa.select(self.versions.c.version).where(self.versions.c.id == 1))
        row = self.connection.execute(
            self.sa.select(h.synced_version, h.synced_at, h.crontab, h.scripts_dir)
            .where(h.instance == instance, h.machine == machine)
        ).first()
        return datetime.now(timezone.utc), version or 0, row

    def seen(self, instance: str, machine: str) -> None:
        h = self.hosts.c
        self.connection.execute(self.sa.update(self.hosts)
                                .where(h.instance == instance, h.machine == machine)
                                .values(seen_at=datetime.now(timezone.utc)))

    def abandoned(self) -> bool:
        """One host on SQLite: its senders help with such a send when they run
        (``engine.serve_waiting``); no look here."""
        return False


def _database(database_url: str):
    return quick_database.opened(database_url, _Postgres, _Core)


@dataclass(frozen=True)
class Look:
    """What one connection each minute tells: whether this host is in step (then it was noted
    as seen), and whether a send waits for a worker because all of its workers died."""

    in_step: bool
    abandoned: bool


def look(database_url: str, tab: cron.CronConfig, machine: str) -> Look:
    """In step: this host synced the current version within FULL_SYNC_EVERY, from the same
    crontab and scripts folder."""
    with _database(database_url) as database:
        now, version, row = database.look(tab.instance, machine)
        abandoned = database.abandoned()
        if row is None:
            return Look(False, abandoned)
        synced_version, synced_at, crontab, scripts_dir = row
        synced_at = quick_database.utc(synced_at)
        if (synced_version != version or synced_at is None
                or not now - FULL_SYNC_EVERY < synced_at
                or (crontab, scripts_dir) != (tab.crontab_name, tab.scripts_dir)):
            return Look(False, abandoned)
        database.seen(tab.instance, machine)
        return Look(True, abandoned)


def sync() -> tuple[int, str]:
    """The full sync inside the app (what ``flask cron sync`` does): (exit status, line)."""
    from mailer import create_app
    from mailer.scheduling.task_manager import TaskManager, cron_enabled

    app = create_app()
    with app.app_context():
        if not cron_enabled(app):
            return 1, "CRONTAB_FILE is not set and APP_ENV is testing: the user's crontab is left alone"
        tasks = TaskManager.of(app)
        try:
            report = tasks.sync()
        except cron.CronError as error:
            return 1, str(error)
    return 0, (f"{tasks.config.target} (instance {tasks.config.instance!r}) now at schedule "
               f"version {report.version}: {report}")


def main(env_file: str | None = None) -> int:
    """Entry point of ``scripts/sync_script.py``; returns the exit status."""
    if env_file and "MAILER_ENV_FILE" not in os.environ:
        os.environ["MAILER_ENV_FILE"] = env_file
    try:
        settings = config.settings_from_env()
        try:
            tab = cron.CronConfig.from_config(settings)
        except ValueError as error:  # MAILER_INSTANCE or a path that cannot be in a line
            raise config.ConfigError(str(error)) from None
        found = look(settings["SQLALCHEMY_DATABASE_URI"], tab, cron.this_machine())
        if not found.in_step:
            code, line = sync()
            _say(line)
            if code:
                return code
        return _serve_left(settings, found.abandoned)
    except config.ConfigError as error:
        line = f"cannot start: {error}"
    except Exception as error:
        if not quick_database.is_database_error(error):
            raise
        cause = getattr(error, "orig", None) or error
        line = f"database error: {' '.join(str(cause).split())}"
    _say(line)
    return 1


def _serve_left(settings: dict, abandoned: bool) -> int:
    """Runs a crowded minute left for senders that have all ended (or died) since, and sends
    whose workers all died (on another host, perhaps): within a minute, whatever else this
    host's cron fires."""
    from mailer.delivery import cron_entry

    slots = cron_entry.host_slots_of(settings)
    if not (abandoned or slots.left()) or not slots.take():
        return 0  # nothing waits, or a running sender will see to it
    return cron_entry.run(None, slots)
