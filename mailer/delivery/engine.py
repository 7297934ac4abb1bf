"""One run of a mailing: claim an occurrence, send to each client once, record the attempt.

The cron script and ``flask force-mail`` both end up in ``run_mailing``.

Exactly once: the Attempt row, unique on (mailing, occurrence), is the claim.
The run that inserts it splits the clients into batches (``batches.plan``);
every run of the same occurrence, on any host, then takes batches nobody holds
until none is left, so a large send goes as fast as all its workers together.
Each batch's Delivery rows are committed with the renewal of its lease; a
worker that dies lets the lease lapse and another takes the batch over, so no
client is skipped and at most the one batch in flight is sent twice. Whichever
worker closes the last batch ends the attempt with its counts.

A send no worker is on any more (all of them died, on any host) is picked up by
``serve_waiting``, which every sender runs after its own send and the minutely
sync line runs too (``cron_entry.run``).
"""
from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Callable, Iterator

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from mailer import lifecycle, schedule
from mailer.bounces import verp
from mailer.delivery import batches, compose, reasons
from mailer.delivery.send_rate import SendRate
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
    MailingStatus,
    User,
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
    """Who holds a batch: the install and host, the process, and a token of this run."""
    where = f"{current_app.config['MAILER_INSTANCE']}@{socket.gethostname()}"
    return f"{where[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def _why_not_sending(mailing_id: int) -> str | None:
    """None while the mailing may send (``Mailing.may_send``, read afresh), else why not."""
    return _refusal(*db.session.execute(
        sa.select(Mailing.status, User.active, Mailing.may_send)
        .join(User, User.id == Mailing.owner_id).where(Mailing.id == mailing_id)
    ).one())


def _why_stop(mailing_id: int, attempt_id: int) -> str | None:
    """Why a worker must stop mid-send: the mailing may no longer send, or another worker
    has ended the attempt (its mail server stopped answering, say). One query."""
    status, active, may_send, attempt_status = db.session.execute(
        sa.select(Mailing.status, User.active, Mailing.may_send, Attempt.status)
        .join(User, User.id == Mailing.owner_id).join(Attempt, Attempt.mailing_id == Mailing.id)
        .where(Mailing.id == mailing_id, Attempt.id == attempt_id)
    ).one()
    db.session.commit()
    refusal = _refusal(status, active, may_send)
    if refusal is None and attempt_status is not AttemptStatus.SENDING:
        return "was ended by another run"
    return refusal


def _refusal(status: MailingStatus, active: bool, may_send: bool) -> str | None:
    if may_send:
        return None
    return "belongs to a blocked user" if not active else f"is {status.value}"


