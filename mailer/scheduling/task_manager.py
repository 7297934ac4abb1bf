"""The TaskManager: what the design card calls it, the one thing that gives mailings to cron.

For each mailing it keeps one generated script and one tagged crontab line, exactly
while the mailing may send (``Mailing.may_send``) and has an occurrence left:

- ``save``       after any change of a mailing: line and script written or taken away;
- ``remove``     a deleted mailing's line and script;
- ``sync``       every line rebuilt from the database, stale ones pruned (``flask cron sync``,
                 and this host's ``sync`` line whenever the schedule version moved);
- ``start_now``  a saved mailing due at this moment starts at once instead of at the next line;
- ``start_run``  the owner's "send now" and "send to those not reached";
- ``lines``      what this instance has in the crontab (``flask cron list``).

``sync`` also keeps the lines that are no mailing's: ``flask bounces fetch``
every ``BOUNCE_FETCH_MINUTES`` while a bounce mailbox is set, and this host's ``sync`` line
every minute (``sync_entry``); it records the sync in the registry of hosts (``hosts``).

The app calls it from one place: ``register`` connects it to ``signals.mailing_changed``,
which the mailing services, the lifecycle and the accounts service send after every
committed change. That listener is also the one home of the schedule version's bump, which
tells every other host to sync. The CLI calls it directly. How a line and a script are
written (the crontab as text, its lock, the script's text) is ``cron``'s.
"""
from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

import sqlalchemy as sa

from mailer import lifecycle
from mailer.extensions import db
from mailer.models import Mailing
from mailer.scheduling import cron, detached, hosts
from mailer.scheduling.cron import CronConfig

__all__ = ["SyncReport", "TaskManager", "cron_enabled", "register"]

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    installed: int = 0
    removed: int = 0
    unchanged: int = 0
    version: int = 0  # the schedule version read before the sync began
    lines: int = 0  # mailing lines in the crontab after it

    def __str__(self) -> str:
        return f"{self.installed} installed, {self.removed} removed, {self.unchanged} unchanged"


