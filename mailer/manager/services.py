"""What managers see: every mailing and user, with counts. Stopping a mailing is the
lifecycle's (``mailer.lifecycle.stop``), blocking a user the accounts service's."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from flask_babel import lazy_gettext as _l

from mailer import paging, tallies
from mailer.errors import ServiceError
from mailer.extensions import db
from mailer.mailings.services import NEWEST_FIRST
from mailer.models import (
    SENDING_STATUSES,
    Attempt,
    Bounce,
    Delivery,
    Mailing,
    Message,
    MailingStatus,
    User,
)
from mailer.search import contains

PER_PAGE = 25


STOP_REASON_MAX = 500


def check_stop_reason(reason: str) -> str:
    """The reason a manager gives the owner, stripped; raises ServiceError (field ``reason``)."""
    reason = reason.strip()
    if not reason:
        raise ServiceError(_l("Say why the mailing is stopped."), field="reason")
    if len(reason) > STOP_REASON_MAX:
        raise ServiceError(_l("At most %(max)d characters.", max=STOP_REASON_MAX), field="reason")
    return reason


def mailings_filter(status: MailingStatus | None, owner_q: str) -> sa.Select:
    """Every mailing, by status and owner (e-mail or name contains), with the owner joined."""
    query = sa.select(Mailing).join(User, User.id == Mailing.owner_id)
    if status is not None:
        query = query.where(Mailing.status == status)
    if owner_q:
        query = query.where(contains(owner_q, User.email, User.full_name))
    return query


def mailings_page(status: MailingStatus | None, owner_q: str,
                  place: paging.Place) -> paging.KeysetPage:
    """Every mailing, newest first (ix_mailings_newest), optionally by status and owner
    (e-mail or name contains)."""
    return paging.keyset_page(
        mailings_filter(status, owner_q), Mailing.id, NEWEST_FIRST, place, PER_PAGE, descending=True,
        options=(sa.orm.contains_eager(Mailing.owner),
                 sa.orm.joinedload(Mailing.message).load_only(Message.subject)))


@dataclass(frozen=True)
class UserRow:
    user: User
    clients: int
    suppressed: int  # clients no mailing sends to since their letters bounced
    mailings: int
    active_mailings: int
    complaints: int  # letters their recipients reported as spam


def users_filter(q: str) -> sa.Select:
    query = sa.select(User)
    return query.where(contains(q, User.email, User.full_name)) if q else query


def users_page(q: str, page: int):
    """Every user with the counts of their clients (and of those suppressed), mailings and
    complaints (four queries in all)."""
    query = users_filter(q).order_by(User.email)
    pagination = db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)
    ids = [user.id for user in pagination.items]
    clients = {owner: (tally.clients, tally.suppressed)
               for owner, tally in tallies.of_owners(ids).items()}
    complaints = dict(db.session.execute(
        sa.select(Mailing.owner_id, sa.func.count())
        .join(Attempt, Attempt.mailing_id == Mailing.id)
        .join(Delivery, Delivery.attempt_id == Attempt.id)
        .where(Mailing.owner_id.in_(ids), Delivery.bounce == Bounce.COMPLAINT)
        .group_by(Mailing.owner_id)).all()) if ids else {}
    mailings = {owner: (total, active) for owner, total, active in db.session.execute(
        sa.select(Mailing.owner_id, sa.func.count(),
                  sa.func.count().filter(Mailing.status.in_(SENDING_STATUSES)))
        .where(Mailing.owner_id.in_(ids)).group_by(Mailing.owner_id)).all()} if ids else {}
    rows = [UserRow(user, *clients.get(user.id, (0, 0)), *mailings.get(user.id, (0, 0)),
                    complaints.get(user.id, 0))
            for user in pagination.items]
    return pagination, rows
