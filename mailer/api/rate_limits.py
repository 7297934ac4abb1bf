"""One budget of requests per API token (``RATELIMIT_API``), shared by every route and, with
Redis, by every host; each answer says where the budget stands in the IETF draft's
``RateLimit-Policy`` and ``RateLimit`` fields (draft-ietf-httpapi-ratelimit-headers).

The limit is counted before the token is checked (Flask-Limiter runs first), so it is
keyed by a hash of the presented header: a token's budget is its own, and requests
without one share their address's.
"""
from __future__ import annotations

import hashlib
import math
import time

from flask import current_app, request
from flask_limiter.util import get_remote_address

from mailer.extensions import limiter

POLICY = "api"


def _budget() -> str:
    return current_app.config["RATELIMIT_API"]


def _token_key() -> str:
    authorization = request.headers.get("Authorization")
    if authorization:
        return "token:" + hashlib.sha256(authorization.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return "address:" + get_remote_address()


shared_budget = limiter.shared_limit(_budget, scope=POLICY, key_func=_token_key)


def add_headers(response):
    """``after_request`` of the API's blueprints."""
    current = limiter.current_limit if current_app.config.get("RATELIMIT_ENABLED", True) else None
    if current is not None:
        window = current.limit.get_expiry()
        response.headers["RateLimit-Policy"] = f'"{POLICY}";q={current.limit.amount};w={window}'
        left = max(0, math.ceil(current.window[0] - time.time()))
        response.headers["RateLimit"] = f'"{POLICY}";r={max(0, current.remaining)};t={left}'
    if response.status_code != 429:
        response.headers.pop("Retry-After", None)  # Flask-Limiter adds it to every answer
    return response
