"""One send rate per mail relay, held by every worker on every host.

Relays accept mail only so fast (per second, some also per minute or per hour), and
workers on several hosts send through the same relay, so the rate lives where they
all meet: the ``send_rates`` table, one row per relay and period. Each row is the
generic cell rate algorithm's one timestamp, ``next_at``: when the relay's bucket is
empty again. Reserving a letter is one atomic upsert that moves ``next_at`` on by one
interval and returns it; the letter may go at ``next_at - interval``.

The row is locked for that one statement only, on a connection of the rate's own in
autocommit. Inside the worker's session the lock would last until its next commit
and every worker on the relay would queue behind it.

On PostgreSQL the statement reads the database's clock and the wait is worked out
from database values alone, so a host whose clock is off still keeps the rate. On
SQLite (one host, the embedded default) the clock is Python's. There, call ``wait``
while the worker's session holds no uncommitted writes: SQLite has one writer, and
the reservation would wait out the busy timeout behind the session's own lock.

Letters are spaced evenly in every period, with no burst: a relay that counts a minute
or an hour from its first letter (Postfix's anvil does) would refuse the second
bucketful a burst lets through in the same window. With several limits a letter is
reserved in the longest period first and each next reservation arrives no earlier
than the slot so far, so the last one is exactly when the letter goes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import sqlalchemy as sa

# (setting, period's name in the key, its seconds), longest first: the order in which a
# letter is reserved.
PERIODS = (
    ("MAIL_RATE_PER_HOUR", "hour", 3600.0),
    ("MAIL_RATE_PER_MINUTE", "minute", 60.0),
    ("MAIL_RATE_PER_SECOND", "second", 1.0),
)

_RESERVE = """
INSERT INTO send_rates (key, next_at) VALUES (:key, {latest}({now}, :not_before) + :interval)
ON CONFLICT (key) DO UPDATE
    SET next_at = {latest}(send_rates.next_at, {now}, :not_before) + :interval
RETURNING next_at, {now} AS now
"""
_RESERVE_ON = {
    "postgresql": _RESERVE.format(latest="greatest",
                                  now="extract(epoch from clock_timestamp())::float8"),
    "sqlite": _RESERVE.format(latest="max", now=":now"),
}


@dataclass(frozen=True)
class Limit:
    """At most one letter every ``interval`` seconds on ``key``'s relay."""

    key: str
    interval: float


@dataclass(frozen=True)
class Slot:
    """When a reserved letter may go (``at``) and when it was reserved (``now``), both
    on the clock of the database that keeps the rate."""

    at: float
    now: float

    @property
    def delay(self) -> float:
        return max(0.0, self.at - self.now)


def limits_from_config(config: Mapping) -> list[Limit]:
    """The relay's limits that are set, longest period first."""
    relay = f"{config['MAIL_SERVER'].lower()}:{config['MAIL_PORT']}"
    limits = []
    for setting, name, period in PERIODS:
        letters = config.get(setting)
        if letters:
            limits.append(Limit(f"{relay}/{name}", period / letters))
    return limits


class SendRate:
    """One worker's hold on its relay's rate: ``wait()`` before each letter, ``close()``
    (or leave the ``with`` block) when the worker is done."""

    def __init__(self, engine: sa.Engine, limits: Sequence[Limit]):
        dialect = engine.dialect.name
        if dialect not in _RESERVE_ON:
            raise ValueError(f"send rates are kept in PostgreSQL or SQLite, not {dialect}")
        if not limits:
            raise ValueError("a send rate needs at least one limit")
        self.engine, self.limits = engine, tuple(limits)
        self._reserve = sa.text(_RESERVE_ON[dialect])
        self._python_clock = dialect == "sqlite"
        self._connection: sa.Connection | None = None

    @classmethod
    def from_config(cls, config: Mapping, engine: sa.Engine) -> SendRate | None:
        """The relay's rate from ``MAIL_RATE_PER_*``; None when no limit is set."""
        limits = limits_from_config(config)
        return cls(engine, limits) if limits else None

    def reserve(self) -> Slot:
        """Take one letter's place in every limit; raises what the database raises."""
        connection = self._connect()
        slot = None
        try:
            for limit in self.limits:
                values = {"key": limit.key, "interval": limit.interval,
                          "not_before": slot.at if slot else 0.0}
                if self._python_clock:
                    values["now"] = time.time()
                next_at, now = connection.execute(self._reserve, values).one()
                at = max(next_at - limit.interval, now, values["not_before"])
                slot = Slot(at, now)
        except sa.exc.DBAPIError:
            self.close()  # a broken connection is not reused; the next reserve opens another
            raise
        return slot

    def wait(self, sleep: Callable[[float], None] = time.sleep) -> float:
        """Reserve one letter and sleep until it may go; the seconds slept (0.0: at once)."""
        delay = self.reserve().delay
        if delay > 0:
            sleep(delay)
        return delay

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> SendRate:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _connect(self) -> sa.Connection:
        if self._connection is None:
            self._connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._connection
