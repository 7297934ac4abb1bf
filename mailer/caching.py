"""The cache, used only for what looks the same to everyone, and never allowed to break a page.

Flask-Caching talks to Redis when ``REDIS_URL`` is set (an in-process cache
otherwise). If Redis is down, ``remember`` computes the value as if nothing
were cached and ``forget`` gives up quietly: the site stays up, only slower.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Callable, TypeVar

from mailer.extensions import cache

log = logging.getLogger(__name__)
Value = TypeVar("Value")

HOME_FIGURES = "home:figures"
HOME_POSTS = "home:random-posts"


def article_body_key(post_id: int, body: str) -> str:
    """Named by the text it was made from, so an edited post is a new key in every process and
    on every host. Clearing the old key reaches only the process that made the edit: without
    Redis (one cache per gunicorn worker, per host) the other workers would serve the old body
    for as long as it is kept."""
    return f"blog:body:{post_id}:{hashlib.sha256(body.encode()).hexdigest()[:16]}"


def remember(key: str, timeout: int, compute: Callable[[], Value],
             keep: Callable[[Value], bool] = lambda value: True) -> Value:
    """The cached value of ``key``, or ``compute()`` (stored for ``timeout`` seconds, if
    ``keep`` says it may be)."""
    try:
        value = cache.get(key)
    except Exception as error:  # any cache failure means "not cached"
        log.warning("cache unavailable, computing %s: %s", key, error)
        return compute()
    if value is not None:
        return value
    value = compute()
    if not keep(value):
        return value
    try:
        cache.set(key, value, timeout=timeout)
    except Exception as error:
        log.warning("cache unavailable, not storing %s: %s", key, error)
    return value


def forget(*keys: str) -> None:
    try:
        cache.delete_many(*keys)
    except Exception as error:
        log.warning("cache unavailable, could not clear %s: %s", ", ".join(keys), error)


def put(key: str, value, timeout: int) -> None:
    """Store ``value`` for another request to read; a cache that is down loses it quietly."""
    try:
        cache.set(key, value, timeout=timeout)
    except Exception as error:
        log.warning("cache unavailable, not storing %s: %s", key, error)


def peek(key: str):
    """What ``put`` stored under ``key``, or None (also when the cache is down)."""
    try:
        return cache.get(key)
    except Exception as error:
        log.warning("cache unavailable, could not read %s: %s", key, error)
        return None
