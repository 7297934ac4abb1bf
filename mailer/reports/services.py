"""Reports: which attempts a viewer may see, filtered, paged, exported; a mailing's figures.

Everything is computed in SQL with a fixed number of queries, however many
attempts there are (the deliveries' CSV: one more per thousand attempts).
Dates a user enters or reads are days in a time zone (the viewer's); attempts
are stored in UTC, so a day becomes the half-open UTC interval between two local
midnights, which also gets DST days right.

The deliveries' CSV is the one export of a million rows (one per letter), so
it is read in an index's order and never sorted: the selected attempts by id,
a thousand at a time, then their deliveries by (attempt, client) from
``uq_deliveries_attempt_id_client_id``, the attempt ids an ``= ANY`` on its first
column. Planned for a server-side cursor (``cursor_tuple_fraction``), PostgreSQL
15 answers with that index scan, an incremental sort by delivery id among rows
of the same client (only a deleted client's rows share one) and the clients'
names by primary key. The same rows in one query joined to the attempts were
planned as a sequential scan and an on-disk sort of all 999,000 letters of the
scale bench's largest owner (2.9 s before the first row) or, as a cursor, as a
merge join reading every owner's deliveries.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import get_timezone
from flask_babel import lazy_gettext as _l

from mailer.extensions import db
from mailer.models import (
    Attempt,
    AttemptStatus,
    Bounce,
    Client,
    Delivery,
    Mailing,
    Message,
    User,
    is_row_id,
    mailing_clients,
    utcnow,
)
from mailer.search import contains

PER_PAGE = 25
EXPORT_BATCH = 500
STATS_DAYS = 30
EXPORT_HEADER = (
    "mailing_id", "subject", "owner_email", "occurrence", "started", "finished",
    "status", "sent", "failed", "server_response",
)
# One row per letter; ``full_name`` is the client's name now (empty once the client is deleted),
# ``time`` when the letter was sent or refused, ``bounced`` when it came back.
DELIVERY_EXPORT_HEADER = (
    "mailing_id", "subject", "owner_email", "attempt_id", "attempt_started",
    "email", "full_name", "status", "time", "smtp_code", "server_reply",
    "bounce", "bounced", "bounce_reason",
)
EXPORT_ATTEMPTS_AT_ONCE = 1000  # attempt ids in one deliveries query (SQLite allows 32,766)


@dataclass(frozen=True)
class FilterProblem:
    field: str
    message: object  # a lazy translated string


class InvalidFilter(ValueError):
    """The filter cannot be applied; ``problems`` say why, field by field."""

    def __init__(self, problems: list[FilterProblem]):
        super().__init__("; ".join(str(p.message) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class FilterInput:
    """The filter as the viewer entered it: mailing and status as text, days already parsed."""

    mailing: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class AttemptFilter:
    """A checked filter: the mailing is one the viewer may see; days are in ``timezone``."""

    timezone: str
    mailing_id: int | None = None
    status: AttemptStatus | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class MailingChoice:
    id: int
    subject: str
    owner_email: str


def sees_all_attempts(viewer: User) -> bool:
    return viewer.is_manager or viewer.is_superuser


def scope(query: sa.Select, viewer: User) -> sa.Select:
    """Restrict a query that joins ``Mailing`` to the mailings the viewer may see."""
    if sees_all_attempts(viewer):
        return query
    return query.where(Mailing.owner_id == viewer.id)


MAILINGS_FOUND = 50  # mailings the filter's search shows at once


def _mailing_choices(viewer: User) -> sa.Select:
    return scope(
        sa.select(Mailing.id, Message.subject, User.email)
        .join(Message, Mailing.message_id == Message.id)
        .join(User, Mailing.owner_id == User.id),
        viewer,
    )


def find_mailings(viewer: User, q: str | None) -> list[MailingChoice]:
    """The filter's search: the viewer's mailings whose subject (for a manager, also the
    owner's address) contains ``q``, by subject; at most ``MAILINGS_FOUND``. The page holds
    only the mailing chosen, so it does not grow with the viewer's thousand mailings."""
    query = _mailing_choices(viewer)
    if (q or "").strip():
        columns = (Message.subject, User.email) if sees_all_attempts(viewer) else (Message.subject,)
        query = query.where(contains(q.strip(), *columns))
    query = query.order_by(sa.func.lower(Message.subject), Mailing.id).limit(MAILINGS_FOUND)
    return [MailingChoice(*row) for row in db.session.execute(query)]


def chosen_mailing(viewer: User, mailing: str | None) -> MailingChoice | None:
    """The mailing the filter names, if it is one the viewer may see."""
    mailing_id = _row_id(mailing or "")
    if mailing_id is None:
        return None
    row = db.session.execute(_mailing_choices(viewer).where(Mailing.id == mailing_id)).first()
    return MailingChoice(*row) if row else None


def mailing_label(choice: MailingChoice, with_owner: bool) -> str:
    """"Subject (#12)", and " — owner@…" for a manager: subjects repeat, ids do not."""
    label = f"{choice.subject} (#{choice.id})"
    return f"{label} — {choice.owner_email}" if with_owner else label


def _row_id(text: str) -> int | None:
    """``text`` as the id a row could have, or None."""
    try:
        number = int(text)
    except ValueError:
        return None
    return number if is_row_id(number) else None


def _visible_mailing_id(viewer: User, text: str) -> int | None:
    mailing_id = _row_id(text)
    if mailing_id is None:
        return None
    found = db.session.scalar(scope(sa.select(Mailing.id).where(Mailing.id == mailing_id), viewer))
    return found


def check_filter(viewer: User, given: FilterInput) -> AttemptFilter:
    """The filter the viewer asked for, or InvalidFilter naming every problem.

    Someone else's mailing is refused exactly like one that does not exist.
    """
    problems = []
    mailing_id = None
    if given.mailing.strip():
        mailing_id = _visible_mailing_id(viewer, given.mailing.strip())
        if mailing_id is None:
            problems.append(FilterProblem(
                "mailing", _l("There is no such mailing among yours. Choose one from the list.")
            ))
    status = None
    if given.status.strip():
        try:
            status = AttemptStatus(given.status.strip())
        except ValueError:
            problems.append(
                FilterProblem("status", _l("Unknown status. Choose one from the list."))
            )
    if given.date_from and given.date_to and given.date_to < given.date_from:
        problems.append(FilterProblem(
            "date_to", _l("The end date is before the start date.")
        ))
    if problems:
        raise InvalidFilter(problems)
    return AttemptFilter(timezone=viewer.timezone, mailing_id=mailing_id, status=status,
                         date_from=given.date_from, date_to=given.date_to)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a day starts in a zone (in a DST gap at midnight: when its clock starts)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(ZoneInfo("UTC"))


def _filtered(query: sa.Select, viewer: User, chosen: AttemptFilter) -> sa.Select:
    query = scope(query, viewer)
    if chosen.mailing_id is not None:
        query = query.where(Attempt.mailing_id == chosen.mailing_id)
    if chosen.status is not None:
        query = query.where(Attempt.status == chosen.status)
    zone = ZoneInfo(chosen.timezone)
    if chosen.date_from is not None:
        query = query.where(Attempt.started_at >= local_midnight(chosen.date_from, zone))
    if chosen.date_to is not None:
        query = query.where(
            Attempt.started_at < local_midnight(chosen.date_to + timedelta(days=1), zone)
        )
    return query


def attempts_query(viewer: User, chosen: AttemptFilter) -> sa.Select:
    """SELECT of the attempts the filter shows the viewer (the API lists it a page at a time)."""
    return _filtered(sa.select(Attempt).join(Mailing, Attempt.mailing_id == Mailing.id), viewer, chosen)


def visible_attempt(viewer: User, attempt_id: int) -> Attempt | None:
    """The attempt, if the viewer may see it (their own mailing's, or any for a manager)."""
    return db.session.scalar(scope(
        sa.select(Attempt).join(Mailing, Attempt.mailing_id == Mailing.id).where(Attempt.id == attempt_id),
        viewer))


def _newest_first(query: sa.Select) -> sa.Select:
    return query.order_by(Attempt.started_at.desc(), Attempt.id.desc())


def attempts_page(viewer: User, chosen: AttemptFilter, page: int, per_page: int = PER_PAGE):
    """One page of the attempts, newest first, with mailing, message and owner loaded."""
    query = (
        sa.select(Attempt)
        .join(Mailing, Attempt.mailing_id == Mailing.id)
        .options(
            so.contains_eager(Attempt.mailing).options(
                so.joinedload(Mailing.message), so.joinedload(Mailing.owner)
            )
        )
    )
    return db.paginate(_newest_first(_filtered(query, viewer, chosen)),
                       page=page, per_page=per_page, error_out=False)


def export_rows(viewer: User, chosen: AttemptFilter) -> Iterator[tuple]:
    """Rows for ``EXPORT_HEADER``, newest first, times in the filter's zone, read in batches."""
    query = (
        sa.select(Mailing.id, Message.subject, User.email, Attempt.occurrence_at,
                  Attempt.started_at, Attempt.finished_at, Attempt.status,
                  Attempt.sent_count, Attempt.failed_count, Attempt.server_response)
        .select_from(Attempt)
        .join(Mailing, Attempt.mailing_id == Mailing.id)
        .join(Message, Mailing.message_id == Message.id)
        .join(User, Mailing.owner_id == User.id)
    )
    query = _newest_first(_filtered(query, viewer, chosen)).execution_options(
        yield_per=EXPORT_BATCH
    )
    shown = _shown_in(chosen.timezone)

    def rows() -> Iterator[tuple]:
        for (mailing_id, subject, owner_email, occurrence, started, finished, status,
             sent, failed, response) in db.session.execute(query):
            yield (mailing_id, subject, owner_email, shown(occurrence), shown(started),
                   shown(finished), status.value, sent, failed, response or "")

    return rows()


def _shown_in(timezone: str):
    """How an export writes a moment: ISO 8601 to the second, in ``timezone``; None is empty."""
    zone = ZoneInfo(timezone)

    def shown(moment: datetime | None) -> str:
        return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""

    return shown


def _export_attempts() -> sa.Select:
    """The attempt's columns of ``DELIVERY_EXPORT_HEADER``, by attempt id."""
    return (
        sa.select(Attempt.id, Mailing.id, Message.subject, User.email, Attempt.started_at)
        .select_from(Attempt)
        .join(Mailing, Attempt.mailing_id == Mailing.id)
        .join(Message, Mailing.message_id == Message.id)
        .join(User, Mailing.owner_id == User.id)
        .order_by(Attempt.id)
    )


def delivery_export_rows(viewer: User, chosen: AttemptFilter) -> Iterator[tuple]:
    """Rows for ``DELIVERY_EXPORT_HEADER``: every letter of the attempts the report shows."""
    return _delivery_rows(_filtered(_export_attempts(), viewer, chosen), chosen.timezone)


def attempt_delivery_rows(attempt: Attempt, timezone: str) -> Iterator[tuple]:
    """Rows for ``DELIVERY_EXPORT_HEADER`` of one attempt (the caller checked who may see it)."""
    return _delivery_rows(_export_attempts().where(Attempt.id == attempt.id), timezone)


def _delivery_rows(attempts: sa.Select, timezone: str) -> Iterator[tuple]:
    """The deliveries of ``attempts`` attempt by attempt, each in client order, read in batches.

    Memory stays flat: a thousand attempts and a batch of deliveries at a time.
    """
    shown = _shown_in(timezone)
    letters = (
        sa.select(Delivery.attempt_id, Delivery.email, Client.full_name, Delivery.status,
                  Delivery.created_at, Delivery.smtp_code, Delivery.server_reply,
                  Delivery.bounce, Delivery.bounced_at, Delivery.bounce_reason)
        .outerjoin(Client, Client.id == Delivery.client_id)
        .order_by(Delivery.attempt_id, Delivery.client_id, Delivery.id)
    )

    def rows() -> Iterator[tuple]:
        chunks = db.session.execute(
            attempts.execution_options(yield_per=EXPORT_ATTEMPTS_AT_ONCE)).partitions()
        for chunk in chunks:
            attempt_cells = {attempt_id: (mailing_id, subject, owner_email, attempt_id,
                                          shown(started))
                             for attempt_id, mailing_id, subject, owner_email, started in chunk}
            query = letters.where(Delivery.attempt_id.in_(list(attempt_cells)))
            for (attempt_id, email, full_name, status, tried, code, reply, bounce, bounced,
                 reason) in db.session.execute(query.execution_options(yield_per=EXPORT_BATCH)):
                yield (*attempt_cells[attempt_id], email, full_name or "", status.value,
                       shown(tried), code, reply or "", bounce.value if bounce else "",
                       shown(bounced), reason or "")

    return rows()


@dataclass(frozen=True)
class DayCount:
    day: date
    sent: int
    failed: int

    @property
    def total(self) -> int:
        return self.sent + self.failed


@dataclass(frozen=True)
class MailingStats:
    """A mailing's figures; ``days`` are the last days in ``timezone``, oldest first."""

    mailing_id: int
    runs: int
    finished_runs: int
    successful_runs: int
    sent: int
    failed: int
    last_response: str | None
    last_response_at: datetime | None
    timezone: str
    days: tuple[DayCount, ...]
    bounced: int = 0  # letters accepted, then returned by a DSN (mailer/bounces/)
    complaints: int = 0  # letters their recipients reported as spam
    suppressed: int = 0  # the mailing's clients no letter goes to since theirs bounced

    @property
    def success_rate(self) -> float | None:
        """Successful runs out of finished ones (a run still sending is not counted)."""
        return self.successful_runs / self.finished_runs if self.finished_runs else None

    @property
    def days_sent(self) -> int:
        return sum(d.sent for d in self.days)

    @property
    def days_failed(self) -> int:
        return sum(d.failed for d in self.days)

    @property
    def chart_max(self) -> int:
        """The top of the chart's scale: the busiest day rounded up to 1, 2 or 5 × 10ⁿ."""
        peak = max((d.total for d in self.days), default=0)
        step = 1
        while True:
            for factor in (1, 2, 5):
                if step * factor >= peak:
                    return step * factor
            step *= 10


def _timezone_name(timezone: str | None) -> str:
    if timezone:
        return timezone
    return str(get_timezone() or "UTC")


def mailing_stats(mailing_id: int, timezone: str | None = None, *, days: int = STATS_DAYS,
                  now: datetime | None = None) -> MailingStats:
    """A mailing's figures, in three aggregate queries.

    ``timezone`` defaults to the viewer's (Flask-Babel's, which the app sets
    from the signed-in user). The caller has already checked that the viewer
    may see the mailing.
    """
    zone_name = _timezone_name(timezone)
    zone = ZoneInfo(zone_name)
    finished = Attempt.status != AttemptStatus.SENDING
    runs, finished_runs, successful_runs, sent, failed = db.session.execute(
        sa.select(
            sa.func.count(Attempt.id),
            sa.func.coalesce(sa.func.sum(sa.case((finished, 1), else_=0)), 0),
            sa.func.coalesce(
                sa.func.sum(sa.case((Attempt.status == AttemptStatus.SUCCESS, 1), else_=0)), 0
            ),
            sa.func.coalesce(sa.func.sum(Attempt.sent_count), 0),
            sa.func.coalesce(sa.func.sum(Attempt.failed_count), 0),
        ).where(Attempt.mailing_id == mailing_id)
    ).one()
    last = db.session.execute(
        sa.select(Attempt.server_response, Attempt.finished_at, Attempt.started_at)
        .where(Attempt.mailing_id == mailing_id, finished)
        .order_by(Attempt.started_at.desc(), Attempt.id.desc())
        .limit(1)
    ).first()
    return MailingStats(
        mailing_id=mailing_id,
        runs=runs,
        finished_runs=int(finished_runs),
        successful_runs=int(successful_runs),
        sent=int(sent),
        failed=int(failed),
        last_response=last.server_response if last else None,
        last_response_at=(last.finished_at or last.started_at) if last else None,
        timezone=zone_name,
        days=_daily_counts(mailing_id, zone, days, now or utcnow()),
        **_bounce_counts(mailing_id),
    )


def _bounce_counts(mailing_id: int) -> dict[str, int]:
    """What came back of the mailing's letters, and how many of its clients that has silenced."""
    kinds = dict(db.session.execute(
        sa.select(Delivery.bounce, sa.func.count()).join(Attempt, Attempt.id == Delivery.attempt_id)
        .where(Attempt.mailing_id == mailing_id, Delivery.bounce.is_not(None))
        .group_by(Delivery.bounce)).all())
    # Read from the owner's suppressed clients (ix_clients_suppressed), a few in a hundred.
    owner = sa.select(Mailing.owner_id).where(Mailing.id == mailing_id).scalar_subquery()
    suppressed = db.session.scalar(
        sa.select(sa.func.count()).select_from(mailing_clients)
        .join(Client, Client.id == mailing_clients.c.client_id)
        .where(mailing_clients.c.mailing_id == mailing_id, Client.owner_id == owner,
               Client.suppressed_at.is_not(None)))
    return {"bounced": kinds.get(Bounce.HARD, 0) + kinds.get(Bounce.SOFT, 0),
            "complaints": kinds.get(Bounce.COMPLAINT, 0), "suppressed": suppressed}


def _daily_counts(mailing_id: int, zone: ZoneInfo, days: int,
                  now: datetime) -> tuple[DayCount, ...]:
    """Sent and failed per local day, grouped in SQL by the two local midnights around the start.

    Comparing with precomputed UTC boundaries works the same on PostgreSQL
    and SQLite, which has no time zones of its own.
    """
    today = now.astimezone(zone).date()
    day_list = [today - timedelta(days=days - 1 - n) for n in range(days)]
    bounds = [local_midnight(day, zone) for day in day_list]
    bounds.append(local_midnight(today + timedelta(days=1), zone))
    bucket = sa.case(
        *[(Attempt.started_at < bounds[n + 1], n) for n in range(days)], else_=None
    ).label("bucket")
    rows = db.session.execute(
        sa.select(bucket, sa.func.sum(Attempt.sent_count), sa.func.sum(Attempt.failed_count))
        .where(Attempt.mailing_id == mailing_id,
               Attempt.started_at >= bounds[0], Attempt.started_at < bounds[-1])
        .group_by(bucket)
    )
    by_bucket = {n: (int(s or 0), int(f or 0)) for n, s, f in rows if n is not None}
    return tuple(DayCount(day, *by_bucket.get(n, (0, 0))) for n, day in enumerate(day_list))
