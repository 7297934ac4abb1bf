"""Whole pages for visitors who are not signed in: the home page and the blog list.

Such a page looks the same to every visitor of one language, byte for byte: a
visitor's language switch carries no CSRF token (``main.set_language``), so
serving the page starts no session and sets no cookie. A page that holds a
form token is someone's own and is served as rendered, never stored. A page is never cached
for a signed-in user, nor while a flash message waits to be shown, nor for a
URL with query arguments the view does not know. ``forget_pages`` drops every
stored copy of a page at once (a new generation key), when what it shows changes.
"""
from __future__ import annotations

import secrets
from functools import wraps
from typing import Callable

from flask import request, session
from flask_babel import get_locale
from flask_login import current_user

from mailer import caching

_FORM_TOKEN = 'name="csrf_token"'


def _generation_key(name: str) -> str:
    return f"page-generation:{name}"


def _generation(name: str) -> str:
    return caching.remember(_generation_key(name), 0, lambda: secrets.token_hex(4))


def forget_pages(*names: str) -> None:
    caching.forget(*[_generation_key(name) for name in names])


def _plain(given, known: tuple[str, ...]) -> bool:
    """Only known arguments, each a short number (so no one can fill the cache with variants)."""
    return set(given) <= set(known) and all(
        len(values) == 1 and values[0].isdigit() and len(values[0]) <= 6
        for values in given.listvalues())


def for_visitors(name: str, seconds: int, args: tuple[str, ...] = ()) -> Callable:
    """Cache the view's page for visitors; ``args``: the query arguments that make another page."""

    def decorator(view):
        @wraps(view)
        def wrapper(*view_args, **view_kwargs):
            if current_user.is_authenticated or session.get("_flashes") or not _plain(request.args, args):
                return view(*view_args, **view_kwargs)
            query = "&".join(f"{arg}={request.args[arg]}" for arg in args if arg in request.args)
            key = f"page:{name}:{_generation(name)}:{get_locale()}:{request.path}?{query}"

            return caching.remember(key, seconds, lambda: view(*view_args, **view_kwargs),
                                    keep=lambda page: _FORM_TOKEN not in page)

        return wrapper

    return decorator
