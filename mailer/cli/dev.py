"""Development helpers: the local mail sink and the crontab-file scheduler."""
from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("mail-sink")
@click.option("--host", default=None, help="Defaults to MAIL_SERVER.")
@click.option("--port", type=int, default=None, help="Defaults to MAIL_PORT.")
@with_appcontext
def mail_sink(host, port):
    """Catch all outgoing mail on loopback into a Maildir (read it at /dev/mail/)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    host = host or current_app.config["MAIL_SERVER"]
    port = port or current_app.config["MAIL_PORT"]
    directory = Path(current_app.config["MAIL_SINK_DIR"])
    directory.parent.mkdir(parents=True, exist_ok=True)
    for sub in ("new", "cur", "tmp"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    controller = Controller(Mailbox(directory), hostname=host, port=port)
    controller.start()
    click.echo(f"Mail sink on {host}:{port}, storing into {directory}")
    try:
        _wait_for_stop_signal()
    finally:
        controller.stop()


def _wait_for_stop_signal() -> None:
    """Block until SIGINT or SIGTERM.

    Handlers are set explicitly: a process started in the background by a
    non-interactive shell (as `make run` does) inherits SIGINT as ignored.
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(3600):
        pass


@click.command("scheduler")
@with_appcontext
def scheduler():
    """Run CRONTAB_FILE's lines on schedule, without a cron daemon (development)."""
    from mailer.scheduling.dev_runner import run_forever

    tabfile = current_app.config["CRONTAB_FILE"]
    if not tabfile:
        raise click.ClickException(
            "CRONTAB_FILE is not set: this scheduler runs a crontab file. "
            "In production the system cron runs the user's crontab."
        )
    _refuse_a_clash()
    click.echo(f"Scheduler reading {tabfile} every minute")
    try:
        run_forever(tabfile, report=click.echo)
    except KeyboardInterrupt:
        pass


def _refuse_a_clash() -> None:
    """Another install of this MAILER_INSTANCE writing the same crontab: its lines and ours
    would overwrite each other, so this scheduler does not start. A database that cannot be
    asked does not stop it; the crontab's own view is checked all the same."""
    import sqlalchemy as sa

    from mailer.scheduling import cron
    from mailer.scheduling.task_manager import TaskManager

    config = cron.CronConfig.from_app()
    try:
        try:
            problem = TaskManager(config).clash()
        except sa.exc.SQLAlchemyError as error:
            click.echo(f"(hosts not checked in the database: {str(error).splitlines()[0]})")
            problem = cron.clash_in(config, cron.Crontab(cron.read_text(config), config.instance))
    except cron.CronError as error:
        raise click.ClickException(str(error)) from None
    if problem:
        raise click.ClickException(problem)
