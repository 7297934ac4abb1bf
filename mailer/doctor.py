"""``flask doctor``: the configuration checked against the world, one row per check.

Each check answers ok, warning or failure, with what it saw and, when it is not
ok, the fix. Nothing waits longer than ``MAIL_TIMEOUT`` (a hung mail server, a
Redis that does not answer): a doctor that hangs would be no help.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from mailer.config import MIGRATIONS_DIR
from mailer.delivery.probe import probe_mail_server
from mailer.scheduling import cron
from mailer.scheduling.dev_runner import heartbeat_path

OK, WARNING, FAILURE = "ok", "warning", "failure"
SCHEDULER_HEARTBEAT_SECONDS = 150  # `flask scheduler` ticks every minute
# This host's clock against the database's: cron fires, and a run decides which occurrence is
# due, by the local clock, while leases are compared on the database's. A host off by a
# minute starts sends a minute early or late, and its runs' quick look misjudges leases (the
# claim itself does not); a tenth of MAILING_LEASE_SECONDS (60 s by default) is the failure.
CLOCK_WARNING_SECONDS = 2.0
CLOCK_LEASE_FRACTION = 10
WEAK_KEYS = frozenset({"", "dev", "secret", "changeme", "change-me", "test", "development"})


@dataclass(frozen=True)
class Row:
    check: str
    status: str
    seen: str
    fix: str = ""


def run_checks() -> list[Row]:
    rows: list[Row] = []
    for check in (_database, _secret_key, _base_url, _scheduler, _cron_instance, _clock,
                  _mail_server, _bounces, _redis, _directories):
        rows.extend(check(current_app.config))
    return rows


# -- database ---------------------------------------------------------------

def _database(config) -> Iterator[Row]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from mailer.extensions import db

    url = db.engine.url
    where = f"{url.get_backend_name()} {url.database}" + (f" at {url.host}" if url.host else "")
    try:
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except sa.exc.SQLAlchemyError as error:
        yield Row("database", FAILURE, f"{where}: {_first_line(error)}",
                  "check DATABASE_URL and that the database server is running")
        return
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if current != head:
        yield Row("database", FAILURE, f"{where}: schema at {current or 'nothing'}, code at {head}",
                  "run: flask db upgrade")
    else:
        yield Row("database", OK, f"{where}, migrations current ({head})")
    if config["APP_ENV"] == "production" and url.get_backend_name() == "sqlite":
        yield Row("database engine", WARNING, "SQLite in production (ALLOW_SQLITE=true)",
                  "one host and one process writing at a time; PostgreSQL for anything more")


def _secret_key(config) -> Iterator[Row]:
    key = config.get("SECRET_KEY") or ""
    if config["APP_ENV"] == "development":
        yield Row("SECRET_KEY", OK, "development: a random key kept under instance/")
    elif key.lower() in WEAK_KEYS or len(key) < 32 or len(set(key)) < 10:
        yield Row("SECRET_KEY", FAILURE if config["APP_ENV"] == "production" else WARNING,
                  f"{len(key)} characters, easy to guess",
                  "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    else:
        yield Row("SECRET_KEY", OK, f"{len(key)} characters")


def _base_url(config) -> Iterator[Row]:
    base_url = config["BASE_URL"]
    if config["APP_ENV"] == "production" and not base_url.startswith("https://"):
        yield Row("BASE_URL", FAILURE, f"{base_url}: e-mail links and cookies travel unencrypted",
                  "serve over TLS (deploy/nginx-mailer.conf) and set BASE_URL=https://…")
    else:
        yield Row("BASE_URL", OK, base_url)


# -- who runs the mailings ----------------------------------------------------

def _scheduler(config) -> Iterator[Row]:
    if config["SCHEDULER"] == "flask":
        yield from _crontab_file(config["CRONTAB_FILE"])
    else:
        yield from _user_crontab()


def _crontab_file(crontab_file: str) -> Iterator[Row]:
    path = Path(crontab_file)
    if not _writable_place(path):
        yield Row("crontab", FAILURE, f"{path} cannot be written",
                  f"create {path.parent} and let this user write it")
        return
    yield Row("crontab", OK, f"{path} (SCHEDULER=flask)")
    heartbeat = heartbeat_path(path)
    age = time.time() - heartbeat.stat().st_mtime if heartbeat.exists() else None
    if age is None or age > SCHEDULER_HEARTBEAT_SECONDS:
        since = "never seen" if age is None else f"last seen {int(age // 60)} min ago"
        yield Row("scheduler", FAILURE, f"flask scheduler is not running ({since}): no mailing sends",
                  "start it: flask scheduler (deploy/mailer-scheduler.service)")
    else:
        yield Row("scheduler", OK, f"flask scheduler running (ticked {int(age)} s ago)")


def _user_crontab() -> Iterator[Row]:
    if shutil.which("crontab") is None:
        yield Row("crontab", FAILURE, "no crontab program", "install cron: apt-get install cron")
        return
    try:
        cron.read_text(cron.CronConfig.from_app())  # read as the TaskManager reads it
    except cron.CronError as error:
        yield Row("crontab", FAILURE, str(error), "let this user use cron (/etc/cron.allow)")
    else:
        yield Row("crontab", OK, "this user's crontab (SCHEDULER=cron)")
    daemons = _running_programs() & {"cron", "crond", "busybox-crond"}
    if daemons:
        yield Row("cron daemon", OK, f"{', '.join(sorted(daemons))} running")
    else:
        yield Row("cron daemon", FAILURE, "no cron daemon running: no mailing sends",
                  "systemctl enable --now cron")


def _cron_instance(config) -> Iterator[Row]:
    """No second install of this MAILER_INSTANCE writes this crontab (or holds this machine's
    row in the registry of hosts): their lines would overwrite each other."""
    from mailer.extensions import db
    from mailer.scheduling import hosts

    tab_config = cron.CronConfig.from_app()
    try:
        tab = cron.Crontab(cron.read_text(tab_config), tab_config.instance)
    except cron.CronError:
        return  # the crontab row says why
    problem = cron.clash_in(tab_config, tab)
    if problem is None:
        try:
            problem = hosts.clash(db.session, tab_config, cron.this_machine())
        except sa.exc.SQLAlchemyError:
            db.session.rollback()  # the database row says why
    if problem:
        yield Row("cron instance", FAILURE, problem.removeprefix("refused: "),
                  "give each install on this machine its own MAILER_INSTANCE, then "
                  "flask cron sync (--take-over after moving SCRIPTS_DIR or CRONTAB_FILE)")
    else:
        yield Row("cron instance", OK, f"{tab_config.instance!r}: no other install writes its "
                  f"lines in {tab_config.target}")


def _clock(config) -> Iterator[Row]:
    """This host's clock against the database's, the one clock every host shares."""
    from mailer.extensions import db

    if db.engine.dialect.name != "postgresql":
        yield Row("clock", OK, "n/a, one host (the database is a file on it)")
        return
    try:
        with db.engine.connect() as connection:  # connected first: the round trip is one query
            before = time.time()
            database_time = connection.scalar(sa.select(sa.func.clock_timestamp()))
            after = time.time()
    except sa.exc.SQLAlchemyError:
        return  # the database row says why
    yield clock_row(database_time.timestamp() - (before + after) / 2, after - before,
                    config["MAILING_LEASE_SECONDS"])


def clock_row(offset: float, round_trip: float, lease_seconds: int) -> Row:
    """The row for a database clock ``offset`` seconds ahead of this host's (negative:
    behind), measured over a ``round_trip`` of that many seconds."""
    side = "behind" if offset > 0 else "ahead of"
    seen = (f"this host's clock is {abs(offset):.1f} s {side} the database's "
            f"(±{round_trip / 2:.3f} s)")
    limit = max(lease_seconds / CLOCK_LEASE_FRACTION, CLOCK_WARNING_SECONDS)
    fix = "keep every host's clock and the database's on NTP (systemd-timesyncd or chrony)"
    if abs(offset) > limit:
        return Row("clock", FAILURE, f"{seen}: over {limit:g} s (MAILING_LEASE_SECONDS/"
                   f"{CLOCK_LEASE_FRACTION}), this host starts sends early or late by as much", fix)
    if abs(offset) > CLOCK_WARNING_SECONDS:
        return Row("clock", WARNING, f"{seen}: over {CLOCK_WARNING_SECONDS:g} s", fix)
    return Row("clock", OK, seen)


def _running_programs() -> set[str]:
    names = set()
    for status in Path("/proc").glob("[0-9]*/comm"):
        try:
            names.add(status.read_text().strip())
        except OSError:
            continue
    return names


# -- services -----------------------------------------------------------------

def _mail_server(config) -> Iterator[Row]:
    yield from (Row(*finding) for finding in probe_mail_server(config))


def _bounces(config) -> Iterator[Row]:
    """Whether what comes back is read: a VERP return path, and the mailbox, when set, opens."""
    return_path = config.get("MAIL_RETURN_PATH")
    if not return_path:
        yield Row("bounces", WARNING, "MAIL_RETURN_PATH is not set: bounces go to each sender's own "
                  "address and nobody reads them, so dead addresses are mailed for ever",
                  "set MAIL_RETURN_PATH=bounces@<your domain> and deliver bounces+*@ to "
                  "`flask bounces read` (a pipe) or to a mailbox set in BOUNCE_MAILBOX_*")
        return
    if not config.get("BOUNCE_MAILBOX_HOST"):
        yield Row("bounces", OK, f"to {return_path} (VERP), read by a pipe to `flask bounces read`")
        return
    from mailer.bounces import mailbox

    settings = mailbox.MailboxSettings.from_config(config)
    settings = replace(settings, timeout=min(settings.timeout, config["MAIL_TIMEOUT"]))
    try:
        with mailbox.opened(settings) as box:
            waiting = len(box.keys())
    except mailbox.MailboxError as error:
        yield Row("bounce mailbox", FAILURE, str(error),
                  "check BOUNCE_MAILBOX_HOST, _PORT, _SECURITY, _USER and _PASSWORD")
        return
    yield Row("bounce mailbox", OK, f"{settings.where}: {waiting} message(s) in "
              f"{settings.folder}, read every {config['BOUNCE_FETCH_MINUTES']} min")


def _redis(config) -> Iterator[Row]:
    url = config.get("REDIS_URL")
    if not url:
        detail = "not set: cache and rate limits live in each process"
        machines = _machines_sharing_the_database()
        if machines > 1:
            detail += (f", and {machines} hosts share this database: each counts its own sign-in "
                       f"attempts and shows a changed page later")
        yield Row("Redis", WARNING if config["APP_ENV"] == "production" else OK, detail,
                  "set REDIS_URL (one Redis for every host) so that all workers share rate limits "
                  "and the cache" if config["APP_ENV"] == "production" else "")
        return
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as error:
        yield Row("Redis", FAILURE, f"{_safe_url(url)}: {_first_line(error)}", "check REDIS_URL and the Redis server")
    else:
        yield Row("Redis", OK, _safe_url(url))


def _machines_sharing_the_database() -> int:
    """How many machines synced cron lines from this database in the last day (0 if unknown)."""
    from mailer.extensions import db
    from mailer.models import CronHost

    try:
        since = datetime.now(timezone.utc) - timedelta(days=1)
        return db.session.scalar(sa.select(sa.func.count(sa.distinct(CronHost.machine)))
                                 .where(CronHost.seen_at > since)) or 0
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return 0


def _directories(config) -> Iterator[Row]:
    places: list[tuple[str, Path]] = [
        ("SCRIPTS_DIR", Path(config["SCRIPTS_DIR"])), ("CRON_LOG", Path(config["CRON_LOG"]).parent),
        ("UPLOAD_FOLDER", Path(config["UPLOAD_FOLDER"]))]
    for name, path in places:
        if _writable_place(path / ".probe"):
            yield Row(name, OK, f"{path} writable")
        else:
            yield Row(name, FAILURE, f"{path} cannot be written", "create it and let this user write it")


def _writable_place(path: Path) -> bool:
    """Whether ``path`` can be written: it is writable, or its nearest existing folder is."""
    if path.exists():
        return os.access(path, os.W_OK)
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    return os.access(folder, os.W_OK | os.X_OK)


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]


def failed(rows: list[Row]) -> bool:
    return any(row.status == FAILURE for row in rows)


def render(rows: list[Row], only_problems: bool = False,
           style: Callable[[str, str], str] = lambda text, status: text) -> Iterator[str]:
    width = max((len(row.check) for row in rows), default=0)
    for row in rows:
        if only_problems and row.status == OK:
            continue
        line = f"{style(row.status.ljust(7), row.status)}  {row.check.ljust(width)}  {row.seen}"
        yield line + (f"\n{' ' * (11 + width)}fix: {row.fix}" if row.fix and row.status != OK else "")
