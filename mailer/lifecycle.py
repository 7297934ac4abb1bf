"""A mailing's status machine: what each change of status does.

Which statuses send is said once, in ``mailer.models`` (``MailingStatus.sends``,
``Mailing.may_send``). Here are the changes: pause, resume, stop (a manager's),
record a run, finish. Each commits, then sends ``signals.mailing_changed``, on
which cron is kept in step. The web views, the admin, the CLI and the sending
engine all change a status through these functions and no other way.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from mailer import schedule
from mailer.errors import ServiceError
from mailer.extensions import db
from mailer.models import Attempt, Mailing, MailingStatus, utcnow
from mailer.signals import mailing_changed

# A stopped mailing (a manager's decision) is no longer its owner's to change.
EDITABLE_STATUSES = frozenset(set(MailingStatus) - {MailingStatus.STOPPED})


def notify(mailing: Mailing, change: str) -> None:
    mailing_changed.send(current_app._get_current_object(), mailing=mailing, change=change)


def pause(mailing: Mailing, reason: str | None = None) -> None:
    """The owner's pause, or the engine's (``reason``: why, for the owner, in their language)."""
    if not mailing.status.sends:
        raise ServiceError(_l("Only a created or running mailing can be paused."))
    mailing.status = MailingStatus.PAUSED
    mailing.stop_reason = reason
    db.session.commit()
    notify(mailing, "paused")


def resume(mailing: Mailing) -> None:
    if mailing.status is MailingStatus.STOPPED:
        raise ServiceError(
            _l("A manager stopped this mailing; it cannot be resumed. Reason: %(reason)s",
               reason=mailing.stop_reason or "—")
        )
    if mailing.status is not MailingStatus.PAUSED:
        raise ServiceError(_l("Only a paused mailing can be resumed."))
    if mailing.end_at <= utcnow():
        mailing.status = MailingStatus.FINISHED
    else:
        mailing.status = MailingStatus.RUNNING if has_attempts(mailing) else MailingStatus.CREATED
    mailing.stop_reason = None
    db.session.commit()
    notify(mailing, "resumed")


def stop(mailing: Mailing, reason: str) -> None:
    """A manager's decision: the owner cannot undo it."""
    if mailing.status is MailingStatus.STOPPED:
        return
    mailing.status = MailingStatus.STOPPED
    mailing.stop_reason = reason.strip() or None
    db.session.commit()
    notify(mailing, "stopped")


def record_run(mailing: Mailing) -> None:
    """After a run: a created mailing that has sent is running; cron re-reads its next time."""
    if mailing.status is MailingStatus.CREATED and has_attempts(mailing):
        mailing.status = MailingStatus.RUNNING
    db.session.commit()
    notify(mailing, "ran")


def finish(mailing: Mailing) -> None:
    mailing.status = MailingStatus.FINISHED
    db.session.commit()
    notify(mailing, "finished")


def unclaimed_due(mailing_id: int | None, start_at: datetime, end_at: datetime, frequency: str,
                  zone: str, now: datetime) -> datetime | None:
    """The latest occurrence due by ``now`` while no run has claimed it (its Attempt is the
    claim), else None. A mailing not yet saved (``mailing_id`` None) has claimed nothing."""
    due = schedule.latest_due(start_at, end_at, frequency, zone, now)
    if due is None or mailing_id is None:
        return due
    claimed = db.session.scalar(sa.select(sa.exists().where(
        Attempt.mailing_id == mailing_id, Attempt.occurrence_at == due)))
    return None if claimed else due


def has_attempts(mailing: Mailing) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(Attempt.mailing_id == mailing.id)))
