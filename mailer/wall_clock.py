"""Times as people enter and read them: wall-clock times in a zone, to and from UTC (stored).

The web forms, the admin and the services all convert here, to the minute."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from mailer.errors import ServiceError

UTC = ZoneInfo("UTC")
# What <input type="datetime-local"> sends and shows: a wall-clock time to the minute.
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def to_utc(wall_clock: datetime, zone: str, field: str | None = None) -> datetime:
    """``wall_clock`` (naive, or already in ``zone``) in UTC, to the minute; raises ServiceError
    for a time at the very ends of the calendar, which has no UTC time."""
    moment = wall_clock.replace(tzinfo=ZoneInfo(zone), second=0, microsecond=0)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ServiceError(_l("This date is too far in the past or in the future."),
                           field=field) from None


def from_utc(moment: datetime, zone: str) -> datetime:
    """``moment`` as the naive wall-clock time it is in ``zone`` (what a form field shows)."""
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def wall_clock_in(moment: datetime, zone: str, field: str | None = None) -> datetime:
    """What the clocks of ``zone`` show at ``moment``; a naive ``moment`` is taken as shown there
    already (the API takes both). Raises ServiceError at the very ends of the calendar."""
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    except OverflowError:
        raise ServiceError(_l("This date is too far in the past or in the future."),
                           field=field) from None