def run_mailing(
    mailing_id: int,
    *,
    ignore_schedule: bool = False,
    resume: bool = False,
    join: bool = False,
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Serve the mailing's latest due occurrence (or, when told, send now / finish the last
    one / help with the one being sent)."""
    now = now or utcnow()
    mailing = db.session.get(Mailing, mailing_id)
    if mailing is None:
        return RunResult(f"mailing {mailing_id} does not exist", EXIT_BAD_ID)
    refusal = _why_not_sending(mailing.id)
    if refusal:
        forced = ignore_schedule or resume or join
        return RunResult(f"mailing {mailing.id} {refusal}: nothing sent",
                         EXIT_FAILED if forced else EXIT_OK)
    runner = _runner_id()
    if join:
        claimed = _being_sent(mailing)
    elif resume:
        claimed = _reopen_latest(mailing, runner)
    elif ignore_schedule:
        claimed = _claim(mailing, now.replace(microsecond=0), manual=True, runner=runner)
    else:
        due = schedule.latest_due(mailing.start_at, mailing.end_at, mailing.frequency.value,
                                  mailing.timezone, now)
        if due is None:
            return RunResult(f"mailing {mailing.id}: not due yet "
                             f"(first send {mailing.start_at:%Y-%m-%d %H:%M} UTC)")
        claimed = _claim(mailing, due, manual=False, runner=runner)
    if isinstance(claimed, RunResult):
        _after_run(mailing, now)
        return claimed
    result = _serve(mailing, claimed, runner, sleep)
    _after_run(mailing, now)
    return result


def serve_waiting(*, sleep: Callable[[float], None] = time.sleep) -> Iterator[RunResult]:
    """Help with every send no worker is on (its workers died, or it was left unplanned by an
    older version), oldest first, each at most once; one result per send helped."""
    served: set[int] = set()
    while (found := _waiting(served)) is not None:
        attempt_id, mailing_id = found
        served.add(attempt_id)
        mailing, attempt = db.session.get(Mailing, mailing_id), db.session.get(Attempt, attempt_id)
        result = _serve(mailing, attempt, _runner_id(), sleep)
        _after_run(mailing, utcnow())
        yield result


def anything_waiting() -> bool:
    return _waiting(set()) is not None


def _waiting(served: set[int]) -> tuple[int, int] | None:
    row = db.session.execute(
        sa.select(Attempt.id, Attempt.mailing_id)
        .join(Mailing, Mailing.id == Attempt.mailing_id).join(User, User.id == Mailing.owner_id)
        .where(Attempt.status == AttemptStatus.SENDING, Mailing.may_send, batches.abandoned(),
               Attempt.id.not_in(served) if served else sa.true())
        .order_by(Attempt.started_at, Attempt.id).limit(1)
    ).first()
    db.session.commit()
    return None if row is None else (row[0], row[1])


# -- claiming ---------------------------------------------------------------

def _plan_and_hold_first(attempt_id: int, mailing_id: int, runner: str) -> None:
    """Split the attempt's clients into batches and hold the first, in the caller's transaction:
    from its commit on, the send has a worker on it, so no worker finishing elsewhere takes
    it for abandoned while this run prepares its letter (``serve_waiting``)."""
    config = current_app.config
    batches.plan(attempt_id, mailing_id, config["MAILING_BATCH_SIZE"])
    batches.take_next(attempt_id, runner, config["MAILING_LEASE_SECONDS"])


def _claim(mailing: Mailing, occurrence: datetime, manual: bool, runner: str) -> Attempt | RunResult:
    """Insert the occurrence's Attempt with its batches planned and the first held by
    ``runner``; if another run got there first, its attempt to join (or why not)."""
    mailing_id = mailing.id
    attempt = Attempt(mailing_id=mailing_id, occurrence_at=occurrence, status=AttemptStatus.SENDING,
                      manual=manual, started_at=utcnow())
    db.session.add(attempt)
    try:
        db.session.flush()
        _plan_and_hold_first(attempt.id, mailing_id, runner)
        db.session.commit()
        return attempt
    except IntegrityError:
        db.session.rollback()
    existing = db.session.scalar(sa.select(Attempt).where(
        Attempt.mailing_id == mailing_id, Attempt.occurrence_at == occurrence))
    if existing.status is not AttemptStatus.SENDING:
        return RunResult(f"mailing {mailing_id}: the {_when(existing)} send is already done "
                         f"({existing.status.value})", attempt_id=existing.id)
    return existing


def _being_sent(mailing: Mailing) -> Attempt | RunResult:
    """The mailing's send in progress, for ``force-mail --join``."""
    attempt = db.session.scalar(
        sa.select(Attempt).where(Attempt.mailing_id == mailing.id,
                                 Attempt.status == AttemptStatus.SENDING)
        .order_by(Attempt.occurrence_at.desc()).limit(1))
    if attempt is None:
        return RunResult(f"mailing {mailing.id}: no send is in progress to join")
    return attempt


def _reopen_latest(mailing: Mailing, runner: str) -> Attempt | RunResult:
    """The latest attempt, to send to the clients it has not reached (or only deferred)."""
    latest = db.session.scalar(
        sa.select(Attempt).where(Attempt.mailing_id == mailing.id)
        .order_by(Attempt.occurrence_at.desc(), Attempt.id.desc()).limit(1)
    )
    if latest is None:
        return RunResult(f"mailing {mailing.id}: nothing to resume, it has not sent yet",
                         EXIT_FAILED)
    if batches.being_sent(latest.id):
        db.session.commit()
        return RunResult(f"mailing {mailing.id}: another run is sending it right now",
                         EXIT_FAILED, latest.id)
    db.session.execute(sa.delete(Delivery).where(
        Delivery.attempt_id == latest.id, Delivery.status == DeliveryStatus.FAILED,
        sa.or_(Delivery.smtp_code.is_(None), Delivery.smtp_code.between(400, 499)),
    ))
    batches.forget(latest.id)
    db.session.execute(
        sa.update(Attempt).where(Attempt.id == latest.id)
        .values(status=AttemptStatus.SENDING, finished_at=None)
        .execution_options(synchronize_session=False))
    _plan_and_hold_first(latest.id, mailing.id, runner)
    db.session.commit()
    db.session.refresh(latest)
    return latest


# -- sending ----------------------------------------------------------------

def count_unserved(mailing_id: int, attempt_id: int) -> int:
    """How many clients still mailed the attempt has not reached yet."""
    return db.session.scalar(
        batches.unserved(sa.select(sa.func.count(Client.id)), mailing_id, attempt_id))


