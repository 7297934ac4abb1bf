"""One message in from the bounce address: find its delivery, record what it says.

``take`` is what ``flask bounces read`` (a message on standard input, from a
Postfix or Exim pipe) and ``flask bounces fetch`` (a mailbox) both call. Every
message is counted in ``bounce_messages`` with its outcome, whatever it was; a
bounce changes anything only when a genuine token (``verp``) names a delivery
of ours, and then in one transaction:

- a permanent failure suppresses the client at once;
- a temporary one suppresses it once it has had ``BOUNCE_SOFT_LIMIT`` of them
  (on different letters) within ``BOUNCE_SOFT_DAYS``;
- a complaint unsubscribes it.

Each is written on the Delivery with the reason in the reporting server's words.
The same report read twice (a mailbox read again after a crash) counts once.
"""
from __future__ import annotations

import email
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message

import sqlalchemy as sa
from flask import current_app

from mailer.bounces import reports, verp
from mailer.bounces.reports import Report
from mailer.extensions import db
from mailer.models import (
    Attempt,
    Bounce,
    BounceMessage,
    BounceOutcome,
    Client,
    Delivery,
    Mailing,
    utcnow,
)

# Headers a delivering server writes with the envelope recipient (the VERP address).
_ENVELOPE_HEADERS = ("X-Original-To", "Delivered-To", "Envelope-To", "X-Envelope-To",
                     "X-Delivered-To", "X-Rcpt-To", "To", "Cc")
# A quoted letter's own headers that carry the token (ours, as sent).
_QUOTED_HEADERS = ("Return-Path", "Message-ID", "References", "In-Reply-To")
# Which kind wins when one letter has been reported twice.
_RANK = {None: 0, Bounce.SOFT: 1, Bounce.HARD: 2, Bounce.COMPLAINT: 3}


@dataclass(frozen=True)
class Intake:
    """What became of one message: its outcome and one line for a person or a log."""

    outcome: BounceOutcome
    line: str
    kind: Bounce | None = None
    delivery_id: int | None = None

    @property
    def recorded(self) -> bool:
        """Recorded now or before: a mailbox may let it go."""
        return self.outcome in (BounceOutcome.RECORDED, BounceOutcome.DUPLICATE)


def take(raw: bytes, *, source: str, source_key: str | None = None,
         recipient: str | None = None) -> Intake:
    """Read one message and record it; ``recipient``: the envelope recipient, when known."""
    limit = current_app.config["BOUNCE_MAX_BYTES"]
    if len(raw) > limit:
        return _log(source, source_key, None, BounceOutcome.UNREADABLE,
                    f"refused: the message is larger than {limit // 1024} kB")
    message = _parsed(raw)
    if message is None:
        return _log(source, source_key, None, BounceOutcome.UNREADABLE,
                    "refused: empty" if not raw.strip() else "refused: not an e-mail message")
    message_id = " ".join(str(message.get("Message-ID") or "").split())[:255] or None
    try:
        search = verp.find(current_app.config["SECRET_KEY"], _token_places(message, recipient))
        found = _delivery(search.found) if search.found else None
        # Read once, about the letter's own address when a DSN names several.
        report = reports.read(message, for_address=found[0].email if found else None)
    except (LookupError, ValueError, TypeError, UnicodeError) as error:
        return _log(source, source_key, message_id, BounceOutcome.UNREADABLE,
                    f"refused: malformed message ({type(error).__name__}: {error})"[:300])
    if not report.is_bounce:
        return _log(source, source_key, message_id, BounceOutcome.NOT_BOUNCE,
                    "ignored: not a bounce or a complaint (no failure reported in it)")
    if search.found is None:
        outcome = BounceOutcome.FORGED if search.forged else BounceOutcome.UNKNOWN
        why = "its token is forged" if search.forged else "it names no letter of ours"
        return _log(source, source_key, message_id, outcome,
                    f"ignored: {_named(report.kind)}, but {why}", report.kind)
    if found is None:
        return _log(source, source_key, message_id, BounceOutcome.UNKNOWN,
                    f"ignored: {_named(report.kind)} about a letter that is not on record",
                    report.kind)
    delivery, client = found
    if _already_recorded(message_id, delivery.id):
        return _log(source, source_key, message_id, BounceOutcome.DUPLICATE,
                    f"already recorded: this report about {delivery.email}", report.kind, delivery.id)
    effect = _record(delivery, client, report)
    return _log(source, source_key, message_id, BounceOutcome.RECORDED,
                f"recorded: {_named(report.kind)} about {delivery.email} "
                f"({report.reason or 'no reason given'}){effect}", report.kind, delivery.id)


def _named(kind: Bounce) -> str:
    return "a complaint" if kind is Bounce.COMPLAINT else f"a {kind.value} bounce"


