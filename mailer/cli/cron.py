"""``flask cron list`` and ``flask cron sync``: this install's crontab lines, by the TaskManager."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from mailer.scheduling.cron import CronError
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
    """Show this install's lines: mailing id, schedule (server time), command."""
    tasks = _tasks()
    try:
        lines = tasks.lines()
    except CronError as error:
        raise click.ClickException(str(error)) from None
    for mailing_id, spec, command in lines:
        click.echo(f"{mailing_id}\t{spec}\t{command}")
    noun = "line" if len(lines) == 1 else "lines"
    click.echo(f"{len(lines)} {noun} for instance {tasks.config.instance!r} in {tasks.config.target}")


@cron.command("sync")
@with_appcontext
def sync_command():
    """Rebuild this install's lines and scripts from the database and prune stale ones."""
    tasks = _tasks()
    try:
        report = tasks.sync()
    except CronError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Synced {tasks.config.target} (instance {tasks.config.instance!r}): {report}")
