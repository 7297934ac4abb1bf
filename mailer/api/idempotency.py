"""``Idempotency-Key`` on the API's creating and sending requests: the same key again gets the
first answer again, so a retried request never creates or sends twice
(draft-ietf-httpapi-idempotency-key-header).

The key is reserved in the database before the work starts, under a unique constraint,
so two copies arriving at once on two hosts cannot both run: the second is told the
first still runs (409). A key used with another method, path or body is refused (422).
Successes are kept for a day. A refusal (4xx) or an error frees the key: nothing was
done, so the same request may be sent again with it once the cause is mended (the
mailing resumed, the address corrected).
"""
from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import wraps

import sqlalchemy as sa
from flask import Response, abort, make_response, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from mailer.api.problems import problem
from mailer.extensions import db
from mailer.models import IdempotentRequest, utcnow

HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)
MAX_LENGTH = 255

PARAMETER = {
    "name": HEADER, "in": "header", "required": False,
    "description": "Any unique string (a UUID): the same key again gets the first answer "
                   "again instead of a second run. Kept for 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH, "pattern": "^[\\x21-\\x7e]+$"},
}


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.full_path):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _checked_key(key: str) -> str:
    if not (0 < len(key) <= MAX_LENGTH) or not all("\x21" <= ch <= "\x7e" for ch in key):
        abort(problem(400, _l("An Idempotency-Key is 1 to 255 visible ASCII characters."),
                      errors=[{"detail": _l("Invalid value."), "header": HEADER}]))
    return key


def _reserve(key: str, fingerprint: str) -> IdempotentRequest | Response:
    """The new reservation, or the answer to give instead (the first one's, or a refusal)."""
    now = utcnow()
    db.session.execute(sa.delete(IdempotentRequest).where(
        IdempotentRequest.user_id == current_user.id, IdempotentRequest.created_at < now - KEPT_FOR))
    found = db.session.scalar(sa.select(IdempotentRequest).where(
        IdempotentRequest.user_id == current_user.id, IdempotentRequest.key == key))
    if found is None:
        found = IdempotentRequest(user_id=current_user.id, key=key, fingerprint=fingerprint, created_at=now)
        db.session.add(found)
        try:
            db.session.commit()
            return found
        except IntegrityError:  # the same key, reserved a moment ago by a copy of this request
            db.session.rollback()
            return problem(409, _l("A request with this Idempotency-Key is still running. "
                                   "Try again when it has ended."))
    db.session.commit()
    if found.fingerprint != fingerprint:
        return problem(422, _l("This Idempotency-Key was used for another request. "
                               "Use a new key for a new request."))
    if found.status_code is None:
        return problem(409, _l("A request with this Idempotency-Key is still running. "
                               "Try again when it has ended."))
    replay = Response(found.response_body, status=found.status_code, mimetype="application/json")
    if found.location:
        replay.headers["Location"] = found.location
    replay.headers["Idempotent-Replayed"] = "true"
    return replay


def _release(reservation_id: int) -> None:
    db.session.rollback()
    db.session.execute(sa.delete(IdempotentRequest).where(IdempotentRequest.id == reservation_id))
    db.session.commit()


def idempotent(view):
    """Decorate a view (outside flask-smorest's ``arguments``/``response``) to honour the key."""
    @wraps(view)
    def honouring_key(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        reserved = _reserve(_checked_key(key), _fingerprint())
        if isinstance(reserved, Response):
            return reserved
        reservation_id = reserved.id
        try:
            response = make_response(view(*args, **kwargs))
        except Exception:
            _release(reservation_id)
            raise
        if response.status_code >= 400 or response.is_streamed:
            _release(reservation_id)
            return response
        db.session.execute(sa.update(IdempotentRequest).where(IdempotentRequest.id == reservation_id).values(
            status_code=response.status_code, response_body=response.get_data(as_text=True),
            location=response.headers.get("Location")))
        db.session.commit()
        return response

    return honouring_key
