"""``flask force-mail <id>``: run a mailing's delivery from the shell, as cron would."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from mailer.delivery.engine import EXIT_BAD_ID, run_mailing


@click.command("force-mail")
@click.argument("mailing_id")
@click.option("--ignore-schedule", is_flag=True,
              help="Send now even if no occurrence is due (never for paused, stopped, finished "
                   "or blocked-owner mailings).")
@click.option("--resume", is_flag=True,
              help="Finish the latest occurrence: send to the clients it has not reached.")
@with_appcontext
def force_mail(mailing_id: str, ignore_schedule: bool, resume: bool):
    """Run mailing MAILING_ID now under the same conditions as its cron line.

    Prints one line saying what was done. Exit status: 0 sent (or nothing due),
    1 failed or refused, 2 no such mailing, 3 partly sent.
    """
    if ignore_schedule and resume:
        raise click.UsageError("use --ignore-schedule or --resume, not both")
    try:
        number = int(mailing_id)
    except ValueError:
        click.echo(f"mailing id must be a whole number, got {mailing_id!r}", err=True)
        raise SystemExit(EXIT_BAD_ID) from None
    result = run_mailing(number, ignore_schedule=ignore_schedule, resume=resume)
    click.echo(result.line)
    raise SystemExit(result.exit_code)
