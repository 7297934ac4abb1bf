"""An attempt's clients in batches that any worker, on any host, claims in the database.

When an occurrence is claimed (its Attempt inserted), the clients it must still
reach are split into ranges of client ids, ``MAILING_BATCH_SIZE`` clients each
(``plan``). A worker takes the next range nobody holds (``claim``: ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so workers never queue behind each other), sends it,
and commits its Delivery rows together with the renewal of its lease (``renew``)
and, at the end, with the batch marked done. A worker that dies lets its lease
lapse; the next worker to look takes that batch over and sends the clients it
has no Delivery for, so at most the one batch in flight is sent twice.

Leases are compared on the database's clock on PostgreSQL, so a host whose own
clock is off cannot take a lease that has not lapsed (SQLite serves one host).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from mailer.extensions import db
from mailer.models import Attempt, AttemptBatch, Client, Delivery, mailing_clients, utcnow


@dataclass(frozen=True)
class Batch:
    """A claimed range: the clients with ``after < id <= through`` (no end when through is None)."""

    id: int
    after: int
    through: int | None

    def narrow(self, query: sa.Select) -> sa.Select:
        query = query.where(Client.id > self.after)
        return query if self.through is None else query.where(Client.id <= self.through)


def _on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def now() -> sa.ColumnElement:
    """The time leases are compared with: the database's clock where several hosts share it."""
    if _on_postgresql():
        return sa.func.statement_timestamp()
    return sa.literal(utcnow(), type_=AttemptBatch.lease_until.type)


def _lease_end(seconds: int) -> sa.ColumnElement:
    if _on_postgresql():
        return sa.func.statement_timestamp() + sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds)
    return sa.literal(utcnow() + timedelta(seconds=seconds), type_=AttemptBatch.lease_until.type)


def unserved(query: sa.Select, mailing_id: int, attempt_id: int) -> sa.Select:
    """``query`` narrowed to the mailing's clients still mailed (neither unsubscribed nor
    suppressed by a bounce) without a Delivery in the attempt."""
    already = sa.select(Delivery.id).where(Delivery.attempt_id == attempt_id,
                                           Delivery.client_id == Client.id)
    return (query.join(mailing_clients, mailing_clients.c.client_id == Client.id)
            .where(mailing_clients.c.mailing_id == mailing_id, Client.unsubscribed_at.is_(None),
                   Client.suppressed_at.is_(None), ~sa.exists(already)))


