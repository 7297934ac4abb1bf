import sys

import click
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import IntegrityError

from mailer.auth.forms import PASSWORD_MAX, PASSWORD_MIN
from mailer.auth.services import find_user_by_email, valid_timezone
from mailer.extensions import db
from mailer.models import Role, User, utcnow

ROLE_CHOICE = click.Choice([role.value for role in Role])


@click.group()
def users():
    """Create users and change their roles."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise click.ClickException(
            f"The password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long."
        )
    return password


@users.command("create")
@click.argument("email")
@click.option("--full-name", default="", help="Shown in the menu; defaults to the e-mail.")
@click.option("--role", type=ROLE_CHOICE, default=Role.USER.value, show_default=True)
@click.option("--superuser", is_flag=True, help="Full access to the admin panel.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--timezone", default=None, help="IANA time zone; defaults to DEFAULT_TIMEZONE.")
@click.option("--language", type=click.Choice(["ru", "en"]), default=None)
@with_appcontext
def create_user(email, full_name, role, superuser, password_stdin, timezone, language):
    """Create a verified, active account."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        raise click.ClickException(f"Not a valid e-mail: {error}") from None
    if find_user_by_email(email) is not None:
        raise click.ClickException(f"A user with the e-mail {email} already exists.")
    if timezone is not None and not valid_timezone(timezone):
        raise click.ClickException(f"Unknown time zone: {timezone}")
    password = _read_password(password_stdin)
    user = User(
        email=email,
        full_name=full_name or email,
        role=Role(role),
        is_superuser=superuser,
        timezone=timezone or current_app.config["DEFAULT_TIMEZONE"],
        language=language or current_app.config["DEFAULT_LANGUAGE"],
        email_verified_at=utcnow(),
    )
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException(f"A user with the e-mail {email} already exists.") from None
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
    user.role = Role(role)
    if superuser is not None:
        user.is_superuser = superuser
    db.session.commit()
    click.echo(
        f"{user.email} is now {user.role.value}{' and superuser' if user.is_superuser else ''}."
    )
