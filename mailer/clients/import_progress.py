"""How far an import has got, for the page that waits for it.

An import of 100,000 clients takes about twenty seconds, in one request and one
transaction (all or nothing). Its form carries a token made when the form was
shown; while the upload's request works, ``Progress`` writes the stage and the
rows done so far to the cache under the owner's id and that token, and the page
asks for them (``clients.import_progress_of``) until its answer arrives. The cache is
Redis in production, so any worker can answer; an in-process cache answers only
from the same process (the development server, whose threads share it). Nothing
in the stored progress is the user's text: stages are names, counts are numbers.
"""
from __future__ import annotations

import secrets
import time

from mailer import caching

KEPT_SECONDS = 600
EVERY_SECONDS = 0.25  # at most this often to the cache while rows are read


def new_token() -> str:
    return secrets.token_urlsafe(16)


def valid_token(token: str | None) -> bool:
    return bool(token) and len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()


def _key(owner_id: int, token: str) -> str:
    return f"import-progress:{owner_id}:{token}"


class Progress:
    """Reports an import's stages (reading, checking, saving, then done or refused); without
    a valid token it reports nowhere."""

    def __init__(self, owner_id: int, token: str | None):
        self._key = _key(owner_id, token) if valid_token(token) else None
        self._written_at = 0.0

    def __call__(self, stage: str, done: int, total: int, *, now: bool = True) -> None:
        """``now=False``: a step of a loop, written only if the last write is old enough."""
        if self._key is None:
            return
        moment = time.monotonic()
        if not now and moment - self._written_at < EVERY_SECONDS:
            return
        self._written_at = moment
        caching.put(self._key, {"stage": stage, "done": done, "total": total}, KEPT_SECONDS)


def read(owner_id: int, token: str) -> dict | None:
    """{stage, done, total, percent} of the owner's import with this token, None if unknown."""
    if not valid_token(token):
        return None
    found = caching.peek(_key(owner_id, token))
    if not isinstance(found, dict):
        return None
    total = found["total"]
    return {**found, "percent": min(100, round(100 * found["done"] / total)) if total else 0}
