"""``flask doctor``: is this install able to send? One row per check, and the fix."""
import click
from flask.cli import with_appcontext

from mailer import doctor as checks

COLOURS = {checks.OK: "green", checks.WARNING: "yellow", checks.FAILURE: "red"}


@click.command("doctor")
@click.option("--problems-only", is_flag=True, help="Print only warnings and failures.")
@with_appcontext
def doctor(problems_only: bool):
    """Check the configuration against the world; exit status 1 on any failure."""
    rows = checks.run_checks()
    for line in checks.render(rows, problems_only,
                              style=lambda text, status: click.style(text, fg=COLOURS[status])):
        click.echo(line)
    if checks.failed(rows):
        raise SystemExit(1)