class TaskManager:
    """One install's (one ``MAILER_INSTANCE``'s) mailings in one crontab."""

    def __init__(self, config: CronConfig | None = None) -> None:
        self.config = config or CronConfig.from_app()

    @classmethod
    def of(cls, app) -> TaskManager:
        return cls(CronConfig.from_app(app))

    def save(self, mailing_or_id, *, session=None, now: datetime | None = None) -> str | None:
        """Install the mailing if it may send, remove it otherwise; returns the spec or None.

        Called after every change of a mailing and after each run, which is what
        moves a line when a DST change shifts the server-local time. The mailing
        is read under the crontab lock: of two changes racing, the later one's
        state is what the crontab ends with.
        """
        mailing_id = _mailing_id(mailing_or_id)
        with cron.editing(self.config) as tab:
            mailing = _load(mailing_or_id, session)
            spec = cron.cron_spec(mailing, now) if mailing is not None and mailing.may_send else None
            cron.put_or_drop(self.config, tab, mailing_id, spec)
        return spec

    def install(self, mailing, *, now: datetime | None = None) -> str | None:
        """Write (or refresh) the mailing's script and line whatever its status; returns the spec.

        Idempotent: an existing line is rewritten in place, duplicates are dropped.
        With no occurrence left there is nothing to install: line and script go.
        """
        mailing_id = _mailing_id(mailing)
        with cron.editing(self.config) as tab:
            spec = cron.cron_spec(mailing, now)
            cron.put_or_drop(self.config, tab, mailing_id, spec)
        return spec

    def remove(self, mailing_id: int) -> bool:
        """This instance's line(s) and the script of the mailing gone; whether anything went."""
        mailing_id = cron.valid_id(mailing_id)
        with cron.editing(self.config) as tab:
            return cron.put_or_drop(self.config, tab, mailing_id, None)

    def sync(self, session=None, *, now: datetime | None = None,
             take_over: bool = False) -> SyncReport:
        """Rebuild this instance's lines and scripts from the database; prune the rest;
        record in the registry of hosts which schedule version this host now carries.

        One query, one read and at most one write of the crontab, whatever the
        number of mailings. The database is read under the crontab lock, so a
        change committed meanwhile is applied after this rebuild, not under it; the
        version recorded is the one read before, so such a change brings another sync.
        Refused (``cron.CronClash``, nothing changed) while another install of this
        instance writes the crontab or holds this machine's row, unless ``take_over``.
        """
        session = session or _default_session()
        machine = cron.this_machine()
        report = SyncReport(version=hosts.current_version(session))
        with cron.editing(self.config, take_over=take_over) as tab:  # the crontab's view first
            problem = None if take_over else hosts.clash(session, self.config, machine)
            if problem:
                raise cron.CronClash(problem)  # before anything is written
            wanted = _wanted_specs(session, now or datetime.now(timezone.utc))
            if wanted:
                cron.ensure_log_dir(self.config)
            for mailing_id, spec in wanted.items():
                script_changed = cron.write_script(self.config, mailing_id)
                line_changed = tab.put(mailing_id, cron.cron_line(self.config, mailing_id, spec))
                if script_changed or line_changed:
                    report.installed += 1
                else:
                    report.unchanged += 1
            for mailing_id in sorted((tab.ids() | cron.script_ids(self.config)) - wanted.keys()):
                tab.drop(mailing_id)
                tab.remove_script_after_write(mailing_id)
                report.removed += 1
            self._sync_bounces(tab, report)
            cron.put_or_drop(self.config, tab, cron.SYNC, cron.SYNC_SPEC)
            report.lines = len(tab.ids())
        hosts.record_sync(session.get_bind(), self.config, machine, report.version, report.lines)
        return report

    def clash(self, session=None) -> str | None:
        """Why this install must not edit its crontab (the crontab's view, then the
        registry's), or None: what ``flask scheduler`` and ``flask doctor`` ask."""
        tab = cron.Crontab(cron.read_text(self.config), self.config.instance)
        return cron.clash_in(self.config, tab) or hosts.clash(
            session or _default_session(), self.config, cron.this_machine())

    def _sync_bounces(self, tab: cron.Crontab, report: SyncReport) -> None:
        """The line reading the bounce mailbox: there exactly while a mailbox is set."""
        spec = cron.bounces_spec(self.config)
        had = tab.has(cron.BOUNCES) or self.config.script_path(cron.BOUNCES).exists()
        if spec is None and not had:
            return
        changed = cron.put_or_drop(self.config, tab, cron.BOUNCES, spec)
        if spec is None:
            report.removed += 1
        elif changed:
            report.installed += 1
        else:
            report.unchanged += 1

    def lines(self) -> list[tuple[int | str, str, str]]:
        """This instance's lines as (mailing id, spec, command), by id; then the bounce
        mailbox's line, if any (its id is ``cron.BOUNCES``), and the sync line (``cron.SYNC``).

        A line someone commented out shows its spec prefixed with '#'.
        """
        tab = cron.Crontab(cron.read_text(self.config), self.config.instance)
        lines = []
        others = [key for key in (cron.BOUNCES, cron.SYNC) if tab.has(key)]
        for mailing_id in [*sorted(tab.ids()), *others]:
            body = tab.line_of(mailing_id)
            disabled = body.startswith("#")
            body = body.lstrip("#").strip()
            fields = body.split(None, 1 if body.startswith("@") else 5)
            spec = " ".join(fields[:-1])
            command = fields[-1].replace("\\%", "%") if len(fields) > 1 else ""
            lines.append((mailing_id, f"# {spec}" if disabled else spec, command))
        return lines

    def start_now(self, mailing_or_id, *, session=None, now: datetime | None = None,
                  env: Mapping[str, str] | None = None) -> subprocess.Popen | None:
        """Start the mailing's script at once, detached, if an occurrence is due and unsent.

        Due: the window contains now and the latest occurrence so far has no
        Attempt. The script decides again under the database's claim, so a cron
        run at the same moment cannot double-send. Returns without waiting. The
        script finds its settings as under cron (its baked env file); ``env``
        replaces the inherited environment when given.
        """
        mailing = _load(mailing_or_id, session)
        if mailing is None or not mailing.may_send:
            return None
        if not _occurrence_unsent(mailing, now or datetime.now(timezone.utc)):
            return None
        # The script may be gone (no later occurrence left, so no line); the run needs it.
        with cron.locked(self.config):
            cron.write_script(self.config, mailing.id)
        cron.ensure_log_dir(self.config)
        return detached.start_detached([str(self.config.script_path(mailing.id))], self.config,
                                       env=env)

    def start_run(self, mailing_id: int, *flags: str) -> subprocess.Popen:
        """``python -m mailer.delivery.cron_entry <id> [flags]``, detached, on the app's settings:
        the owner's "send now" (``--ignore-schedule``) and "send to those not reached"
        (``--resume``)."""
        cron.ensure_log_dir(self.config)
        return detached.start_detached(
            ["-m", "mailer.delivery.cron_entry", str(cron.valid_id(mailing_id)), *flags],
            self.config, env=detached.run_environment(),
        )


