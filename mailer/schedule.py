"""When a recurring mailing is due: pure date arithmetic for the app and the cron script.

A schedule is (start, end, frequency, zone). Occurrence k is the start's local
wall-clock date-time in ``zone`` plus k days ("daily"), 7k days ("weekly") or
k calendar months ("monthly"), at the same wall-clock time, converted to UTC;
occurrences continue while they are <= end. Occurrence 0 is ``start`` itself.

- Monthly occurrences are always counted from the start, so the day of month
  is clamped to short months and restored afterwards (Jan 31 -> Feb 28/29 ->
  Mar 31 -> Apr 30).
- The wall-clock time holds across DST changes, so the UTC time shifts.
- A local time that does not exist (spring-forward gap) is resolved as
  zoneinfo does with fold=0: the pre-transition offset applies, so the
  occurrence lands later on that day's wall clock (02:30 -> 03:30 in Berlin).
- An ambiguous local time (fall-back) resolves to the first of its two
  instants (fold=0).
- Occurrences are strictly increasing: where a zone skips a whole calendar
  day (Pacific/Apia, 2011-12-30), the occurrence that would coincide with the
  next one is dropped.

All datetimes taken must be timezone-aware; all returned are in UTC. Only the
standard library and python-dateutil are imported, so the cron script stays
light. Lookups jump to an index estimated from the elapsed local days or
months, so a schedule running for decades costs no more than a short one.
"""
from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

__all__ = [
    "FREQUENCIES",
    "has_occurrence_after",
    "latest_due",
    "next_after",
    "occurrence_at",
    "occurrences",
]

FREQUENCIES = ("daily", "weekly", "monthly")

UTC = timezone.utc


def occurrences(start: datetime, end: datetime, frequency: str, zone: str) -> Iterator[datetime]:
    """All occurrences from ``start`` up to and including ``end``, in order."""
    return _Schedule.build(start, frequency, zone).until(_aware(end, "end"))


def occurrence_at(start: datetime, frequency: str, zone: str, index: int) -> datetime:
    """Occurrence number ``index`` (0 is the start), regardless of any end."""
    index = operator.index(index)
    if index < 0:
        raise ValueError(f"occurrence index must be >= 0, got {index}")
    return _Schedule.build(start, frequency, zone).at(index)


def latest_due(
    start: datetime, end: datetime, frequency: str, zone: str, now: datetime
) -> datetime | None:
    """The latest occurrence <= now and <= end; None if there is none yet."""
    schedule = _Schedule.build(start, frequency, zone)
    limit = min(_aware(now, "now").astimezone(UTC), _aware(end, "end").astimezone(UTC))
    index = schedule.last_index_at_or_before(limit)
    return None if index is None else schedule.at(index)


def next_after(
    start: datetime, end: datetime, frequency: str, zone: str, after: datetime, count: int = 5
) -> list[datetime]:
    """Up to ``count`` occurrences strictly after ``after`` and <= end, in order."""
    count = operator.index(count)
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    schedule = _Schedule.build(start, frequency, zone)
    upcoming = schedule.after(_aware(after, "after"), _aware(end, "end"))
    return list(itertools.islice(upcoming, count))


def has_occurrence_after(
    start: datetime, end: datetime, frequency: str, zone: str, after: datetime
) -> bool:
    """Whether any occurrence falls strictly after ``after`` and <= end."""
    return bool(next_after(start, end, frequency, zone, after, count=1))


@dataclass(frozen=True)
class _Schedule:
    first: datetime
    local_start: datetime
    zone: tzinfo
    frequency: str

    @classmethod
    def build(cls, start: datetime, frequency: str, zone: str) -> _Schedule:
        start = _aware(start, "start")
        tz = _zone(zone)
        return cls(
            first=start.astimezone(UTC),
            local_start=_naive_local(start, tz),
            zone=tz,
            frequency=_frequency(frequency),
        )

    def at(self, index: int) -> datetime:
        if index == 0:
            return self.first
        local = self.local_start + self._step(index)
        return local.replace(tzinfo=self.zone, fold=0).astimezone(UTC)

    def _step(self, index: int) -> timedelta | relativedelta:
        if self.frequency == "daily":
            return timedelta(days=index)
        if self.frequency == "weekly":
            return timedelta(weeks=index)
        return relativedelta(months=index)

    def estimate_index(self, moment: datetime) -> int:
        local = _naive_local(moment, self.zone)
        if self.frequency == "monthly":
            return _months_between(self.local_start, local)
        days = (local.date() - self.local_start.date()).days
        return days // 7 if self.frequency == "weekly" else days

    def last_index_at_or_before(self, limit: datetime) -> int | None:
        if self.first > limit:
            return None
        index = max(self.estimate_index(limit), 0)
        while index > 0 and self.at(index) > limit:
            index -= 1
        while self.at(index + 1) <= limit:
            index += 1
        return index

    def _strictly_increasing_from(
        self, index: int, floor: datetime | None, end: datetime
    ) -> Iterator[datetime]:
        for k in itertools.count(index):
            moment = self.at(k)
            if moment > end:
                return
            if floor is None or moment > floor:
                yield moment
                floor = moment

    def until(self, end: datetime) -> Iterator[datetime]:
        return self._strictly_increasing_from(0, None, end)

    def after(self, moment: datetime, end: datetime) -> Iterator[datetime]:
        last = self.last_index_at_or_before(moment)
        first_index = 0 if last is None else last + 1
        return self._strictly_increasing_from(first_index, moment, end)


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def _zone(name: str) -> tzinfo:
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as error:
        raise ValueError(f"unknown time zone: {name!r}") from error


def _frequency(value: str) -> str:
    name = getattr(value, "value", value)
    if not isinstance(name, str) or name not in FREQUENCIES:
        raise ValueError(f"unknown frequency {value!r}; expected one of {', '.join(FREQUENCIES)}")
    return name


def _naive_local(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _months_between(earlier: datetime, later: datetime) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month
