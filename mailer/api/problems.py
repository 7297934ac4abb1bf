"""Errors of the API as problem documents (RFC 9457, ``application/problem+json``).

Every refusal under /api/ is one: a status, a translated title, a ``detail`` in the
words the web forms use, and, for input, ``errors``: one item per problem with a
JSON pointer into the body (``"#/clients/3/email"``) or the name of the query
parameter or header. The words follow ``Accept-Language`` (mailer.app.select_locale).
"""
from __future__ import annotations

import json
from typing import Iterable

from flask import Response, request
from flask_babel import gettext, lazy_gettext as _l

from mailer.labels import N_

MEDIA_TYPE = "application/problem+json"
API_PREFIX = "/api/"

TITLES = {
    400: N_("Bad request"),
    401: N_("Unauthorized"),
    403: N_("Forbidden"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    406: N_("Not acceptable"),
    409: N_("Conflict"),
    412: N_("Precondition failed"),
    413: N_("Request too large"),
    415: N_("Unsupported media type"),
    422: N_("Unprocessable content"),
    428: N_("Precondition required"),
    429: N_("Too many requests"),
    500: N_("Internal server error"),
}

DETAILS = {
    401: _l("Send a valid API token: Authorization: Bearer <token>. Tokens are made in your "
            "profile; a revoked or expired one no longer works."),
    403: _l("Your role may not do this."),
    404: _l("There is nothing here, or it is not yours."),
    405: _l("This address does not take this method."),
    413: _l("The request is too large."),
    415: _l("Send the body as JSON (Content-Type: application/json)."),
    429: _l("Too many requests with this token. Wait until the RateLimit header's reset."),
    500: _l("Something went wrong on our side. Nothing was changed; try again later."),
}

# What marshmallow and webargs say of input, in our catalogue so that it is translated.
VALIDATION_WORDS = {
    "Missing data for required field.": _l("Missing data for required field."),
    "Field may not be null.": _l("Field may not be null."),
    "Unknown field.": _l("Unknown field."),
    "Invalid input type.": _l("Invalid input type."),
    "Invalid value.": _l("Invalid value."),
    "Not a valid string.": _l("Not a valid string."),
    "Not a valid integer.": _l("Not a valid integer."),
    "Not a valid boolean.": _l("Not a valid boolean."),
    "Not a valid datetime.": _l("Not a valid datetime."),
    "Not a valid date.": _l("Not a valid date."),
    "Not a valid list.": _l("Not a valid list."),
    "Not a valid mapping type.": _l("Not a valid mapping type."),
    "Not a valid number.": _l("Not a valid number."),
    "Invalid JSON body.": _l("The body is not valid JSON."),
}


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def _words(message) -> str:
    text = str(message)
    return str(VALIDATION_WORDS.get(text, text))


def problem(status: int, detail=None, errors: Iterable[dict] = (), headers: dict | None = None,
            **extra) -> Response:
    """A problem document; ``detail`` and the errors' ``detail`` may be lazy translations."""
    body = {"type": "about:blank", "title": gettext(TITLES.get(status, "Error")), "status": status}
    detail = detail if detail is not None else DETAILS.get(status)
    if detail is not None:
        body["detail"] = _words(detail)
    items = [{**item, "detail": _words(item["detail"])} for item in errors]
    if items:
        body["errors"] = items
    body.update(extra)
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _escape(part) -> str:
    """A JSON Pointer's reference token (RFC 6901)."""
    return str(part).replace("~", "~0").replace("/", "~1")


def _flatten(messages, path: tuple) -> Iterable[tuple[tuple, object]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, path if key == "_schema" else (*path, key))
    elif isinstance(messages, (list, tuple)):
        for message in messages:
            yield from _flatten(message, path)
    else:
        yield path, messages


def input_errors(messages: dict) -> list[dict]:
    """webargs' messages ({location: {field: [message]}}) as problem items."""
    items = []
    for location, found in messages.items():
        for path, message in _flatten(found, ()):
            if location == "json":
                where = {"pointer": "#" + "".join("/" + _escape(part) for part in path)}
            elif location == "headers":
                where = {"header": ".".join(map(str, path))}
            else:
                where = {"parameter": ".".join(map(str, path))}
            items.append({"detail": message, **where})
    return items


def field_error(message, field: str | None) -> list[dict]:
    """A service's refusal (``ServiceError``) as one problem item, pointing at the body's field
    it names (or the whole body)."""
    return [{"detail": message, "pointer": "#/" + _escape(field) if field else "#"}]
