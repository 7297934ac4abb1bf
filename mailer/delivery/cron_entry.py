"""What a mailing's cron script calls: a quick look first, the full run only when there is work.

Most times cron starts a script there is nothing to do (a monthly line firing
on a day the schedule skips, a send already served, a stale line). That path
reads two rows with SQLAlchemy Core and exits, importing no Flask, no models,
no templates. Only when an occurrence is due and unserved (or a lapsed run
must be taken over, or the mailing has to be closed) is the app built and
``engine.run_mailing`` called, exactly as ``flask force-mail <id>`` does.

Also runnable as ``python -m mailer.delivery.cron_entry <id> [--resume|--ignore-schedule]``,
which is how the web app starts a send in the background.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

import sqlalchemy as sa

from mailer import config, schedule
from mailer.database import UTCDateTime

_metadata = sa.MetaData()
_mailings = sa.Table(
    "mailings", _metadata,
    sa.Column("id", sa.Integer), sa.Column("owner_id", sa.Integer),
    sa.Column("status", sa.String), sa.Column("frequency", sa.String),
    sa.Column("timezone", sa.String), sa.Column("start_at", UTCDateTime),
    sa.Column("end_at", UTCDateTime),
)
_users = sa.Table("users", _metadata, sa.Column("id", sa.Integer), sa.Column("active", sa.Boolean))
_attempts = sa.Table(
    "attempts", _metadata,
    sa.Column("mailing_id", sa.Integer), sa.Column("occurrence_at", UTCDateTime),
    sa.Column("status", sa.String), sa.Column("lease_until", UTCDateTime),
)


def _say(line: str) -> None:
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} {line}", flush=True)


def nothing_to_do(database_url: str, mailing_id: int, now: datetime) -> str | None:
    """Why this run can exit at once, or None when the full run is needed."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            mailing = connection.execute(
                sa.select(_mailings, _users.c.active)
                .join(_users, _users.c.id == _mailings.c.owner_id)
                .where(_mailings.c.id == mailing_id)
            ).first()
            if mailing is None or mailing.status not in ("created", "running") or not mailing.active:
                return None  # the full run reports it (and cron sync removes the line)
            args = (mailing.start_at, mailing.end_at, mailing.frequency, mailing.timezone)
            due = schedule.latest_due(*args, now)
            if due is None:
                return f"mailing {mailing_id}: not due yet"
            if not schedule.has_occurrence_after(*args, now):
                return None  # the last occurrence: the full run closes the mailing
            attempt = connection.execute(
                sa.select(_attempts.c.status, _attempts.c.lease_until)
                .where(_attempts.c.mailing_id == mailing_id, _attempts.c.occurrence_at == due)
            ).first()
    finally:
        engine.dispose()
    if attempt is None:
        return None
    if attempt.status != "sending":
        return f"mailing {mailing_id}: the {due:%Y-%m-%d %H:%M} UTC send is already done"
    if attempt.lease_until is not None and attempt.lease_until > now:
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


def _guarded(mailing_id: int, work) -> int:
    """Run ``work``; a setting or database failure becomes one clear line and exit 1."""
    try:
        return work()
    except config.ConfigError as error:
        _say(f"mailing {mailing_id}: cannot start: {error}")
    except sa.exc.SQLAlchemyError as error:
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
