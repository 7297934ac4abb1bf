"""Accounts: registration, verification, sign-in checks, password reset, profile.

Services validate, store and commit; they raise ``ServiceError`` (with the
form field it concerns) and never touch the request, flash or the session.
"""
from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from mailer import lifecycle, senders, tokens
from mailer.auth import emails
from mailer.config import LANGUAGES
from mailer.errors import ServiceError
from mailer.extensions import db
from mailer.models import Mailing, Role, User, new_session_token, normalize_email, utcnow

PASSWORD_MIN = 8
PASSWORD_MAX = 128

@functools.cache
def _dummy_hash() -> str:
    """A real hash to check against when the e-mail is unknown, so a wrong
    address takes as long as a wrong password."""
    return generate_password_hash(secrets.token_hex(16))


class EmailNotVerified(ServiceError):
    def __init__(self, user: User):
        super().__init__(_l("Confirm your e-mail address first: open the link we sent you."))
        self.user = user


class AccountBlocked(ServiceError):
    def __init__(self):
        super().__init__(_l("This account is blocked. Contact the service's manager."))


@dataclass
class Registration:
    email: str
    full_name: str
    password: str
    timezone: str | None = None
    language: str | None = None


@dataclass
class ProfileChange:
    full_name: str
    timezone: str
    language: str


def valid_timezone(name: str) -> bool:
    if not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        return False
    return True


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def check_password(password: str, field: str = "password") -> None:
    """The password policy, the same on sign-up, reset, change and the command line."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ServiceError(_l("The password must be %(min)d to %(max)d characters long.",
                              min=PASSWORD_MIN, max=PASSWORD_MAX), field=field)


def create_account(email: str, password: str, *, full_name: str = "", role: Role = Role.USER,
                   superuser: bool = False, timezone: str | None = None,
                   language: str | None = None, verified: bool = False) -> User:
    """The one place an account is made: sign-up, ``flask users create``, ``flask seed``.

    Raises ServiceError (the e-mail invalid or taken, the password against the policy, an
    unknown time zone or language); nothing is stored then."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise ServiceError(_l("Enter a valid e-mail address."), field="email") from None
    if find_user_by_email(email) is not None:
        raise _email_taken()
    check_password(password)
    if timezone is not None and not valid_timezone(timezone):
        raise ServiceError(_l("Unknown time zone."), field="timezone")
    if language is not None and language not in LANGUAGES:
        raise ServiceError(_l("Choose Russian or English."), field="language")
    user = User(email=email, full_name=full_name.strip(), role=role, is_superuser=superuser,
                timezone=timezone or current_app.config["DEFAULT_TIMEZONE"],
                language=language or current_app.config["DEFAULT_LANGUAGE"],
                email_verified_at=utcnow() if verified else None)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise _email_taken() from None
    return user


def set_role(user: User, role: Role, superuser: bool | None = None) -> None:
    """A user's role (and, when given, the superuser flag); a manager oversees, a content manager
    writes the blog, a user has a workspace (``User.has_workspace``)."""
    user.role = role
    if superuser is not None:
        user.is_superuser = superuser
    db.session.commit()


def update_user(user: User, *, full_name: str, role: Role, superuser: bool, active: bool,
                acting: User) -> None:
    """A superuser's change of an account (the admin). Nobody takes away their own
    administrator rights or blocks themselves: they would be locked out."""
    if user.id == acting.id and not superuser:
        raise ServiceError(_l("You cannot take away your own administrator rights."),
                           field="is_superuser")
    if user.id == acting.id and not active:
        raise ServiceError(_l("You cannot block yourself."), field="active")
    user.full_name = full_name
    user.role = role
    user.is_superuser = superuser
    # Blocking and unblocking tell cron about the user's mailings; they commit the rest too.
    if user.active and not active:
        block_user(user, by=acting)
    elif not user.active and active:
        unblock_user(user)
    else:
        db.session.commit()


def _announce(user: User, change: str) -> None:
    """Tell cron (and anyone listening) about each of the user's mailings."""
    for mailing in db.session.scalars(sa.select(Mailing).where(Mailing.owner_id == user.id)):
        lifecycle.notify(mailing, change)


def block_user(user: User, by: User) -> None:
    """Signed out at once, no sign-in, no sending; their data stays as it is."""
    if user.id == by.id:
        raise ServiceError(_l("You cannot block yourself."))
    if user.is_superuser or user.is_manager:
        raise ServiceError(_l("Managers and administrators cannot be blocked here."))
    if not user.active:
        return
    user.active = False
    user.session_token = new_session_token()
    db.session.commit()
    _announce(user, "owner-blocked")


def unblock_user(user: User) -> None:
    """Signs in again; mailings that were running send again."""
    if user.active:
        return
    user.active = True
    db.session.commit()
    _announce(user, "owner-unblocked")


def register(data: Registration) -> User:
    """An unverified account made by its owner; the browser's time zone when it names one."""
    timezone = data.timezone if data.timezone and valid_timezone(data.timezone) else None
    language = data.language if data.language in LANGUAGES else None
    return create_account(data.email, data.password, full_name=data.full_name, timezone=timezone,
                          language=language)


def _email_taken() -> ServiceError:
    return ServiceError(_l("An account with this e-mail already exists."), field="email")


