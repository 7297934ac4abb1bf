"""Mailings: the one entry point for every change of a mailing's data.

Web views, the admin and the CLI go through these functions (a change of
status goes through ``mailer.lifecycle``); each commits and then sends
``signals.mailing_changed``, which is what keeps cron in step.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from mailer import bulk, lifecycle, paging, schedule, tallies, wall_clock
from mailer.auth.services import valid_timezone
from mailer.delivery.engine import count_unserved
from mailer.extensions import db
from mailer.errors import ServiceError
from mailer.models import (
    Attempt,
    AttemptStatus,
    Client,
    Delivery,
    Frequency,
    Mailing,
    MailingStatus,
    Message,
    User,
    is_row_id,
    mailing_clients,
    utcnow,
)
from mailer.ownership import owned


@dataclass
class MailingData:
    """What the owner enters; times are wall-clock times in ``timezone``."""

    message_id: int | None
    start_local: datetime | None
    end_local: datetime | None
    frequency: Frequency | str | None
    timezone: str
    client_ids: list[int] = field(default_factory=list)
    all_clients: bool = False


@dataclass(frozen=True)
class Window:
    start_at: datetime
    end_at: datetime
    frequency: Frequency
    timezone: str


def _window(data: MailingData, now: datetime) -> Window:
    if not valid_timezone(data.timezone):
        raise ServiceError(_l("Unknown time zone."), field="timezone")
    if data.start_local is None:
        raise ServiceError(_l("Enter the start date and time."), field="start_at")
    if data.end_local is None:
        raise ServiceError(_l("Enter the end date and time."), field="end_at")
    try:
        frequency = Frequency(data.frequency)
    except ValueError:
        raise ServiceError(_l("Choose how often to send."), field="frequency") from None
    start = wall_clock.to_utc(data.start_local, data.timezone, "start_at")
    end = wall_clock.to_utc(data.end_local, data.timezone, "end_at")
    if end <= start:
        raise ServiceError(_l("The end must be after the start."), field="end_at")
    if end <= now:
        raise ServiceError(
            _l("This mailing would never send: its end is already in the past."), field="end_at"
        )
    return Window(start, end, frequency, data.timezone)


def _own_message(owner: User, message_id: int | None) -> Message:
    message = None
    if is_row_id(message_id):
        message = db.session.scalar(owned(Message, owner).where(Message.id == message_id))
    if message is None:
        raise ServiceError(_l("Choose one of your messages."), field="message_id")
    return message


def _own_client_ids(owner: User, data: MailingData) -> list[int]:
    if data.all_clients:
        ids = list(db.session.scalars(
            sa.select(Client.id).where(Client.owner_id == owner.id).order_by(Client.id)
        ))
    else:
        wanted = sorted(set(data.client_ids))
        possible = [client_id for client_id in wanted if is_row_id(client_id)]
        ids = []
        for chunk_start in range(0, len(possible), 1000):
            chunk = possible[chunk_start:chunk_start + 1000]
            ids += db.session.scalars(
                sa.select(Client.id).where(Client.owner_id == owner.id, Client.id.in_(chunk))
            ).all()
        if len(ids) != len(wanted):
            raise ServiceError(
                _l("Some of the chosen clients do not exist. Reload the page and choose again."),
                field="client_ids",
            )
    if not ids:
        raise ServiceError(_l("Choose at least one client."), field="client_ids")
    return ids


def _set_clients(mailing: Mailing, client_ids: list[int]) -> None:
    db.session.execute(sa.delete(mailing_clients).where(mailing_clients.c.mailing_id == mailing.id))
    bulk.insert_rows(mailing_clients,
                     [{"mailing_id": mailing.id, "client_id": client_id} for client_id in client_ids])


@dataclass(frozen=True)
class _Checked:
    window: Window
    message: Message
    client_ids: list[int]


def _check(owner: User, data: MailingData, mailing: Mailing | None = None) -> _Checked:
    """Validate everything before anything is changed."""
    now = utcnow()
    window = _window(data, now)
    message = _own_message(owner, data.message_id)
    client_ids = _own_client_ids(owner, data)
    if not _anything_left_to_send(window, mailing, now):
        raise ServiceError(
            _l("No send time is left before the end: the last one has already been sent. "
               "Move the end later or the start forward."),
            field="end_at",
        )
    return _Checked(window, message, client_ids)


def _anything_left_to_send(window: Window, mailing: Mailing | None, now: datetime) -> bool:
    """A future occurrence, or a due one not yet attempted (it is sent at once)."""
    args = (window.start_at, window.end_at, window.frequency.value, window.timezone)
    if schedule.has_occurrence_after(*args, now):
        return True
    return lifecycle.unclaimed_due(mailing.id if mailing else None, *args, now) is not None


def _assign(mailing: Mailing, checked: _Checked) -> None:
    mailing.message = checked.message
    mailing.start_at = checked.window.start_at
    mailing.end_at = checked.window.end_at
    mailing.frequency = checked.window.frequency
    mailing.timezone = checked.window.timezone


def create_mailing(owner: User, data: MailingData) -> Mailing:
    checked = _check(owner, data)
    mailing = Mailing(owner=owner, status=MailingStatus.CREATED)
    _assign(mailing, checked)
    db.session.add(mailing)
    db.session.flush()
    _set_clients(mailing, checked.client_ids)
    db.session.commit()
    lifecycle.notify(mailing, "created")
    return mailing


def update_mailing(mailing: Mailing, data: MailingData) -> None:
    if mailing.status not in lifecycle.EDITABLE_STATUSES:
        raise ServiceError(_l("A stopped mailing cannot be changed."))
    checked = _check(mailing.owner, data, mailing)
    _assign(mailing, checked)
    if mailing.status is MailingStatus.FINISHED:
        mailing.status = MailingStatus.RUNNING if lifecycle.has_attempts(mailing) else MailingStatus.CREATED
    _set_clients(mailing, checked.client_ids)
    db.session.commit()
    lifecycle.notify(mailing, "updated")


def delete_mailing(mailing: Mailing) -> None:
    db.session.delete(mailing)
    db.session.commit()
    lifecycle.notify(mailing, "deleted")


def next_send_times(mailing: Mailing, count: int = 5, now: datetime | None = None) -> list[datetime]:
    """The next ``count`` occurrences after now (UTC), or none if it will not send."""
    if not mailing.status.sends:
        return []
    return schedule.next_after(mailing.start_at, mailing.end_at, mailing.frequency.value,
                               mailing.timezone, now or utcnow(), count)


def client_ids_of(mailing: Mailing) -> list[int]:
    return list(db.session.scalars(
        sa.select(mailing_clients.c.client_id).where(mailing_clients.c.mailing_id == mailing.id)
    ))


def has_every_client(mailing: Mailing) -> bool:
    """Whether the mailing goes to all of its owner's clients (the edit form then says so)."""
    return mailing.recipient_count == tallies.of_owner(mailing.owner_id).clients


