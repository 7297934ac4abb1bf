"""Whom an unsubscribe link names, and taking that client off every mailing of its owner."""
from __future__ import annotations

from mailer import tokens
from mailer.extensions import db
from mailer.models import Client, utcnow


def client_of_link(token: str) -> tuple[Client | None, str | None]:
    """The client the signed link names, or None and why: "expired", "invalid" or "gone"
    (the client was deleted since the letter went out)."""
    try:
        client_id = tokens.read_token(tokens.UNSUBSCRIBE, token)
    except tokens.TokenExpired:
        return None, "expired"
    except tokens.TokenInvalid:
        return None, "invalid"
    client = db.session.get(Client, client_id) if isinstance(client_id, int) else None
    return client, None if client else "gone"


def unsubscribe(client: Client) -> None:
    """Idempotent: the first time is the one recorded."""
    if client.unsubscribed_at is None:
        client.unsubscribed_at = utcnow()
        db.session.commit()
