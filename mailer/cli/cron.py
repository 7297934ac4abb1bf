"""``flask cron list`` and ``flask cron sync``: this install's crontab lines."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from mailer.scheduling import cron as scheduling


def _config() -> scheduling.CronConfig:
    if not scheduling.cron_enabled(current_app):
        raise click.ClickException(
            "CRONTAB_FILE is not set and APP_ENV is testing: refusing to touch the user's crontab."
        )
    return scheduling.CronConfig.from_app(current_app)


@click.group("cron")
def cron():
    """The crontab lines that send the mailings."""


@cron.command("list")
@with_appcontext
def list_command():
    """Show this install's lines: mailing id, schedule (server time), command."""
    config = _config()
    try:
        lines = scheduling.list_lines(config=config)
    except scheduling.CronError as error:
        raise click.ClickException(str(error)) from None
    for mailing_id, spec, command in lines:
        click.echo(f"{mailing_id}\t{spec}\t{command}")
    noun = "line" if len(lines) == 1 else "lines"
    click.echo(f"{len(lines)} {noun} for instance {config.instance!r} in {config.target}")


@cron.command("sync")
@with_appcontext
def sync_command():
    """Rebuild this install's lines and scripts from the database and prune stale ones."""
    config = _config()
    try:
        report = scheduling.sync(config=config)
    except scheduling.CronError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Synced {config.target} (instance {config.instance!r}): {report}")
