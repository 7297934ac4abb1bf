"""What every resource of the API does the same way: find the caller's own object, turn a
service's refusal into a problem document, give a page of a list with its next link."""
from __future__ import annotations

from typing import TypeVar

import sqlalchemy as sa
from flask import abort, request, url_for
from flask_login import current_user

from mailer import paging
from mailer.api.problems import field_error, problem
from mailer.errors import ServiceError
from mailer.extensions import db

Owned = TypeVar("Owned")


def own_or_404(model: type[Owned], object_id: int) -> Owned:
    """The caller's object, or 404 exactly as for one that does not exist."""
    found = db.session.scalar(
        sa.select(model).where(model.id == object_id, model.owner_id == current_user.id))
    if found is None:
        abort(problem(404))
    return found


def refuse(error: ServiceError, status: int = 422):
    """Answer a service's refusal; the words are the web form's."""
    abort(problem(status, error.message, errors=field_error(error.message, error.field)))


def next_link(page: paging.KeysetPage) -> str | None:
    """The address of the page after this one, with the request's own arguments; None at the end."""
    if not page.has_next:
        return None
    return url_for(request.endpoint, **(request.view_args or {}),
                   **{**request.args.to_dict(), "after": page.last_id})


def page_body(page: paging.KeysetPage) -> dict:
    """A page of a list: its items and the address of the next page (or null)."""
    return {"items": page.items, "next": next_link(page)}
