"""What a mailing's cron script calls: a quick look first, the full run only when there is work.

Most times cron starts a script there is nothing to do (a monthly line firing
on a day the schedule skips, a send already served, a stale line). That path
reads two rows and exits, importing no Flask, no models, no templates, and on
PostgreSQL not even SQLAlchemy (psycopg alone; SQLite goes through SQLAlchemy
Core). Only when an occurrence is due and unserved (or a lapsed run
must be taken over, or the mailing has to be closed) is the app built and
``engine.run_mailing`` called, exactly as ``flask force-mail <id>`` does.

Also runnable as ``python -m mailer.delivery.cron_entry <id> [--resume|--ignore-schedule]``,
which is how the web app starts a send in the background.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator
from urllib.parse import parse_qsl, unquote, urlsplit

from mailer import config, schedule

def _say(line: str) -> None:
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} {line}", flush=True)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class _Postgres:
    """PostgreSQL through psycopg alone: importing SQLAlchemy costs more than the whole look."""

    def __init__(self, connection) -> None:
        self.connection = connection

    def mailing(self, mailing_id: int):
        return self.connection.execute(
            "SELECT m.status, m.frequency, m.timezone, m.start_at, m.end_at, u.active"
            " FROM mailings m JOIN users u ON u.id = m.owner_id WHERE m.id = %s", (mailing_id,)
        ).fetchone()

    def attempt(self, mailing_id: int, occurrence: datetime):
        return self.connection.execute(
            "SELECT status, lease_until FROM attempts WHERE mailing_id = %s AND occurrence_at = %s",
            (mailing_id, occurrence),
        ).fetchone()


@contextmanager
def _postgres(database_url: str) -> Iterator[_Postgres]:
    import psycopg

    url = urlsplit(database_url)
    params = {"host": url.hostname, "port": url.port, "dbname": unquote(url.path.lstrip("/")),
              "user": unquote(url.username or ""), "password": unquote(url.password or ""),
              **dict(parse_qsl(url.query))}
    with psycopg.connect(**{key: value for key, value in params.items() if value}) as connection:
        yield _Postgres(connection)


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
            sa.Column("mailing_id", sa.Integer), sa.Column("occurrence_at", UTCDateTime),
            sa.Column("status", sa.String), sa.Column("lease_until", UTCDateTime),
        )

    def mailing(self, mailing_id: int):
        m, u = self.mailings.c, self.users.c
        return self.connection.execute(
            self.sa.select(m.status, m.frequency, m.timezone, m.start_at, m.end_at, u.active)
            .join_from(self.mailings, self.users, u.id == m.owner_id).where(m.id == mailing_id)
        ).first()

    def attempt(self, mailing_id: int, occurrence: datetime):
        a = self.attempts.c
        return self.connection.execute(
            self.sa.select(a.status, a.lease_until)
            .where(a.mailing_id == mailing_id, a.occurrence_at == occurrence)
        ).first()


@contextmanager
def _core(database_url: str) -> Iterator[_Core]:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            yield _Core(connection)
    finally:
        engine.dispose()


def _database(database_url: str):
    if urlsplit(database_url).scheme in ("postgresql", "postgresql+psycopg", "postgres"):
        return _postgres(database_url)
    return _core(database_url)


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
        args = (_utc(start_at), _utc(end_at), frequency, zone)
        due = schedule.latest_due(*args, now)
        if due is None:
            return f"mailing {mailing_id}: not due yet"
        if not schedule.has_occurrence_after(*args, now):
            return None  # the last occurrence: the full run closes the mailing
        attempt = database.attempt(mailing_id, due)
    if attempt is None:
        return None
    status, lease_until = attempt[0], _utc(attempt[1])
    if status != "sending":
        return f"mailing {mailing_id}: the {due:%Y-%m-%d %H:%M} UTC send is already done"
    if lease_until is not None and lease_until > now:
        return f"mailing {mailing_id}: another run is sending the {due:%Y-%m-%d %H:%M} UTC send"
    return None


def run(mailing_id: int, *, resume: bool = False, ignore_schedule: bool = False) -> int:
    """The full run inside the app (what ``flask force-mail`` does)."""
    from mailer import create_app
    from mailer.delivery.engine import run_mailing

    app = create_app()
    with app.app_context():
        result = run_mailing(mailing_id, resume=resume, ignore_schedule=ignore_schedule)
    _say(result.line)
    return result.exit_code


def _is_database_error(error: Exception) -> bool:
    """A driver's or SQLAlchemy's error, told apart without importing either."""
    return any(cls.__module__.split(".")[0] in ("sqlalchemy", "psycopg", "sqlite3")
               for cls in type(error).__mro__)


def _guarded(mailing_id: int, work) -> int:
    """Run ``work``; a setting or database failure becomes one clear line and exit 1."""
    try:
        return work()
    except config.ConfigError as error:
        _say(f"mailing {mailing_id}: cannot start: {error}")
    except Exception as error:
        if not _is_database_error(error):
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
        reason = nothing_to_do(settings["SQLALCHEMY_DATABASE_URI"], mailing_id,
                               datetime.now(timezone.utc))
        if reason:
            _say(reason)
            return 0
        return run(mailing_id)

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