def plan(attempt_id: int, mailing_id: int, size: int) -> bool:
    """Split the clients the attempt has not reached into batches, once per attempt; whether
    this call did it. Runs in the caller's transaction; the caller commits.

    Taking ``planned_at`` is the lock: of two workers planning the same unplanned
    attempt, the second waits for the first's commit and then finds it planned.
    """
    taken = db.session.execute(
        sa.update(Attempt).where(Attempt.id == attempt_id, Attempt.planned_at.is_(None))
        .values(planned_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount == 1
    if not taken:
        return False
    numbered = unserved(
        sa.select(Client.id.label("id"),
                  sa.func.row_number().over(order_by=Client.id).label("n"),
                  sa.func.count().over().label("total")),
        mailing_id, attempt_id,
    ).subquery()
    bounds = db.session.scalars(
        sa.select(numbered.c.id)
        .where(numbered.c.n % size == 0, numbered.c.n < numbered.c.total)
        .order_by(numbered.c.id)
    ).all()
    edges = [0, *bounds]
    db.session.execute(sa.insert(AttemptBatch.__table__), [
        {"attempt_id": attempt_id, "after_client_id": after,
         "through_client_id": edges[index + 1] if index + 1 < len(edges) else None}
        for index, after in enumerate(edges)
    ])
    return True


def _free() -> sa.ColumnElement:
    return sa.and_(AttemptBatch.done_at.is_(None),
                   sa.or_(AttemptBatch.lease_until.is_(None), AttemptBatch.lease_until < now()))


def claim(attempt_id: int, runner: str, lease_seconds: int) -> Batch | None:
    """The attempt's next batch nobody holds (never taken, or its worker's lease lapsed),
    now held by ``runner``; None when every batch is done or held. Commits."""
    batch = take_next(attempt_id, runner, lease_seconds)
    db.session.commit()
    return batch


def take_next(attempt_id: int, runner: str, lease_seconds: int) -> Batch | None:
    """``claim`` in the caller's transaction: a worker closing a batch takes its next one in
    the same commit, so an attempt being sent never looks abandoned in between. A batch the
    runner already holds (taken when the attempt was claimed) comes first."""
    held = db.session.execute(
        sa.select(AttemptBatch.id, AttemptBatch.after_client_id, AttemptBatch.through_client_id)
        .where(AttemptBatch.attempt_id == attempt_id, AttemptBatch.runner == runner,
               AttemptBatch.done_at.is_(None), AttemptBatch.lease_until >= now())
        .order_by(AttemptBatch.id).limit(1)).first()
    if held is not None:
        renew(Batch(*held), runner, lease_seconds)
        return Batch(*held)
    while True:
        candidate = db.session.scalar(
            sa.select(AttemptBatch.id).where(AttemptBatch.attempt_id == attempt_id, _free())
            .order_by(AttemptBatch.id).limit(1).with_for_update(skip_locked=True)
        )
        if candidate is None:
            return None
        row = db.session.execute(
            sa.update(AttemptBatch).where(AttemptBatch.id == candidate, _free())
            .values(runner=runner, lease_until=_lease_end(lease_seconds))
            .returning(AttemptBatch.after_client_id, AttemptBatch.through_client_id)
            .execution_options(synchronize_session=False)
        ).first()
        if row is not None:
            return Batch(candidate, row[0], row[1])


def renew(batch: Batch, runner: str, lease_seconds: int, *, done: bool = False) -> bool:
    """Extend the lease (or, when ``done``, close the batch) in the caller's transaction;
    False if another worker has taken the batch over meanwhile."""
    values = {"done_at": utcnow(), "lease_until": None} if done \
        else {"lease_until": _lease_end(lease_seconds)}
    return db.session.execute(
        sa.update(AttemptBatch)
        .where(AttemptBatch.id == batch.id, AttemptBatch.runner == runner,
               AttemptBatch.done_at.is_(None))
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount == 1


def release(batch: Batch, runner: str) -> None:
    """Let the batch go unfinished (the run stopped), so a later run may take it at once."""
    db.session.execute(
        sa.update(AttemptBatch)
        .where(AttemptBatch.id == batch.id, AttemptBatch.runner == runner)
        .values(runner=None, lease_until=None).execution_options(synchronize_session=False)
    )
    db.session.commit()


def all_done(attempt_id: int) -> bool:
    return not db.session.scalar(sa.select(sa.exists().where(
        AttemptBatch.attempt_id == attempt_id, AttemptBatch.done_at.is_(None))))


def being_sent(attempt_id: int) -> bool:
    """Whether a worker holds one of the attempt's batches right now."""
    return db.session.scalar(sa.select(sa.exists().where(
        AttemptBatch.attempt_id == attempt_id, AttemptBatch.done_at.is_(None),
        AttemptBatch.lease_until >= now())))


def abandoned() -> sa.ColumnElement:
    """An attempt still sending that no worker is on: not planned yet (made before batches), or
    with batches left and no lease running (its workers died)."""
    free = sa.select(AttemptBatch.id).where(AttemptBatch.attempt_id == Attempt.id, _free())
    held = sa.select(AttemptBatch.id).where(AttemptBatch.attempt_id == Attempt.id,
                                            AttemptBatch.done_at.is_(None),
                                            AttemptBatch.lease_until >= now())
    return sa.or_(Attempt.planned_at.is_(None), sa.and_(sa.exists(free), ~sa.exists(held)))


def forget(attempt_id: int) -> None:
    """Drop the attempt's batches so that ``plan`` splits what is left afresh (a resume)."""
    db.session.execute(sa.delete(AttemptBatch).where(AttemptBatch.attempt_id == attempt_id))
    db.session.execute(
        sa.update(Attempt).where(Attempt.id == attempt_id).values(planned_at=None)
        .execution_options(synchronize_session=False)
    )
