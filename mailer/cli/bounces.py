"""``flask bounces read`` (one message on standard input) and ``flask bounces fetch`` (a mailbox).

Exit statuses follow sysexits(3), which Postfix's pipe(8) and Exim's pipe
transport understand: 0 recorded (or recorded before), 65 (EX_DATAERR) read
but not recorded (no bounce, no letter of ours, empty, too large), 75
(EX_TEMPFAIL) the database could not be reached, so the mail server keeps the
message and tries again later: nothing is lost.
"""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from mailer.bounces import fetching, intake
from mailer.extensions import db

EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75


@click.group("bounces")
def bounces():
    """Bounces and complaints: read them, so dead addresses stop being mailed."""


@bounces.command("read")
@click.option("--recipient", default=None, metavar="ADDRESS",
              help="The envelope recipient (Postfix: ${original_recipient}; Exim: "
                   "$local_part$local_part_suffix@$domain), when the message lacks a Delivered-To.")
@with_appcontext
def read_command(recipient: str | None):
    """Read one message from standard input and record it if it is a bounce or a complaint
    about a letter of ours. Prints one line; exit status 0 recorded, 65 not recorded, 75 try
    again later."""
    limit = current_app.config["BOUNCE_MAX_BYTES"]
    raw = sys.stdin.buffer.read(limit + 1)
    try:
        result = intake.take(raw, source="stdin", recipient=recipient)
    except SQLAlchemyError as error:
        db.session.rollback()
        click.echo(f"database error, try again later: {intake.database_problem(error)}")
        raise SystemExit(EX_TEMPFAIL) from None
    click.echo(result.line)
    raise SystemExit(EX_OK if result.recorded else EX_DATAERR)


@bounces.command("stats")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650),
              help="How far back to count.")
@with_appcontext
def stats_command(days: int):
    """What reached the bounce address lately: how many messages of each outcome (recorded,
    duplicate, not a bounce, unknown, forged, unreadable) and of each kind recorded."""
    outcomes, kinds = intake.counts(days)
    click.echo(f"last {days} days: " + (", ".join(
        f"{count} {outcome.value.replace('_', ' ')}" for outcome, count in outcomes) or "nothing read"))
    if kinds:
        click.echo("recorded: " + ", ".join(f"{count} {kind.value}" for kind, count in kinds))


@bounces.command("fetch")
@with_appcontext
def fetch_command():
    """Read the bounce mailbox (BOUNCE_MAILBOX_*) once: record what is ours, remove only that."""
    code, line = fetching.run(current_app.config)
    click.echo(line)
    raise SystemExit(code)
