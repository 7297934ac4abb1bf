"""What a mailing's cron script calls: a quick look first, the full run only when there is work.

Most times cron starts a script there is nothing to do (a monthly line firing
on a day the schedule skips, a send already served, a stale line). That path
reads two rows and exits, importing no Flask, no models, no templates, and on
PostgreSQL not even SQLAlchemy (psycopg alone; SQLite goes through SQLAlchemy
Core). Only when an occurrence is due and unserved (or a lapsed run
must be taken over, or the mailing has to be closed) is the app built and
``engine.run_mailing`` called, exactly as ``flask force-mail <id>`` does.

Before anything else the run takes one of the host's sending slots
(``host_slots``, ``MAILING_MAX_PARALLEL``); with every slot taken it leaves a
note for the running senders and exits, so a crowded minute never runs more
senders than the host can hold. A sender, once its own run is done, runs what
was left for it and helps with sends whose workers died, then gives its slot up.

Also runnable as ``python -m mailer.delivery.cron_entry <id> [--resume|--ignore-schedule]``,
which is how the web app starts a send in the background.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

from mailer import config, quick_database, schedule
from mailer.delivery import host_slots

def _say(line: str) -> None:
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} {line}", flush=True)


class _Postgres:
    """PostgreSQL through psycopg alone: importing SQLAlchemy costs more than the whole look."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def mailing(self, mailing_id: int):
        return self.connection.execute(
            "SELECT m.status, m.frequency, m.timezone, m.start_at, m.end_at, u.active"
            " FROM mailings m JOIN users u ON u.id = m.owner_id WHERE m.id = %s", (mailing_id,)
        ).fetchone()

    def attempt(self, mailing_id: int, occurrence: datetime, now: datetime):
        return self.connection.execute(
            "SELECT a.status, a.planned_at IS NOT NULL, EXISTS (SELECT 1 FROM attempt_batches b"
            " WHERE b.attempt_id = a.id AND b.done_at IS NULL"
            " AND (b.lease_until IS NULL OR b.lease_until < %s))"
            " FROM attempts a WHERE a.mailing_id = %s AND a.occurrence_at = %s",
            (now, mailing_id, occurrence),
        ).fetchone()


class _Core:
    """Any other database (SQLite, the embedded default) through SQLAlchemy Core."""

    def __init__(self, connection) -> None:
        import sqlalchemy as sa

        from mailer.database import UTCDateTime

        self.sa, self.connection = sa, connection
        metadata = sa.MetaData()
        self.mailings = sa.Table(
            "mailings", metadata,
            sa.Column("id", sa.Integer), sa.Column("owner_id", sa.Integer),
            sa.Column("status", sa.String), sa.Column("frequency", sa.String),
            sa.Column("timezone", sa.String), sa.Column("start_at", UTCDateTime),
            sa.Column("end_at", UTCDateTime),
        )
        self.users = sa.Table("users", metadata, sa.Column("id", sa.Integer), sa.Column("active", sa.Boolean))
        self.attempts = sa.Table(
            "attempts", metadata,
            sa.Column("id", sa.Integer), sa.Column("mailing_id", sa.Integer),
            sa.Column("occurrence_at", UTCDateTime), sa.Column("status", sa.String),
            sa.Column("planned_at", UTCDateTime),
        )
        self.batches = sa.Table(
            "attempt_batches", metadata,
            sa.Column("attempt_id", sa.Integer), sa.Column("done_at", UTCDateTime),
            sa.Column("lease_until", UTCDateTime),
        )

    def mailing(self, mailing_id: int):
        m, u = self.mailings.c, self.users.c
        return self.connection.execute(
            self.sa.select(m.status, m.frequency, m.timezone, m.start_at, m.end_at, u.active)
            .join_from(self.mailings, self.users, u.id == m.owner_id).where(m.id == mailing_id)
        ).first()

    def attempt(self, mailing_id: int, occurrence: datetime, now: datetime):
        sa, a, b = self.sa, self.attempts.c, self.batches.c
        free = sa.exists().where(b.attempt_id == a.id, b.done_at.is_(None),
                                 sa.or_(b.lease_until.is_(None), b.lease_until < now))
        return self.connection.execute(
            sa.select(a.status, a.planned_at.is_not(None), free)
            .where(a.mailing_id == mailing_id, a.occurrence_at == occurrence)
        ).first()


def _database(database_url: str):
    return quick_database.opened(database_url, _Postgres, _Core)


# models.SENDING_STATUSES as stored, without importing the models (this path is timed by
# bench/startup.py); tests/test_cron_entry.py holds the two equal.
SENDING_STATUS_VALUES = ("created", "running")


