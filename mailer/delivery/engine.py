"""One run of a mailing: claim an occurrence, send to each client once, record the attempt.

The cron script and ``flask force-mail`` both end up in ``run_mailing``.

Exactly once: the Attempt row, unique on (mailing, occurrence), is the claim.
The run that inserts it sends; a second run finds it and leaves, unless the
first one died: a sending run holds a lease on its attempt and renews it with
every batch, so once a lease has lapsed the next run takes the attempt over
and carries on. Clients go out in id order, and each batch's Delivery rows are
committed together, so a run killed mid-way is resumed without skipping
anyone and resends at most the one batch it had not recorded.
"""
from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Callable, Iterator

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from mailer import lifecycle, schedule
from mailer.bounces import verp
from mailer.delivery import compose, reasons
from mailer.delivery.sender import SendOutcome, ServerUnavailable, SmtpSession, SmtpSettings
from mailer.extensions import db
from mailer.message_template import TemplateProblem
from mailer.models import (
    Attempt,
    AttemptStatus,
    Client,
    Delivery,
    DeliveryStatus,
    Mailing,
    User,
    mailing_clients,
    utcnow,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_ID = 2
EXIT_PARTIAL = 3
CLIENT_PAGE = 500


@dataclass
class RunResult:
    """What a run did, in one line for a person, and the exit status for the shell."""

    line: str
    exit_code: int = EXIT_OK
    attempt_id: int | None = None


class _LostClaim(Exception):
    """Another run took the attempt over (our lease had lapsed)."""


class _NotSending(Exception):
    """The mailing was paused or stopped, or its owner blocked, during the run."""


class _TooManyRefused(Exception):
    """So many letters were refused that the rest would only hurt the sender's reputation."""

    def __init__(self, refused: int, tried: int):
        super().__init__(f"{refused} of the first {tried} letters were refused")
        self.refused, self.tried = refused, tried


def _runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[:64]


def _lease() -> timedelta:
    return timedelta(seconds=current_app.config["MAILING_LEASE_SECONDS"])


def _why_not_sending(mailing_id: int) -> str | None:
    """None while the mailing may send (``Mailing.may_send``, read afresh), else why not."""
    status, active, may_send = db.session.execute(
        sa.select(Mailing.status, User.active, Mailing.may_send)
        .join(User, User.id == Mailing.owner_id).where(Mailing.id == mailing_id)
    ).one()
    if may_send:
        return None
    return "belongs to a blocked user" if not active else f"is {status.value}"


def run_mailing(
    mailing_id: int,
    *,
    ignore_schedule: bool = False,
    resume: bool = False,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Serve the mailing's latest due occurrence (or, when told, send now / finish the last one)."""
    now = now or utcnow()
    mailing = db.session.get(Mailing, mailing_id)
    if mailing is None:
        return RunResult(f"mailing {mailing_id} does not exist", EXIT_BAD_ID)
    refusal = _why_not_sending(mailing.id)
    if refusal:
        forced = ignore_schedule or resume
        return RunResult(f"mailing {mailing.id} {refusal}: nothing sent",
                         EXIT_FAILED if forced else EXIT_OK)
    runner = _runner_id()
    if resume:
        claimed = _reopen_latest(mailing, runner)
    elif ignore_schedule:
        claimed = _claim(mailing, now.replace(microsecond=0), runner, manual=True)
    else:
        due = schedule.latest_due(mailing.start_at, mailing.end_at, mailing.frequency.value,
                                  mailing.timezone, now)
        if due is None:
            return RunResult(f"mailing {mailing.id}: not due yet "
                             f"(first send {mailing.start_at:%Y-%m-%d %H:%M} UTC)")
        claimed = _claim(mailing, due, runner, manual=False)
    if isinstance(claimed, RunResult):
        _after_run(mailing, now)
        return claimed
    result = _send_attempt(mailing, claimed, runner, sleep)
    _after_run(mailing, now)
    return result


# -- claiming ---------------------------------------------------------------

def _claim(mailing: Mailing, occurrence: datetime, runner: str, manual: bool) -> Attempt | RunResult:
    attempt = Attempt(mailing_id=mailing.id, occurrence_at=occurrence, status=AttemptStatus.SENDING,
                      runner=runner, lease_until=utcnow() + _lease(), manual=manual,
                      started_at=utcnow())
    db.session.add(attempt)
    try:
        db.session.commit()
        return attempt
    except IntegrityError:
        db.session.rollback()
    existing = db.session.scalar(sa.select(Attempt).where(
        Attempt.mailing_id == mailing.id, Attempt.occurrence_at == occurrence))
    when = f"{occurrence:%Y-%m-%d %H:%M} UTC"
    if existing.status is not AttemptStatus.SENDING:
        return RunResult(f"mailing {mailing.id}: the {when} send is already done "
                         f"({existing.status.value})", attempt_id=existing.id)
    if _take_over(existing.id, runner, only_if_lapsed=True):
        return existing
    return RunResult(f"mailing {mailing.id}: another run is sending the {when} send",
                     attempt_id=existing.id)


def _take_over(attempt_id: int, runner: str, only_if_lapsed: bool) -> bool:
    """Make this run the attempt's sender, atomically; False if another run holds it."""
    lapsed = sa.or_(Attempt.lease_until.is_(None), Attempt.lease_until < utcnow())
    condition = sa.and_(Attempt.status == AttemptStatus.SENDING, lapsed) if only_if_lapsed \
        else sa.or_(Attempt.status != AttemptStatus.SENDING, lapsed)
    taken = db.session.execute(
        sa.update(Attempt).where(Attempt.id == attempt_id, condition)
        .values(runner=runner, lease_until=utcnow() + _lease(), status=AttemptStatus.SENDING,
                finished_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    return taken


def _reopen_latest(mailing: Mailing, runner: str) -> Attempt | RunResult:
    """The latest attempt, to send to the clients it has not reached (or only deferred)."""
    latest = db.session.scalar(
        sa.select(Attempt).where(Attempt.mailing_id == mailing.id)
        .order_by(Attempt.occurrence_at.desc(), Attempt.id.desc()).limit(1)
    )
    if latest is None:
        return RunResult(f"mailing {mailing.id}: nothing to resume, it has not sent yet",
                         EXIT_FAILED)
    if not _take_over(latest.id, runner, only_if_lapsed=False):
        return RunResult(f"mailing {mailing.id}: another run is sending it right now",
                         EXIT_FAILED, latest.id)
    db.session.execute(sa.delete(Delivery).where(
        Delivery.attempt_id == latest.id, Delivery.status == DeliveryStatus.FAILED,
        sa.or_(Delivery.smtp_code.is_(None), Delivery.smtp_code.between(400, 499)),
    ))
    db.session.commit()
    db.session.refresh(latest)
    return latest


# -- sending ----------------------------------------------------------------

def _unserved(query: sa.Select, mailing_id: int, attempt_id: int) -> sa.Select:
    """``query`` narrowed to the mailing's clients still mailed (neither unsubscribed nor
    suppressed by a bounce) without a Delivery in the attempt."""
    already = sa.select(Delivery.id).where(Delivery.attempt_id == attempt_id,
                                           Delivery.client_id == Client.id)
    return (query.join(mailing_clients, mailing_clients.c.client_id == Client.id)
            .where(mailing_clients.c.mailing_id == mailing_id, Client.unsubscribed_at.is_(None),
                   Client.suppressed_at.is_(None), ~sa.exists(already)))


def count_unserved(mailing_id: int, attempt_id: int) -> int:
    """How many clients still mailed the attempt has not reached yet."""
    return db.session.scalar(_unserved(sa.select(sa.func.count(Client.id)), mailing_id, attempt_id))


def _unserved_clients(mailing_id: int, attempt_id: int) -> Iterator[tuple[int, str, str]]:
    """Subscribed clients without a Delivery for this attempt, in id order, a page at a time."""
    page = _unserved(sa.select(Client.id, Client.email, Client.full_name), mailing_id, attempt_id)
    last_id = 0
    while True:
        rows = db.session.execute(
            page.where(Client.id > last_id).order_by(Client.id).limit(CLIENT_PAGE)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1][0]


@dataclass
class _Progress:
    attempt_id: int
    runner: str
    mailing_id: int
    batch_size: int
    renew_every: float
    pending: list[dict] = field(default_factory=list)
    last_commit: float = field(default_factory=time.monotonic)
    last_sent_reply: str = ""
    last_failed_reply: str = ""
    tried: int = 0
    refused: int = 0

    def count(self, outcome: SendOutcome, max_ratio: float, min_sample: int) -> None:
        """Count a first try; past the sample, too high a share of refusals ends the run."""
        self.tried += 1
        self.refused += not outcome.sent
        if self.tried >= min_sample and self.refused > max_ratio * self.tried:
            raise _TooManyRefused(self.refused, self.tried)

    def record(self, client_id: int, email: str, outcome: SendOutcome) -> None:
        self.pending.append({
            "attempt_id": self.attempt_id, "client_id": client_id, "email": email,
            "status": DeliveryStatus.SENT if outcome.sent else DeliveryStatus.FAILED,
            "server_reply": outcome.reply[:1000], "smtp_code": outcome.code,
            "created_at": utcnow(),
        })
        if outcome.sent:
            self.last_sent_reply = outcome.reply
        else:
            self.last_failed_reply = f"{email}: {outcome.reply}"
        if (len(self.pending) >= self.batch_size
                or time.monotonic() - self.last_commit > self.renew_every):
            self.commit()

    def commit(self) -> None:
        """Record the batch and renew the lease in one transaction."""
        renewed = db.session.execute(
            sa.update(Attempt).where(Attempt.id == self.attempt_id, Attempt.runner == self.runner)
            .values(lease_until=utcnow() + _lease())
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        if not renewed:
            db.session.rollback()
            raise _LostClaim()
        try:
            if self.pending:
                db.session.execute(sa.insert(Delivery.__table__), self.pending)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise _LostClaim() from None
        self.pending.clear()
        self.last_commit = time.monotonic()
        refusal = _why_not_sending(self.mailing_id)
        if refusal:
            raise _NotSending(f"{reasons.NO_LONGER_SENDING}{refusal} now")


def _send_attempt(mailing: Mailing, attempt: Attempt, runner: str,
                  sleep: Callable[[float], None]) -> RunResult:
    config = current_app.config
    attempt_id = attempt.id
    try:
        letter = compose.prepare(mailing)
    except TemplateProblem as problem:
        return _finish(mailing.id, attempt_id, f"{reasons.NOT_RENDERED} ({problem})")
    progress = _Progress(attempt_id, runner, mailing.id, config["MAILING_BATCH_SIZE"],
                         config["MAILING_LEASE_SECONDS"] / 3)
    session = SmtpSession(SmtpSettings.from_config(config), sleep=sleep)
    send = _sender(letter, session, config["SECRET_KEY"], attempt_id)
    stopped = too_many = None
    try:
        _send_all(send, _unserved_clients(mailing.id, attempt_id), progress, config)
    except ServerUnavailable as error:
        stopped = error.reason
        _commit_quietly(progress)
    except _NotSending as error:
        stopped = str(error)
    except _TooManyRefused as error:
        too_many = error
        stopped = str(error)
        _commit_quietly(progress)
    except _LostClaim:
        db.session.rollback()
        return RunResult(f"mailing {mailing.id}: another run took this send over", EXIT_FAILED,
                         attempt_id)
    finally:
        session.close()
    result = _finish(mailing.id, attempt_id, stopped, progress)
    if too_many is not None:
        _pause_for_refusals(mailing, too_many)
    if letter.unsigned_because:
        result = replace(result, line=f"{result.line} ({letter.unsigned_because})")
    return result


def _sender(letter: compose.Letter, session: SmtpSession, secret: str,
            attempt_id: int) -> Callable[[int, str, str], SendOutcome]:
    """Send one client's letter, with its VERP token in the envelope and the Message-ID."""
    def send(client_id: int, email: str, full_name: str) -> SendOutcome:
        token = verp.token(secret, attempt_id, client_id)
        message = partial(letter.for_client, client_id, email, full_name, token=token)
        return session.send(message, letter.envelope_for(token), email)
    return send


def _send_all(send: Callable[[int, str, str], SendOutcome],
              clients: Iterator[tuple[int, str, str]], progress: _Progress, config) -> None:
    """Each client once, a temporary refusal tried again at the end; raises ServerUnavailable,
    _TooManyRefused, _NotSending or _LostClaim with every outcome so far recorded or pending."""
    deferred: list[tuple[int, str, str, SendOutcome]] = []
    try:
        for client_id, email, full_name in clients:
            outcome = send(client_id, email, full_name)
            if outcome.temporary:
                deferred.append((client_id, email, full_name, outcome))
            else:
                progress.record(client_id, email, outcome)
            progress.count(outcome, config["MAILING_MAX_FAILURE_RATIO"], config["MAILING_MIN_SAMPLE"])
    except _TooManyRefused:
        for client_id, email, _name, first in deferred:
            progress.record(client_id, email, first)
        raise
    for index, (client_id, email, full_name, first) in enumerate(deferred):
        try:
            outcome = send(client_id, email, full_name)
        except ServerUnavailable:
            for later_id, later_email, _name, later_first in deferred[index:]:
                progress.record(later_id, later_email, later_first)
            raise
        progress.record(client_id, email, outcome)
    progress.commit()


def _pause_for_refusals(mailing: Mailing, error: _TooManyRefused) -> None:
    """Pause the mailing, telling its owner why in their language (the mailing page shows it)."""
    db.session.refresh(mailing)
    if not mailing.status.sends:
        return
    with force_locale(mailing.owner.language):
        reason = str(_("paused: %(percent)d%% of the first %(count)d letters were refused — "
                       "check the addresses or the mail server",
                       percent=round(100 * error.refused / error.tried), count=error.tried))
    lifecycle.pause(mailing, reason=reason)


def _commit_quietly(progress: _Progress) -> None:
    try:
        progress.commit()
    except (_LostClaim, _NotSending):
        pass


def _finish(mailing_id: int, attempt_id: int, stopped: str | None,
            progress: _Progress | None = None) -> RunResult:
    counts = dict(db.session.execute(
        sa.select(Delivery.status, sa.func.count()).where(Delivery.attempt_id == attempt_id)
        .group_by(Delivery.status)
    ).all())
    sent = counts.get(DeliveryStatus.SENT, 0)
    failed = counts.get(DeliveryStatus.FAILED, 0)
    not_reached = count_unserved(mailing_id, attempt_id) if stopped else 0
    if stopped:
        status = AttemptStatus.PARTIAL if sent else AttemptStatus.FAILURE
        response = f"{reasons.STOPPED}{stopped}."
        if not_reached:
            response += f" Not reached: {not_reached}."
    elif failed == 0:
        status = AttemptStatus.SUCCESS
        response = (progress.last_sent_reply if progress and progress.last_sent_reply
                    else reasons.NOTHING_TO_SEND if sent == 0 else "")
    else:
        status = AttemptStatus.FAILURE if sent == 0 else AttemptStatus.PARTIAL
        response = f"{reasons.REFUSED}{failed}. Last refusal: {progress.last_failed_reply}" \
            if progress and progress.last_failed_reply else f"{reasons.REFUSED}{failed}."
    db.session.execute(
        sa.update(Attempt).where(Attempt.id == attempt_id).values(
            status=status, sent_count=sent, failed_count=failed, server_response=response,
            finished_at=utcnow(), lease_until=None, runner=None,
        ).execution_options(synchronize_session=False)
    )
    db.session.commit()
    line = f"mailing {mailing_id}: {status.value}, sent {sent}, failed {failed}"
    if not_reached:
        line += f", not reached {not_reached}"
    if status is not AttemptStatus.SUCCESS:
        line += f" — {response}"
    exit_code = {AttemptStatus.SUCCESS: EXIT_OK, AttemptStatus.PARTIAL: EXIT_PARTIAL}.get(
        status, EXIT_FAILED)
    return RunResult(line, exit_code, attempt_id)


def _after_run(mailing: Mailing, now: datetime) -> None:
    """A mailing that has sent is running; one with no occurrence left is finished."""
    db.session.refresh(mailing)
    if not mailing.status.sends:
        return
    left = schedule.has_occurrence_after(mailing.start_at, mailing.end_at,
                                         mailing.frequency.value, mailing.timezone,
                                         max(now, utcnow()))
    if not left:
        lifecycle.finish(mailing)
    else:
        lifecycle.record_run(mailing)