def _unserved_clients(mailing_id: int, attempt_id: int,
                      batch: batches.Batch) -> Iterator[tuple[int, str, str]]:
    """The batch's subscribed clients without a Delivery for this attempt, in id order,
    a page at a time."""
    page = batch.narrow(batches.unserved(sa.select(Client.id, Client.email, Client.full_name),
                                         mailing_id, attempt_id))
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
    """One worker's share of an attempt: the batch it holds, its letters not yet recorded,
    and its own tally across batches."""

    attempt_id: int
    runner: str
    mailing_id: int
    batch_size: int
    lease_seconds: int
    batch: batches.Batch | None = None
    pending: list[dict] = field(default_factory=list)
    last_commit: float = field(default_factory=time.monotonic)
    tried: int = 0
    refused: int = 0
    sent: int = 0
    failed: int = 0

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
        if (len(self.pending) >= self.batch_size
                or time.monotonic() - self.last_commit > self.lease_seconds / 3):
            self.commit()

    def commit(self, *, done: bool = False) -> None:
        """Record the letters so far and renew the batch's lease in one transaction (or close
        the batch and take the next one, then None if none is left); then stop if the mailing
        or the send was stopped meanwhile."""
        if self.batch is None:
            return
        if not batches.renew(self.batch, self.runner, self.lease_seconds, done=done):
            db.session.rollback()
            raise _LostClaim()
        try:
            if self.pending:
                db.session.execute(sa.insert(Delivery.__table__), self.pending)
            following = batches.take_next(self.attempt_id, self.runner, self.lease_seconds) \
                if done else self.batch
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise _LostClaim() from None
        self.batch = following
        sent = sum(row["status"] is DeliveryStatus.SENT for row in self.pending)
        self.sent += sent
        self.failed += len(self.pending) - sent
        self.pending.clear()
        self.last_commit = time.monotonic()
        refusal = _why_stop(self.mailing_id, self.attempt_id)
        if refusal:
            raise _NotSending(f"{reasons.NO_LONGER_SENDING}{refusal} now")

    def let_go(self) -> None:
        """Record what was sent and hand the unfinished batch back (the run is stopping)."""
        try:
            self.commit()
        except (_LostClaim, _NotSending):
            pass
        if self.batch is not None:
            batches.release(self.batch, self.runner)


def _serve(mailing: Mailing, attempt: Attempt, runner: str,
           sleep: Callable[[float], None]) -> RunResult:
    """Send the attempt's batches, one after another, until none is left to take."""
    config = current_app.config
    mailing_id, attempt_id = mailing.id, attempt.id
    if attempt.planned_at is None:
        batches.plan(attempt_id, mailing_id, config["MAILING_BATCH_SIZE"])
        db.session.commit()
    try:
        letter = compose.prepare(mailing)
    except TemplateProblem as problem:
        return _finish(mailing_id, attempt_id, f"{reasons.NOT_RENDERED} ({problem})")
    progress = _Progress(attempt_id, runner, mailing_id, config["MAILING_BATCH_SIZE"],
                         config["MAILING_LEASE_SECONDS"])
    session = SmtpSession(SmtpSettings.from_config(config), sleep=sleep)
    rate = SendRate.from_config(config, db.engine)
    send = _sender(letter, session, config["SECRET_KEY"], attempt_id,
                   partial(rate.wait, sleep) if rate else None)
    stopped = too_many = None
    try:
        progress.batch = _next_batch(progress)
        while progress.batch is not None:
            try:
                _send_all(send, _unserved_clients(mailing_id, attempt_id, progress.batch),
                          progress, config)
            except _LostClaim:  # our lease lapsed and another worker has the batch now
                db.session.rollback()
                progress.pending.clear()
                progress.batch = None
            if progress.batch is None:
                progress.batch = _next_batch(progress)
    except ServerUnavailable as error:
        stopped = error.reason
        progress.let_go()
    except _NotSending as error:
        stopped = str(error)
        progress.let_go()
    except _TooManyRefused as error:
        too_many = error
        stopped = str(error)
        progress.let_go()
    finally:
        session.close()
        if rate:
            rate.close()
    if stopped or batches.all_done(attempt_id):
        result = _finish(mailing_id, attempt_id, stopped, progress)
    else:
        db.session.commit()
        result = _helped(mailing_id, attempt, progress)
    if too_many is not None:
        _pause_for_refusals(mailing, too_many)
    if letter.unsigned_because:
        result = replace(result, line=f"{result.line} ({letter.unsigned_because})")
    return result