def nothing_to_do(database_url: str, mailing_id: int, now: datetime) -> str | None:
    """Why this run can exit at once, or None when the full run is needed."""
    with _database(database_url) as database:
        mailing = database.mailing(mailing_id)
        if mailing is None:
            return None  # the full run reports it (and cron sync removes the line)
        status, frequency, zone, start_at, end_at, owner_active = mailing
        if status not in SENDING_STATUS_VALUES or not owner_active:
            return None
        args = (quick_database.utc(start_at), quick_database.utc(end_at), frequency, zone)
        due = schedule.latest_due(*args, now)
        if due is None:
            return f"mailing {mailing_id}: not due yet"
        if not schedule.has_occurrence_after(*args, now):
            return None  # the last occurrence: the full run closes the mailing
        attempt = database.attempt(mailing_id, due, now)
    if attempt is None:
        return None
    status, planned, anything_free = attempt
    when = f"{due:%Y-%m-%d %H:%M} UTC"
    if status != "sending":
        return f"mailing {mailing_id}: the {when} send is already done"
    if planned and not anything_free:
        return f"mailing {mailing_id}: another run is sending the {when} send"
    return None


def run(mailing_id: int | None, slots: host_slots.Slots | None = None, *,
        resume: bool = False, ignore_schedule: bool = False) -> int:
    """The full run inside the app (what ``flask force-mail`` does); then, holding a slot,
    every run left for a sender and every send abandoned by its workers. ``mailing_id``
    None: only those."""
    from mailer.app_core import create_sending_app
    from mailer.delivery import engine

    app = create_sending_app()
    code = 0
    with app.app_context():
        if mailing_id is not None:
            result = engine.run_mailing(mailing_id, resume=resume, ignore_schedule=ignore_schedule)
            _say(result.line)
            code = result.exit_code
        while slots is not None:
            while (left_id := slots.take_left()) is not None:
                _say(engine.run_mailing(left_id).line)
            for result in engine.serve_waiting():
                _say(result.line)
            slots.release()
            # Released first, then looked again: a run that found every slot taken left its
            # note before trying once more, so either it got this slot or this look sees it.
            if not (slots.left() or engine.anything_waiting()) or not slots.take():
                break
    return code


def serve_left(slots: host_slots.Slots) -> int:
    """Run what was left for a sender, if anything was and a slot is free (the sync line's
    minutely look, for a host whose senders all ended or died)."""
    if slots.left() and slots.take():
        return run(None, slots)
    return 0


def host_slots_of(settings: dict) -> host_slots.Slots:
    return host_slots.Slots(config.INSTANCE_PATH / "run", settings["MAILER_INSTANCE"],
                            settings["MAILING_MAX_PARALLEL"])


def _guarded(mailing_id: int, work) -> int:
    """Run ``work``; a setting or database failure becomes one clear line and exit 1."""
    try:
        return work()
    except config.ConfigError as error:
        _say(f"mailing {mailing_id}: cannot start: {error}")
    except Exception as error:
        if not quick_database.is_database_error(error):
            raise
        cause = getattr(error, "orig", None) or error
        _say(f"mailing {mailing_id}: database error: {' '.join(str(cause).split())}")
    return 1


def main(mailing_id, env_file: str | None = None) -> int:
    """Entry point of ``scripts/<id>_script.py``; returns the exit status."""
    try:
        mailing_id = int(mailing_id)
    except (TypeError, ValueError):
        _say(f"mailing id must be a whole number, got {mailing_id!r}")
        return 2
    if env_file and "MAILER_ENV_FILE" not in os.environ:
        os.environ["MAILER_ENV_FILE"] = env_file

    def work() -> int:
        settings = config.settings_from_env()
        with host_slots_of(settings) as slots:
            if not slots.take():
                slots.leave(mailing_id)
                if slots.take():  # a sender ended meanwhile: this process is one now
                    return run(None, slots)
                _say(f"mailing {mailing_id}: this host is sending {slots.count} runs at once; "
                     f"this one waits for the first of them to finish")
                return 0
            reason = nothing_to_do(settings["SQLALCHEMY_DATABASE_URI"], mailing_id,
                                   datetime.now(timezone.utc))
            if reason is None:
                return run(mailing_id, slots)
            _say(reason)
            slots.release()
            return serve_left(slots)

    return _guarded(mailing_id, work)


def _cli(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    flags = {a for a in argv if a.startswith("--")}
    if len(args) != 1 or not flags <= {"--resume", "--ignore-schedule"} or len(flags) > 1:
        _say("usage: python -m mailer.delivery.cron_entry <mailing id> [--resume|--ignore-schedule]")
        return 2
    if not flags:
        return main(args[0])
    try:
        mailing_id = int(args[0])
    except ValueError:
        _say(f"mailing id must be a whole number, got {args[0]!r}")
        return 2
    return _guarded(mailing_id, lambda: run(mailing_id, resume="--resume" in flags,
                                            ignore_schedule="--ignore-schedule" in flags))


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
