"""``flask bounces fetch``: one pass over the bounce mailbox."""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from mailer.bounces import intake, mailbox
from mailer.bounces.mailbox import MailboxSettings
from mailer.extensions import db
from mailer.models import BounceMessage, BounceOutcome


@dataclass
class FetchReport:
    outcomes: Counter = field(default_factory=Counter)
    skipped: int = 0  # seen by an earlier run and left there
    removed: int = 0

    def __str__(self) -> str:
        read = sum(self.outcomes.values())
        parts = [f"{count} {outcome.value.replace('_', ' ')}"
                 for outcome, count in sorted(self.outcomes.items(), key=lambda item: item[0].value)]
        return (f"{read} read ({', '.join(parts) or 'none'}), {self.removed} removed, "
                f"{self.skipped} left from earlier runs")


def fetch(settings: MailboxSettings, limit: int) -> FetchReport:
    """Read up to ``limit`` new messages; raises mailbox.MailboxError when it cannot."""
    report = FetchReport()
    with mailbox.opened(settings) as box:
        keys = box.keys()
        seen = _seen(keys)
        for key in keys:
            if report.outcomes.total() >= limit:
                break
            if key in seen:
                if seen[key]:  # recorded by a run that could not remove it
                    box.let_go(key)
                    report.removed += 1
                else:
                    report.skipped += 1
                continue
            result = intake.take(box.read(key), source=settings.protocol, source_key=key)
            report.outcomes[result.outcome] += 1
            if result.recorded:
                box.let_go(key)
                report.removed += 1
    return report


def _seen(keys: list[str]) -> dict[str, bool]:
    """The keys an earlier run read, each with whether it was recorded."""
    seen: dict[str, bool] = {}
    recorded = (BounceOutcome.RECORDED, BounceOutcome.DUPLICATE)
    for start in range(0, len(keys), 1000):
        rows = db.session.execute(sa.select(BounceMessage.source_key, BounceMessage.outcome)
                                  .where(BounceMessage.source_key.in_(keys[start:start + 1000])))
        for key, outcome in rows:
            seen[key] = seen.get(key, False) or outcome in recorded
    return seen


# pg_try_advisory_lock's key for "reading the bounce mailbox" (any number no other lock uses).
MAILBOX_LOCK_KEY = 0x6D61696C626F78  # "mailbox"


@contextmanager
def _alone() -> Iterator[bool]:
    """Whether this run is the one reading the mailbox now. Every host carries the bounces
    line and cron fires it in the same minute on each; two reading at once could both find a
    report unrecorded and count one soft bounce twice. A session lock on a connection of its
    own, so the intake's commits keep it, and a run that dies lets it go with its connection."""
    if db.engine.dialect.name != "postgresql":
        yield True  # SQLite: one host
        return
    with db.engine.connect() as connection:
        alone = connection.scalar(sa.select(sa.func.pg_try_advisory_lock(MAILBOX_LOCK_KEY)))
        try:
            yield alone
        finally:
            if alone:
                connection.execute(sa.select(sa.func.pg_advisory_unlock(MAILBOX_LOCK_KEY)))


def run(config) -> tuple[int, str]:
    """One fetch as the command and the cron line do it: (exit status, one line)."""
    if not config.get("BOUNCE_MAILBOX_HOST"):
        return 2, "no bounce mailbox is set (BOUNCE_MAILBOX_HOST): nothing to read"
    settings = MailboxSettings.from_config(config)
    try:
        with _alone() as alone:
            if not alone:
                return 0, f"{settings.where}: another host is reading it now"
            report = fetch(settings, config["BOUNCE_FETCH_LIMIT"])
    except mailbox.MailboxError as error:
        db.session.rollback()
        return 1, f"cannot read the mailbox: {error}"
    except SQLAlchemyError as error:
        db.session.rollback()
        return 1, f"database error: {intake.database_problem(error)}"
    return 0, f"{settings.where}: {report}"