# The lists' order, descending: the owner's index (ix_mailings_owner_newest) and everyone's.
NEWEST_FIRST = (Mailing.created_at, Mailing.id)


def mailings_page(owner: User, place: paging.Place) -> paging.KeysetPage:
    """The owner's mailings, newest first (ix_mailings_owner_newest)."""
    return paging.keyset_page(
        sa.select(Mailing).where(Mailing.owner_id == owner.id), Mailing.id,
        NEWEST_FIRST, place, 25, descending=True,
        # The list shows a message's subject only: its body may be a long newsletter.
        options=(sa.orm.joinedload(Mailing.message).load_only(Message.subject),))


def last_attempts(mailings: list[Mailing]) -> dict[int, Attempt]:
    """Each mailing's most recent attempt (the first on its page), read from one index entry
    per mailing however long their histories: their ids first, then those rows by id (joined
    in one query, PostgreSQL hashed every attempt of every mailing to find them)."""
    if not mailings:
        return {}
    newest_id = (
        sa.select(Attempt.id).where(Attempt.mailing_id == Mailing.id)
        .order_by(Attempt.occurrence_at.desc()).limit(1)
        .correlate(Mailing).scalar_subquery()
    )
    ids = [attempt_id for attempt_id in db.session.scalars(
        sa.select(newest_id).where(Mailing.id.in_([m.id for m in mailings])))
        if attempt_id is not None]
    attempts = db.session.scalars(sa.select(Attempt).where(Attempt.id.in_(ids)))
    return {attempt.mailing_id: attempt for attempt in attempts}


def attempts_of(mailing: Mailing, limit: int = 50) -> list[Attempt]:
    return list(db.session.scalars(
        sa.select(Attempt).where(Attempt.mailing_id == mailing.id)
        .order_by(Attempt.occurrence_at.desc()).limit(limit)
    ))


def local_window(mailing: Mailing) -> tuple[datetime, datetime]:
    """The mailing's start and end as wall-clock times in its own zone (for the form)."""
    return (wall_clock.from_utc(mailing.start_at, mailing.timezone),
            wall_clock.from_utc(mailing.end_at, mailing.timezone))


def default_window(owner: User) -> tuple[datetime, datetime]:
    """A starting suggestion for the form: the next full hour, for four weeks."""
    zone = ZoneInfo(owner.timezone)
    start = (datetime.now(zone) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return start.replace(tzinfo=None), (start + timedelta(weeks=4)).replace(tzinfo=None)


def can_resend(mailing: Mailing, latest: Attempt | None) -> bool:
    """Whether "send to those not reached" makes sense: the last attempt fell short."""
    return (mailing.status.sends and latest is not None
            and latest.status in (AttemptStatus.PARTIAL, AttemptStatus.FAILURE))


def attempt_of(mailing: Mailing, attempt_id: int) -> Attempt | None:
    return db.session.scalar(
        sa.select(Attempt).where(Attempt.id == attempt_id, Attempt.mailing_id == mailing.id)
    )


# "failed" sorts before "sent": the order of ix_deliveries_listed, read a page at a time.
DELIVERY_ORDER = (Delivery.status, Delivery.email, Delivery.id)


def deliveries_page(attempt: Attempt, place: paging.Place, per_page: int = 50) -> paging.KeysetPage:
    """Who got it and who did not (failures first), with the server's reply."""
    query = sa.select(Delivery).where(Delivery.attempt_id == attempt.id)
    if attempt.status is AttemptStatus.SENDING:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    else:
        total = attempt.sent_count + attempt.failed_count
    return paging.keyset_page(query, Delivery.id, DELIVERY_ORDER, place, per_page, total)


def not_reached(mailing: Mailing, attempt: Attempt) -> int:
    """Subscribed clients of the mailing with no delivery in this attempt: counted now while
    it sends, as it ended once it has."""
    if attempt.status is AttemptStatus.SENDING:
        return count_unserved(mailing.id, attempt.id)
    return attempt.not_reached
