"""Signed, expiring links in e-mails (itsdangerous): e-mail verification, password reset,
sender confirmation and unsubscribe. Used by accounts, the unsubscribe page and the letters."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

VERIFY_EMAIL = "verify-email"
RESET_PASSWORD = "reset-password"
UNSUBSCRIBE = "unsubscribe"
CONFIRM_SENDER = "confirm-sender"
MAX_AGE = {
    VERIFY_EMAIL: timedelta(hours=48),
    CONFIRM_SENDER: timedelta(hours=48),
    RESET_PASSWORD: timedelta(hours=1),
    # Unsubscribe links sit in old e-mails; a year keeps them useful and still lets them lapse.
    UNSUBSCRIBE: timedelta(days=365),
}


class TokenExpired(Exception):
    pass


class TokenInvalid(Exception):
    pass


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"mailer.{purpose}")


def make_token(purpose: str, payload: Any) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str) -> Any:
    """The payload of a token made for ``purpose``; raises TokenExpired or TokenInvalid."""
    try:
        return _serializer(purpose).loads(
            token, max_age=int(MAX_AGE[purpose].total_seconds())
        )
    except SignatureExpired:
        raise TokenExpired() from None
    except BadSignature:
        raise TokenInvalid() from None
