"""Who an API request acts for: the owner of its bearer token, and what their role opens.

The API reads no session cookie: a browser signed in to the site cannot be made to
call it (the API takes no CSRF token), and a token is the only key.
"""
from __future__ import annotations

from flask import abort, g
from flask_login import current_user

from mailer import api_tokens
from mailer.api.problems import problem

BEARER = "bearer"


def _refuse_token():
    abort(problem(401, headers={"WWW-Authenticate": 'Bearer realm="mailer"'}))


def presented_secret(authorization: str | None) -> str | None:
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == BEARER and secret else None


def authenticate(authorization: str | None) -> None:
    """Make the token's owner ``current_user`` for this request, or answer 401."""
    secret = presented_secret(authorization)
    user = api_tokens.owner_of(secret) if secret else None
    if user is None:
        _refuse_token()
    g._login_user = user  # Flask-Login's current_user, without touching the session


def workspace_only() -> None:
    """Clients, messages and mailings are a user's own: a manager's token oversees instead."""
    if not current_user.has_workspace:
        abort(problem(403))


def managers_only() -> None:
    if not (current_user.is_manager or current_user.is_superuser):
        abort(problem(403))


def workspace_or_oversight() -> None:
    """The reports: each user's own attempts, or every attempt for a manager."""
    if not (current_user.has_workspace or current_user.is_manager or current_user.is_superuser):
        abort(problem(403))
