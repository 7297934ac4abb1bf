"""``flask cron list``, ``flask cron sync`` and ``flask cron forget``: this install's crontab
lines, by the TaskManager, and the registry of the hosts that carry them."""
from __future__ import annotations

from datetime import datetime

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from mailer.extensions import db
from mailer.scheduling import hosts
from mailer.scheduling.cron import CronError, this_machine
from mailer.scheduling.task_manager import TaskManager, cron_enabled


def _tasks() -> TaskManager:
    if not cron_enabled(current_app):
        raise click.ClickException(
            "CRONTAB_FILE is not set and APP_ENV is testing: refusing to touch the user's crontab."
        )
    return TaskManager.of(current_app)


@click.group("cron")
def cron():
    """The crontab lines that send the mailings."""


@cron.command("list")
@with_appcontext
def list_command():
    """Show this install's lines: mailing id, schedule (server time), command; then every
    host that carries the lines, with its last sync."""
    tasks = _tasks()
    try:
        lines = tasks.lines()
    except CronError as error:
        raise click.ClickException(str(error)) from None
    for mailing_id, spec, command in lines:
        click.echo(f"{mailing_id}\t{spec}\t{command}")
    noun = "line" if len(lines) == 1 else "lines"
    click.echo(f"{len(lines)} {noun} for instance {tasks.config.instance!r} in {tasks.config.target}")
    try:
        registry = hosts.registry(db.session)
    except sa.exc.SQLAlchemyError as error:
        cause = " ".join(str(getattr(error, "orig", None) or error).split())
        raise click.ClickException(f"cannot read the hosts from the database: {cause}") from None
    click.echo("")
    for line in _host_table(registry, (tasks.config.instance, this_machine())):
        click.echo(line)


def _host_table(registry: hosts.Registry, this_host: tuple[str, str]) -> list[str]:
    """Plain text columns: instance, machine, lines, last synced, and what is wrong."""
    title = f"Hosts carrying the lines (schedule version {registry.version}):"
    if not registry.hosts:
        return [title, "none has synced yet: run `flask cron sync` on each host"]
    rows = [("instance", "machine", "lines", "last synced", "")]
    for host in registry.hosts:
        notes = [word for word, flag in (("this host", (host.instance, host.machine) == this_host),
                                         ("behind", host.behind), ("silent", host.silent)) if flag]
        if host.silent:
            notes[-1] = f"silent, last seen {_ago(registry.now, host.seen_at)}"
        synced = "never" if host.synced_at is None else \
            f"{host.synced_at:%Y-%m-%d %H:%M} UTC, {_ago(registry.now, host.synced_at)}"
        rows.append((host.instance, host.machine, str(host.lines), synced, "; ".join(notes)))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return [title] + ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                      + (f"  {row[4]}" if row[4] else "") for row in rows]


def _ago(now: datetime, then: datetime) -> str:
    return f"{max(0, int((now - then).total_seconds() // 60))} min ago"


@cron.command("sync")
@click.option("--take-over", is_flag=True,
              help="Rewrite this instance's lines even where they call another scripts folder "
                   "(after moving SCRIPTS_DIR or CRONTAB_FILE); never for two live installs.")
@with_appcontext
def sync_command(take_over: bool):
    """Rebuild this install's lines and scripts from the database and prune stale ones."""
    tasks = _tasks()
    try:
        report = tasks.sync(take_over=take_over)
    except CronError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Synced {tasks.config.target} (instance {tasks.config.instance!r}): {report}")


@cron.command("forget")
@click.argument("machine")
@click.option("--instance", default=None, help="Defaults to this install's MAILER_INSTANCE.")
@with_appcontext
def forget_command(machine: str, instance: str | None):
    """Drop a host that left from the registry (remove its crontab lines first, or it comes
    back within a minute)."""
    instance = instance or current_app.config["MAILER_INSTANCE"]
    if not hosts.forget(db.engine, instance, machine):
        raise click.ClickException(f"no host {machine!r} with instance {instance!r} is registered")
    click.echo(f"Forgot host {machine!r} (instance {instance!r})")
