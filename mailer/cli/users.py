import sys

import click
from flask.cli import with_appcontext

from mailer.auth import services as accounts
from mailer.auth.services import find_user_by_email
from mailer.config import LANGUAGES
from mailer.errors import ServiceError
from mailer.models import Role

ROLE_CHOICE = click.Choice([role.value for role in Role])


@click.group()
def users():
    """Create users and change their roles."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users.command("create")
@click.argument("email")
@click.option("--full-name", default="", help="Shown in the menu; defaults to the e-mail.")
@click.option("--role", type=ROLE_CHOICE, default=Role.USER.value, show_default=True)
@click.option("--superuser", is_flag=True, help="Full access to the admin panel.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--timezone", default=None, help="IANA time zone; defaults to DEFAULT_TIMEZONE.")
@click.option("--language", type=click.Choice(list(LANGUAGES)), default=None)
@with_appcontext
def create_user(email, full_name, role, superuser, password_stdin, timezone, language):
    """Create a verified, active account."""
    password = _read_password(password_stdin)
    try:
        user = accounts.create_account(email, password, full_name=full_name or email, role=Role(role),
                                       superuser=superuser, timezone=timezone, language=language,
                                       verified=True)
    except ServiceError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"Created {user.email} (role {user.role.value}{', superuser' if superuser else ''}).")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
@click.option("--superuser/--no-superuser", default=None, help="Also grant or revoke superuser.")
@with_appcontext
def set_role(email, role, superuser):
    """Change a user's role (and optionally the superuser flag)."""
    user = find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with the e-mail {email}.")
    accounts.set_role(user, Role(role), superuser)
    click.echo(
        f"{user.email} is now {user.role.value}{' and superuser' if user.is_superuser else ''}."
    )
