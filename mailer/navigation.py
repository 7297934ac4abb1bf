"""Where to send the user next, without ever leaving this site."""
from __future__ import annotations

from typing import Callable
from urllib.parse import urlsplit

from flask import request, url_for


def safe_next_url(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None.

    Rejects absolute URLs, scheme-relative ``//host`` and the ``/\\host`` form
    browsers treat the same way, and anything with control characters.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


_ROW_MARK = 1234567890987  # beyond any row id (INTEGER), so found only where the id goes


def url_for_each(endpoint: str, key: str, **values) -> Callable[[int], str]:
    """``url_for(endpoint, key=row_id, **values)`` for each row of a list, built once.

    Werkzeug builds a URL in about 20 µs; a page of 25 rows with two links each spent
    a millisecond on them. The URL is built with a mark in place of the id and split
    there, so every row's URL is exactly what ``url_for`` would have built.
    """
    head, mark, tail = url_for(endpoint, **{**values, key: _ROW_MARK}).partition(str(_ROW_MARK))
    if not mark:
        raise ValueError(f"{endpoint} does not put {key} in its URL as it is")
    return lambda row_id: f"{head}{int(row_id)}{tail}"


PLACE_ARGS = ("after", "before", "at", "page")


def list_url(endpoint: str, **place) -> str:
    """This list (its path and its other query arguments: a search, a filter) at another
    place: ``after=`` or ``before=`` a row, ``at="last"``, or (no place) its first page."""
    args = {name: value for name, value in request.args.items() if name not in PLACE_ARGS}
    return url_for(endpoint, **{**request.view_args, **args, **place})