def _address_link(endpoint: str, purpose: str, user: User, email: str) -> str:
    """A link proving that whoever opens it reads ``email`` (the user's, for ``purpose``)."""
    return emails.external_url(endpoint, token=tokens.make_token(purpose, {"uid": user.id, "email": email}))


def _user_of_address_link(purpose: str, token: str, current_address) -> User:
    """The user an address link was made for, while the address is still theirs;
    raises TokenExpired or TokenInvalid."""
    payload = tokens.read_token(purpose, token)
    user = db.session.get(User, payload.get("uid")) if isinstance(payload, dict) else None
    if user is None or not current_address(user) or current_address(user) != payload.get("email"):
        raise tokens.TokenInvalid()
    return user


def send_verification(user: User) -> bool:
    link = _address_link("auth.verify_email", tokens.VERIFY_EMAIL, user, user.email)
    return emails.send_verification_mail(user, link)


def resend_verification(email: str) -> None:
    """Send a new link if an unverified account has this e-mail; silent otherwise."""
    user = find_user_by_email(email)
    if user is not None and not user.is_verified and user.active:
        send_verification(user)


def verify_email(token: str) -> User:
    """Mark the account's e-mail verified; raises TokenExpired or TokenInvalid."""
    user = _user_of_address_link(tokens.VERIFY_EMAIL, token, lambda u: u.email)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        db.session.commit()
    return user


def authenticate(email: str, password: str) -> User:
    """The user these credentials belong to, if they may sign in."""
    user = find_user_by_email(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        raise ServiceError(_l("Wrong e-mail or password."))
    if not user.check_password(password):
        raise ServiceError(_l("Wrong e-mail or password."))
    if not user.active:
        raise AccountBlocked()
    if not user.is_verified:
        raise EmailNotVerified(user)
    return user


def _reset_fingerprint(user: User) -> str:
    """Changes when the password does, so a used reset link stops working."""
    return user.password_hash[-16:]


def request_password_reset(email: str) -> bool:
    """E-mail a reset link if an active account has this e-mail.

    Returns False only when the mail server failed; an unknown e-mail is not
    revealed to the caller.
    """
    user = find_user_by_email(email)
    if user is None or not user.active:
        return True
    token = tokens.make_token(
        tokens.RESET_PASSWORD, {"uid": user.id, "fp": _reset_fingerprint(user)}
    )
    return emails.send_reset_mail(user, emails.external_url("auth.reset_password", token=token))


def user_for_reset_token(token: str) -> User:
    """The account a reset link is for; raises TokenExpired or TokenInvalid (also once used)."""
    payload = tokens.read_token(tokens.RESET_PASSWORD, token)
    user = db.session.get(User, payload.get("uid")) if isinstance(payload, dict) else None
    if user is None or not user.active or payload.get("fp") != _reset_fingerprint(user):
        raise tokens.TokenInvalid()
    return user


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    check_password(new_password)
    user.set_password(new_password)
    # Opening the link proved the mailbox is theirs.
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    db.session.commit()
    return user


def update_profile(user: User, change: ProfileChange) -> None:
    if not valid_timezone(change.timezone):
        raise ServiceError(_l("Unknown time zone."), field="timezone")
    if change.language not in LANGUAGES:
        raise ServiceError(_l("Choose Russian or English."), field="language")
    user.full_name = change.full_name.strip()
    user.timezone = change.timezone
    user.language = change.language
    db.session.commit()


@dataclass
class SenderChange:
    name: str
    email: str
    reply_to: str


def _header_address(address: str) -> str | None:
    """The address as it goes into a letter's header: lower case, its domain in ASCII (IDNA)."""
    if not address:
        return None
    return normalize_email(validate_email(address, check_deliverability=False).ascii_email)


def update_sender(user: User, change: SenderChange) -> bool:
    """Save the user's sender; a new address waits for the link sent to it (True: it was sent).

    An address on a domain the deployment does not allow is refused here, before any mail.
    """
    email = _header_address(change.email)
    if email and not senders.domain_allowed(email, current_app.config):
        raise ServiceError(_l("Mailings may come only from %(domains)s.",
                              domains=", ".join(senders.allowed_domains(current_app.config))),
                           field="sender_email")
    new_address = email != user.sender_email
    user.sender_name = change.name.strip() or None
    user.reply_to = _header_address(change.reply_to)
    if new_address:
        user.sender_email = email
        user.sender_confirmed_at = None
    db.session.commit()
    if new_address and email:
        return send_sender_confirmation(user)
    return False


def send_sender_confirmation(user: User) -> bool:
    link = _address_link("auth.confirm_sender", tokens.CONFIRM_SENDER, user, user.sender_email)
    return emails.send_sender_confirmation_mail(user, link)


def confirm_sender(token: str) -> User:
    """Put the sender address in use; raises TokenExpired or TokenInvalid (also when the user
    has since set another address)."""
    user = _user_of_address_link(tokens.CONFIRM_SENDER, token, lambda u: u.sender_email)
    if user.sender_confirmed_at is None:
        user.sender_confirmed_at = utcnow()
        db.session.commit()
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Set a new password; every other session of the user ends."""
    if not user.check_password(current_password):
        raise ServiceError(_l("The current password is wrong."), field="current_password")
    check_password(new_password)
    user.set_password(new_password)
    db.session.commit()



def set_language(user: User, language: str) -> None:
    if language not in LANGUAGES:
        raise ServiceError(_l("Choose Russian or English."), field="language")
    user.language = language
    db.session.commit()