def _parsed(raw: bytes) -> Message | None:
    if not raw.strip():
        return None
    message = email.message_from_bytes(raw)
    if not message.keys():  # no header at all: whatever it is, it is no message
        return None
    return message


def _token_places(message: Message, recipient: str | None) -> list[str]:
    places = [recipient or ""]
    for name in _ENVELOPE_HEADERS:
        places += [str(value) for value in message.get_all(name, [])]
    quoted = reports.quoted_headers(message)
    if quoted is not None:
        for name in _QUOTED_HEADERS:
            places += [str(value) for value in quoted.get_all(name, [])]
    return places + reports.quoted_token_lines(message)


def _delivery(token: verp.Token) -> tuple[Delivery, Client] | None:
    """The delivery the token names and its client, if client and mailing have one owner."""
    return db.session.execute(
        sa.select(Delivery, Client)
        .join(Attempt, Attempt.id == Delivery.attempt_id)
        .join(Mailing, Mailing.id == Attempt.mailing_id)
        .join(Client, Client.id == Delivery.client_id)
        .where(Delivery.attempt_id == token.attempt_id, Delivery.client_id == token.client_id,
               Client.owner_id == Mailing.owner_id)
    ).first()


def _already_recorded(message_id: str | None, delivery_id: int) -> bool:
    if message_id is None:
        return False
    return db.session.scalar(sa.select(sa.exists().where(
        BounceMessage.message_id == message_id, BounceMessage.delivery_id == delivery_id,
        BounceMessage.outcome == BounceOutcome.RECORDED)))


def _record(delivery: Delivery, client: Client, report: Report) -> str:
    """Write the bounce on the delivery and act on its client; what was done, for the line."""
    now = utcnow()
    if _RANK[report.kind] >= _RANK[delivery.bounce]:
        delivery.bounce, delivery.bounce_reason, delivery.bounced_at = report.kind, report.reason, now
    if report.kind is Bounce.COMPLAINT:
        if client.unsubscribed_at is None:
            client.unsubscribed_at = now
            return "; client unsubscribed"
        return ""
    if client.suppressed_at is not None:
        return ""
    if report.kind is Bounce.HARD:
        _suppress(client, report.reason or "permanent failure", now)
        return "; client suppressed"
    config = current_app.config
    db.session.flush()
    soft = _soft_bounces(client.id, now - timedelta(days=config["BOUNCE_SOFT_DAYS"]))
    if soft >= config["BOUNCE_SOFT_LIMIT"]:
        _suppress(client, f"{soft} temporary failures in {config['BOUNCE_SOFT_DAYS']} days; "
                          f"the last: {report.reason or 'no reason given'}", now)
        return "; client suppressed"
    return f"; {soft} of {config['BOUNCE_SOFT_LIMIT']} temporary failures"


def _suppress(client: Client, reason: str, now) -> None:
    client.suppressed_at = now
    client.suppressed_reason = reason[:1000]


def _soft_bounces(client_id: int, since) -> int:
    """Letters to the client that came back with a temporary failure since ``since``."""
    return db.session.scalar(sa.select(sa.func.count(Delivery.id)).where(
        Delivery.client_id == client_id, Delivery.bounce == Bounce.SOFT,
        Delivery.bounced_at >= since))


def _log(source: str, source_key: str | None, message_id: str | None, outcome: BounceOutcome,
         line: str, kind: Bounce | None = None, delivery_id: int | None = None) -> Intake:
    """Count the message (with whatever was recorded, in the same transaction)."""
    db.session.add(BounceMessage(source=source, source_key=source_key, message_id=message_id,
                                 outcome=outcome, kind=kind, delivery_id=delivery_id,
                                 detail=line[:2000]))
    db.session.commit()
    return Intake(outcome, line, kind, delivery_id)


def counts(days: int) -> tuple[list[tuple[BounceOutcome, int]], list[tuple[Bounce, int]]]:
    """Messages read in the last ``days``, per outcome, and the bounces recorded, per kind."""
    since = utcnow() - timedelta(days=days)
    outcomes = db.session.execute(
        sa.select(BounceMessage.outcome, sa.func.count()).where(BounceMessage.received_at >= since)
        .group_by(BounceMessage.outcome).order_by(BounceMessage.outcome)).all()
    kinds = db.session.execute(
        sa.select(BounceMessage.kind, sa.func.count())
        .where(BounceMessage.received_at >= since, BounceMessage.outcome == BounceOutcome.RECORDED)
        .group_by(BounceMessage.kind).order_by(BounceMessage.kind)).all()
    return [tuple(row) for row in outcomes], [tuple(row) for row in kinds]


def database_problem(error: Exception) -> str:
    """A database error on one line, the driver's own words when it has them."""
    return " ".join(str(getattr(error, "orig", None) or error).split())
