"""Any HTTP error under /api/ as a problem document: Flask's and Werkzeug's, webargs' input
errors (422, and 400 for a body that is not JSON) and Flask-Limiter's 429."""
from __future__ import annotations

from werkzeug.exceptions import HTTPException

from mailer.api.problems import input_errors, problem
from flask_babel import lazy_gettext as _l

INPUT_PROBLEMS = _l("The request has problems: see errors.")


def api_problem(error: HTTPException):
    if error.code is None or error.code < 400:
        return error  # a ready response (304 Not Modified, or a problem already made)
    data = getattr(error, "data", None) or {}
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    messages = data.get("messages")
    if messages:
        errors = input_errors(messages)
        detail = errors[0]["detail"] if error.code == 400 and len(errors) == 1 else INPUT_PROBLEMS
        return problem(error.code, detail, errors=errors, headers=headers)
    return problem(error.code, headers=headers)
