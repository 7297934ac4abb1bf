"""The hosts that carry the cron lines, and the one number that says the lines must change.

Every host carries every mailing: each occurrence is claimed once in the database, so N
hosts firing the same line send it once, and a host that dies takes no mailing with it.
Each host brings its own crontab in step by itself (no host ever writes another's): its
``sync`` line runs every minute and rebuilds the lines only when ``schedule_version`` moved
since its last sync, or that sync is an hour old (``sync_entry``). Here is the database's
side of that: the version, bumped once per committed change of what cron must run; the
registry of hosts (``cron_hosts``: who synced which version when, and was last seen); and
the registry's half of the clash check.

Times in ``cron_hosts`` and ``schedule_version`` are the database's clock on PostgreSQL, so
"N min ago" and "behind" compare across hosts whatever their own clocks say; on SQLite
(one host) the host's clock is the database's.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from mailer.models import CronHost, ScheduleVersion
from mailer.quick_database import utc
from mailer.scheduling.cron import CronConfig

__all__ = ["HostRow", "Registry", "bump_version", "clash", "current_version", "database_now",
           "forget", "record_sync", "registry"]

# A row of the same instance and machine seen this recently is a live install.
CLASH_WINDOW = timedelta(minutes=10)
# A host that has not synced a change this long after it was made is behind; one whose sync
# line has not run this long is silent (its cron, or the host, is down).
BEHIND_AFTER = timedelta(minutes=2)
_VERSION_ROW = 1


def database_now(session) -> datetime:
    """The database's clock (PostgreSQL), or this host's where the database is a file."""
    if _dialect(session) == "postgresql":
        return utc(session.scalar(sa.select(sa.func.clock_timestamp())))
    return datetime.now(timezone.utc)


def _now_value(dialect: str):
    """What to write as "now": the server's clock on PostgreSQL, this host's on SQLite."""
    return sa.func.clock_timestamp() if dialect == "postgresql" else datetime.now(timezone.utc)


# --- the schedule version ------------------------------------------------------------------

def bump_version(engine: sa.Engine) -> None:
    """One more committed change of what cron must run, in a transaction of its own
    (the row is made on first use)."""
    table = ScheduleVersion.__table__
    now = _now_value(engine.dialect.name)
    statement = _insert(engine.dialect.name)(table).values(
        id=_VERSION_ROW, version=1, changed_at=now,
    ).on_conflict_do_update(index_elements=["id"],
                            set_={"version": table.c.version + 1, "changed_at": now})
    with engine.begin() as connection:
        connection.execute(statement)


def current_version(session) -> int:
    return session.scalar(sa.select(ScheduleVersion.version)
                          .where(ScheduleVersion.id == _VERSION_ROW)) or 0


# --- this host's row -------------------------------------------------------------------------

def record_sync(engine: sa.Engine, config: CronConfig, machine: str, version: int,
                lines: int) -> None:
    """This host synced ``version`` (read before the sync began) and now has ``lines``
    mailing lines; its own transaction."""
    now = _now_value(engine.dialect.name)
    values = {"crontab": config.crontab_name, "scripts_dir": config.scripts_dir, "lines": lines,
              "synced_version": version, "synced_at": now, "seen_at": now}
    statement = _insert(engine.dialect.name)(CronHost.__table__).values(
        instance=config.instance, machine=machine, **values,
    ).on_conflict_do_update(index_elements=["instance", "machine"], set_=values)
    with engine.begin() as connection:
        connection.execute(statement)


def forget(engine: sa.Engine, instance: str, machine: str) -> bool:
    """A host that left: its row goes (it comes back if its sync line still runs)."""
    with engine.begin() as connection:
        gone = connection.execute(sa.delete(CronHost).where(CronHost.instance == instance,
                                                            CronHost.machine == machine))
    return gone.rowcount > 0


def clash(session, config: CronConfig, machine: str) -> str | None:
    """Why this install must not sync, from the registry, or None.

    This install's row (same instance, same machine) names another crontab or scripts
    folder and was seen within CLASH_WINDOW: a second install of this instance lives on
    this machine, and the two would take turns overwriting the one row (each then believing
    the other's sync was its own) and, on one crontab, each other's lines.
    """
    row = session.execute(
        sa.select(CronHost.crontab, CronHost.scripts_dir, CronHost.seen_at)
        .where(CronHost.instance == config.instance, CronHost.machine == machine)
    ).first()
    if row is None or (row.crontab, row.scripts_dir) == (config.crontab_name, config.scripts_dir):
        return None
    age = database_now(session) - utc(row.seen_at)
    if age > CLASH_WINDOW:
        return None
    return (f"refused: another install with MAILER_INSTANCE={config.instance} on this machine "
            f"({machine}) keeps {row.crontab} with scripts in {row.scripts_dir}, seen "
            f"{_minutes(age)} ago (this one: {config.crontab_name}, {config.scripts_dir}); "
            f"give each install its own MAILER_INSTANCE (or, if that was this install before "
            f"it moved, run `flask cron sync --take-over`)")


# --- every host ------------------------------------------------------------------------------

@dataclass(frozen=True)
class HostRow:
    instance: str
    machine: str
    crontab: str
    lines: int
    synced_version: int
    synced_at: datetime | None
    seen_at: datetime
    behind: bool  # has not synced a change made more than BEHIND_AFTER ago
    silent: bool  # its sync line has not run for BEHIND_AFTER


@dataclass(frozen=True)
class Registry:
    version: int
    changed_at: datetime | None
    now: datetime  # the database's clock, which the rows' times are on
    hosts: list[HostRow]


def registry(session) -> Registry:
    """Every registered host, by instance and machine, and the version they follow."""
    now = database_now(session)
    version_row = session.execute(sa.select(ScheduleVersion.version, ScheduleVersion.changed_at)
                                  .where(ScheduleVersion.id == _VERSION_ROW)).first()
    version, changed_at = (version_row.version, utc(version_row.changed_at)) if version_row \
        else (0, None)
    # "Behind" needs both: a change older than BEHIND_AFTER (a host's minute may not have
    # come yet) and a last sync older than that (a host that synced since is in step or
    # syncing again now).
    change_is_old = changed_at is None or now - changed_at > BEHIND_AFTER
    hosts = []
    rows = session.execute(
        sa.select(CronHost.instance, CronHost.machine, CronHost.crontab, CronHost.lines,
                  CronHost.synced_version, CronHost.synced_at, CronHost.seen_at)
        .order_by(CronHost.instance, CronHost.machine))
    for row in rows:
        synced_at, seen_at = utc(row.synced_at), utc(row.seen_at)
        hosts.append(HostRow(
            row.instance, row.machine, row.crontab, row.lines, row.synced_version, synced_at,
            seen_at,
            behind=row.synced_version < version and change_is_old
            and (synced_at is None or now - synced_at > BEHIND_AFTER),
            silent=now - seen_at > BEHIND_AFTER,
        ))
    return Registry(version, changed_at, now, hosts)


# --- helpers ---------------------------------------------------------------------------------

def _insert(dialect: str):
    """The INSERT that has ON CONFLICT ... DO UPDATE: the two databases this app runs on."""
    if dialect == "postgresql":
        return postgresql.insert
    from sqlalchemy.dialects import sqlite  # not loaded by a process on PostgreSQL
    return sqlite.insert


def _dialect(session) -> str:
    return session.get_bind().dialect.name


def _minutes(age: timedelta) -> str:
    return f"{max(0, int(age.total_seconds() // 60))} min"