def _next_batch(progress: _Progress) -> batches.Batch | None:
    """A batch nobody holds; while other workers hold some, the first whose lease lapses (its
    worker died, with its host perhaps), looked for again after 50 ms, then less and less
    often, up to every 2 s; None once every batch is done, or the send or its mailing was
    stopped (so a worker waiting on the last batches ends moments after they do)."""
    pause = 0.05
    while True:
        batch = batches.claim(progress.attempt_id, progress.runner, progress.lease_seconds)
        if batch is not None:
            return batch
        if not batches.being_sent(progress.attempt_id) or _why_stop(progress.mailing_id,
                                                                      progress.attempt_id):
            db.session.commit()
            return None
        db.session.commit()
        time.sleep(pause)
        pause = min(pause * 2, 2.0, progress.lease_seconds / 3)


def _when(attempt: Attempt) -> str:
    return f"{attempt.occurrence_at:%Y-%m-%d %H:%M} UTC"


def _helped(mailing_id: int, attempt: Attempt, progress: _Progress) -> RunResult:
    """The line of a worker that leaves the attempt to others still sending it."""
    if progress.sent + progress.failed == 0:
        return RunResult(f"mailing {mailing_id}: another run is sending the {_when(attempt)} send",
                         attempt_id=attempt.id)
    return RunResult(f"mailing {mailing_id}: this run sent {progress.sent}, failed "
                     f"{progress.failed} of the {_when(attempt)} send; other runs are sending "
                     f"the rest", attempt_id=attempt.id)


def _sender(letter: compose.Letter, session: SmtpSession, secret: str, attempt_id: int,
            wait_turn: Callable[[], float] | None) -> Callable[[int, str, str], SendOutcome]:
    """Send one client's letter, with its VERP token in the envelope and the Message-ID, once
    the relay's send rate (``wait_turn``, when one is set) lets it go."""
    def send(client_id: int, email: str, full_name: str) -> SendOutcome:
        if wait_turn is not None:
            wait_turn()
        token = verp.token(secret, attempt_id, client_id)
        message = partial(letter.for_client, client_id, email, full_name, token=token)
        return session.send(message, letter.envelope_for(token), email)
    return send


def _send_all(send: Callable[[int, str, str], SendOutcome],
              clients: Iterator[tuple[int, str, str]], progress: _Progress, config) -> None:
    """Each client of the batch once, a temporary refusal tried again at the batch's end, then
    the batch closed with its last letters; raises ServerUnavailable,
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
    progress.commit(done=True)


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


def _finish(mailing_id: int, attempt_id: int, stopped: str | None,
            progress: _Progress | None = None) -> RunResult:
    """End the attempt with its counts and the server's words, unless another worker ended it
    first: then only bring its counts up to date with this worker's last letters."""
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
        response = _last_reply(attempt_id, DeliveryStatus.SENT) or \
            (reasons.NOTHING_TO_SEND if sent == 0 else "")
    else:
        status = AttemptStatus.FAILURE if sent == 0 else AttemptStatus.PARTIAL
        response = f"{reasons.REFUSED}{failed}."
        if refusal := _last_reply(attempt_id, DeliveryStatus.FAILED, with_address=True):
            response += f" Last refusal: {refusal}"
    ended = db.session.execute(
        sa.update(Attempt).where(Attempt.id == attempt_id, Attempt.status == AttemptStatus.SENDING)
        .values(status=status, sent_count=sent, failed_count=failed, not_reached=not_reached,
                server_response=response, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not ended:
        db.session.execute(
            sa.update(Attempt).where(Attempt.id == attempt_id).values(
                sent_count=sent, failed_count=failed).execution_options(synchronize_session=False))
    db.session.commit()
    if not ended:
        mine = f"this run sent {progress.sent}, failed {progress.failed}; " if progress else ""
        return RunResult(f"mailing {mailing_id}: {mine}another run ended the send", EXIT_OK,
                         attempt_id)
    line = f"mailing {mailing_id}: {status.value}, sent {sent}, failed {failed}"
    if not_reached:
        line += f", not reached {not_reached}"
    if status is not AttemptStatus.SUCCESS:
        line += f" — {response}"
    exit_code = {AttemptStatus.SUCCESS: EXIT_OK, AttemptStatus.PARTIAL: EXIT_PARTIAL}.get(
        status, EXIT_FAILED)
    return RunResult(line, exit_code, attempt_id)


def _last_reply(attempt_id: int, status: DeliveryStatus, with_address: bool = False) -> str:
    """The server's words on the attempt's latest letter in ``status``, whichever worker sent it."""
    row = db.session.execute(
        sa.select(Delivery.email, Delivery.server_reply)
        .where(Delivery.attempt_id == attempt_id, Delivery.status == status)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(1)
    ).first()
    if row is None:
        return ""
    return f"{row.email}: {row.server_reply}" if with_address else row.server_reply


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