# --- the app's side -----------------------------------------------------------------------

def cron_enabled(app) -> bool:
    """Tests that name no CRONTAB_FILE must never reach the real user crontab."""
    return bool(app.config.get("CRONTAB_FILE")) or app.config.get("APP_ENV") != "testing"


def register(app) -> None:
    """Keep cron in step after every committed change of this app's mailings."""
    from mailer.signals import mailing_changed

    mailing_changed.connect(_on_mailing_changed, sender=app)


# A run changes no mailing's status that sends (created -> running) and moves its line only
# when DST or a clamped month moves the next occurrence's server time: the run's own host
# rewrites its line at once, and every other host's hourly sync long before that occurrence
# (a day away at least, or the stale line finds it claimed). Bumping on each run would make
# every host rebuild every busy minute.
_CHANGES_CRON_FOLLOWS_HOURLY = frozenset({"ran"})


def _on_mailing_changed(sender, mailing=None, change=None, **extra) -> None:
    """Never lets a cron failure reach the request: the change is committed already,
    and ``flask cron sync`` repairs the crontab later."""
    app = sender
    if change not in _CHANGES_CRON_FOLLOWS_HOURLY:
        _bump_schedule_version(app, change)
    if not cron_enabled(app):
        return
    try:
        mailing_id = _mailing_id(mailing)
        tasks = TaskManager.of(app)
        if change == "deleted":
            tasks.remove(mailing_id)
            return
        tasks.save(mailing)
    except Exception:
        app.logger.exception("cron: could not update the crontab after mailing change %r; "
                             "run `flask cron sync` to repair it", change)
        return
    if change in ("created", "updated", "resumed"):
        try:
            tasks.start_now(mailing, env=detached.run_environment())
        except Exception:
            app.logger.exception("cron: could not start mailing %s at once; cron will run it",
                                 mailing_id)


def _bump_schedule_version(app, change) -> None:
    """Every host's sync line rebuilds within a minute (this host's included; the bump is
    made even where this app keeps no crontab, as a web-only host)."""
    try:
        hosts.bump_version(db.engine)
    except Exception:
        app.logger.exception("cron: could not note mailing change %r in schedule_version; the "
                             "other hosts take it up at their hourly sync", change)


# --- the database's side ------------------------------------------------------------------

def _wanted_specs(session, now: datetime) -> dict[int, str]:
    """Every mailing that may send, with its spec, from one query."""
    rows = session.execute(
        sa.select(Mailing.id, Mailing.start_at, Mailing.end_at, Mailing.frequency,
                  Mailing.timezone)
        .where(Mailing.may_send)
        .order_by(Mailing.id)
    ).all()
    wanted: dict[int, str] = {}
    for row in rows:
        try:
            spec = cron.cron_spec(row, now)
        except ValueError as error:  # a zone this host's tzdata does not know
            log.error("cron sync: mailing %s has no usable schedule: %s", row.id, error)
            continue
        if spec is not None:
            wanted[row.id] = spec
    return wanted


def _occurrence_unsent(mailing, now: datetime) -> bool:
    """The window contains now and its latest occurrence so far has no Attempt."""
    if not mailing.start_at <= now <= mailing.end_at:
        return False
    return lifecycle.unclaimed_due(mailing.id, mailing.start_at, mailing.end_at,
                                   cron.frequency_name(mailing.frequency), mailing.timezone,
                                   now) is not None


def _mailing_id(mailing_or_id) -> int:
    if isinstance(mailing_or_id, (int, str)):
        return cron.valid_id(mailing_or_id)
    return cron.valid_id(mailing_or_id.id)


def _load(mailing_or_id, session):
    if not isinstance(mailing_or_id, (int, str)):
        return mailing_or_id
    return (session or _default_session()).get(Mailing, cron.valid_id(mailing_or_id))


def _default_session():
    return db.session
