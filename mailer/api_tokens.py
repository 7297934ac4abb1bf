"""API tokens: made, listed and revoked in the profile; read on every /api/v1/ request.

A token is ``mlr_`` and 43 characters of ``secrets.token_urlsafe(32)`` (256 random
bits). Only its SHA-256 is stored (``ApiToken``), so a copy of the database gives no
one a working token; the token itself is shown once, when made. It acts as its
owner and no more: a user's token opens their workspace, a manager's the manager's
views, and a blocked owner's or an expired token opens nothing.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from mailer.errors import ServiceError
from mailer.extensions import db
from mailer.models import ApiToken, User, utcnow

TOKEN_PREFIX = "mlr_"
SHOWN_PREFIX = 12  # "mlr_" and 8 characters: enough to tell a user's tokens apart
MAX_TOKENS = 20
NAME_LENGTH = 100
# How long a new token lasts, in days; None: until revoked.
LIFETIMES = (30, 90, 365, None)
DEFAULT_LIFETIME = 90
# last_used_at is written at most this often: not a write on every request.
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def may_hold_tokens(user: User) -> bool:
    """Users (their workspace) and managers (their views); content managers keep to the admin."""
    return user.has_workspace or user.is_manager


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def create_token(user: User, name: str, lifetime_days: int | None, now: datetime | None = None) -> NewToken:
    if not may_hold_tokens(user):
        raise ServiceError(_l("Your role has no use for API tokens."))
    name = (name or "").strip()
    if not name:
        raise ServiceError(_l("Name the token after the program that will use it."), field="name")
    if len(name) > NAME_LENGTH or "\x00" in name:
        raise ServiceError(_l("A token's name is at most 100 characters, without NUL."), field="name")
    if lifetime_days not in LIFETIMES:
        raise ServiceError(_l("Choose how long the token lasts."), field="lifetime")
    count = db.session.scalar(sa.select(sa.func.count()).where(ApiToken.user_id == user.id))
    if count >= MAX_TOKENS:
        raise ServiceError(_l("You have %(count)d tokens, the most one may hold. Revoke one first.",
                              count=MAX_TOKENS))
    now = now or utcnow()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_hash(secret), prefix=secret[:SHOWN_PREFIX],
                     created_at=now,
                     expires_at=now + timedelta(days=lifetime_days) if lifetime_days else None)
    db.session.add(token)
    db.session.commit()
    return NewToken(token, secret)


def revoke_token(user: User, token_id: int) -> bool:
    """Delete the user's token with this id; False when they have none such."""
    deleted = db.session.execute(
        sa.delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    db.session.commit()
    return deleted.rowcount > 0


def owner_of(secret: str, now: datetime | None = None) -> User | None:
    """The active user a presented token acts for, or None (unknown, revoked, expired,
    forged, or its owner blocked). Notes when it was last used."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = db.session.execute(
        sa.select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _hash(secret))).first()
    if row is None:
        return None
    token, user = row
    now = now or utcnow()
    if (token.expires_at is not None and token.expires_at <= now) or not user.active \
            or not may_hold_tokens(user):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        db.session.execute(sa.update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        db.session.commit()
    return user
