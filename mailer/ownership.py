"""Queries scoped to the owner: someone else's object is indistinguishable from none."""
from __future__ import annotations

from typing import TypeVar

import sqlalchemy as sa
from flask import abort
from flask_login import current_user, login_required

from mailer.extensions import db
from mailer.models import User

Owned = TypeVar("Owned")


def own_or_404(model: type[Owned], object_id: int, owner: User) -> Owned:
    """The owner's object with this id, or a 404 (also when it belongs to someone else)."""
    found = db.session.scalar(
        sa.select(model).where(model.id == object_id, model.owner_id == owner.id)
    )
    if found is None:
        abort(404)
    return found


@login_required
def workspace_only():
    """``before_request`` of the workspace's blueprints (clients, messages, mailings): a
    signed-in owner's. Managers oversee but never edit; content managers keep to the admin."""
    if not current_user.has_workspace:
        abort(403)


def owned(model: type[Owned], owner: User) -> sa.Select:
    """SELECT of the owner's objects of ``model``."""
    return sa.select(model).where(model.owner_id == owner.id)
