"""``flask force-mail <id>`` / ``--all``: run mailings' delivery from the shell, as cron would."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from mailer.delivery.engine import EXIT_BAD_ID, EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, run_mailing
from mailer.extensions import db
from mailer.models import Mailing

# The worst outcome of several runs, for the shell: a failure over a partial send over success.
_SEVERITY = {EXIT_OK: 0, EXIT_PARTIAL: 1, EXIT_FAILED: 2, EXIT_BAD_ID: 3}


@click.command("force-mail")
@click.argument("mailing_id", required=False)
@click.option("--all", "every", is_flag=True,
              help="Every mailing that may send (created or running, owner active), one line each.")
@click.option("--ignore-schedule", is_flag=True,
              help="Send now even if no occurrence is due (never for paused, stopped, finished "
                   "or blocked-owner mailings).")
@click.option("--resume", is_flag=True,
              help="Finish the latest occurrence: send to the clients it has not reached.")
@click.option("--join", is_flag=True,
              help="Help with the send in progress: take its batches no worker holds, as another "
                   "host's cron line would.")
@with_appcontext
def force_mail(mailing_id: str | None, every: bool, ignore_schedule: bool, resume: bool,
               join: bool):
    """Run mailing MAILING_ID (or, with --all, every mailing that may send) now, under the same
    conditions and claims as its cron line.

    Prints one line per mailing saying what was done. Exit status: 0 sent (or nothing due),
    1 failed or refused, 2 no such mailing, 3 partly sent; with --all, the worst of them.
    """
    if ignore_schedule + resume + join > 1:
        raise click.UsageError("use one of --ignore-schedule, --resume and --join")
    if every == (mailing_id is not None):
        raise click.UsageError("name one mailing id, or --all")
    if every:
        if resume or join:
            raise click.UsageError("--resume and --join work on one mailing's send: name its id")
        ids = db.session.scalars(sa.select(Mailing.id).where(Mailing.may_send).order_by(Mailing.id)).all()
        codes = [_run(number, ignore_schedule=ignore_schedule) for number in ids]
        if not ids:
            click.echo("no mailing may send now")
        raise SystemExit(max(codes, key=_SEVERITY.get, default=EXIT_OK))
    try:
        number = int(mailing_id)
    except ValueError:
        click.echo(f"mailing id must be a whole number, got {mailing_id!r}", err=True)
        raise SystemExit(EXIT_BAD_ID) from None
    raise SystemExit(_run(number, ignore_schedule=ignore_schedule, resume=resume, join=join))


def _run(mailing_id: int, **how: bool) -> int:
    result = run_mailing(mailing_id, **how)
    click.echo(result.line)
    return result.exit_code
