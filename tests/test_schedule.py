"""Recurring-mailing date arithmetic: worked examples and Hypothesis properties."""
from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.models import Frequency
from mailer.schedule import (
    has_occurrence_after,
    latest_due,
    next_after,
    occurrence_at,
    occurrences,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)


def listed(start, end, frequency, zone) -> list[datetime]:
    return list(occurrences(start, end, frequency, zone))


# --- worked examples: DST --------------------------------------------------------


def test_weekly_berlin_keeps_nine_oclock_across_spring_forward():
    # Berlin moves from UTC+1 to UTC+2 on Sunday 2026-03-29.
    assert listed(berlin(2026, 3, 15, 9), utc(2026, 4, 6), "weekly", "Europe/Berlin") == [
        utc(2026, 3, 15, 8),
        utc(2026, 3, 22, 8),
        utc(2026, 3, 29, 7),
        utc(2026, 4, 5, 7),
    ]


def test_weekly_berlin_keeps_nine_oclock_across_fall_back():
    # Berlin moves from UTC+2 back to UTC+1 on Sunday 2026-10-25.
    assert listed(berlin(2026, 10, 18, 9), utc(2026, 11, 2), "weekly", "Europe/Berlin") == [
        utc(2026, 10, 18, 7),
        utc(2026, 10, 25, 8),
        utc(2026, 11, 1, 8),
    ]


def test_daily_new_york_keeps_eight_oclock_across_dst():
    start = datetime(2026, 3, 6, 8, tzinfo=NEW_YORK)  # DST starts Sunday 2026-03-08
    assert listed(start, utc(2026, 3, 9, 23), "daily", "America/New_York") == [
        utc(2026, 3, 6, 13),
        utc(2026, 3, 7, 13),
        utc(2026, 3, 8, 12),
        utc(2026, 3, 9, 12),
    ]
    autumn = datetime(2026, 10, 31, 8, tzinfo=NEW_YORK)  # DST ends Sunday 2026-11-01
    assert listed(autumn, utc(2026, 11, 2, 23), "daily", "America/New_York") == [
        utc(2026, 10, 31, 12),
        utc(2026, 11, 1, 13),
        utc(2026, 11, 2, 13),
    ]


def test_start_given_in_utc_uses_the_schedule_zone_wall_clock():
    # 08:00 UTC is 09:00 in Berlin; the schedule keeps 09:00 Berlin, not 08:00 UTC.
    assert listed(utc(2026, 3, 22, 8), utc(2026, 3, 30), "weekly", "Europe/Berlin") == [
        utc(2026, 3, 22, 8),
        utc(2026, 3, 29, 7),
    ]


def test_time_in_spring_forward_gap_lands_an_hour_later_on_the_wall_clock():
    # 2026-03-29 02:30 does not exist in Berlin (02:00 -> 03:00); fold=0 uses
    # the pre-transition offset +01:00, i.e. 01:30 UTC = 03:30 local.
    got = listed(berlin(2026, 3, 27, 2, 30), utc(2026, 3, 31), "daily", "Europe/Berlin")
    assert got == [
        utc(2026, 3, 27, 1, 30),
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 30, 0, 30),
    ]
    assert got[2].astimezone(BERLIN).time() == time(3, 30)


def test_time_in_new_york_gap_resolves_to_three_thirty_edt():
    start = datetime(2026, 3, 7, 2, 30, tzinfo=NEW_YORK)
    assert occurrence_at(start, "daily", "America/New_York", 1) == utc(2026, 3, 8, 7, 30)


def test_ambiguous_fall_back_time_picks_the_first_instant():
    # 2026-10-25 02:30 happens twice in Berlin: 00:30 UTC (CEST), then 01:30 UTC (CET).
    assert listed(berlin(2026, 10, 24, 2, 30), utc(2026, 10, 27), "daily", "Europe/Berlin") == [
        utc(2026, 10, 24, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


def test_start_on_second_instant_of_ambiguous_time_is_itself_occurrence_zero():
    start = berlin(2026, 10, 25, 2, 30, fold=1)
    assert start.astimezone(UTC) == utc(2026, 10, 25, 1, 30)
    assert occurrence_at(start, "daily", "Europe/Berlin", 0) == utc(2026, 10, 25, 1, 30)
    assert occurrence_at(start, "daily", "Europe/Berlin", 1) == utc(2026, 10, 26, 1, 30)


def test_lord_howe_half_hour_dst_shifts_utc_by_thirty_minutes():
    # Lord Howe: +11:00 in summer, +10:30 in winter; DST ends 2026-04-05, starts 2026-10-04.
    zone = "Australia/Lord_Howe"
    april = datetime(2026, 4, 4, 9, tzinfo=ZoneInfo(zone))
    assert listed(april, utc(2026, 4, 6), "daily", zone) == [
        utc(2026, 4, 3, 22),
        utc(2026, 4, 4, 22, 30),
        utc(2026, 4, 5, 22, 30),
    ]
    october = datetime(2026, 10, 3, 9, tzinfo=ZoneInfo(zone))
    assert listed(october, utc(2026, 10, 5), "daily", zone) == [
        utc(2026, 10, 2, 22, 30),
        utc(2026, 10, 3, 22),
        utc(2026, 10, 4, 22),
    ]


def test_kolkata_half_hour_offset_without_dst():
    start = datetime(2026, 1, 15, 9, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert listed(start, utc(2026, 4, 1), "monthly", "Asia/Kolkata") == [
        utc(2026, 1, 15, 3, 30),
        utc(2026, 2, 15, 3, 30),
        utc(2026, 3, 15, 3, 30),
    ]


def test_apia_skipped_day_drops_the_duplicate_and_stays_strictly_increasing():
    # Samoa skipped 2011-12-30 (UTC-10 -> UTC+14). The 30th's 10:00 would be the
    # same instant as the 31st's, so only one of them is kept.
    zone = "Pacific/Apia"
    start = datetime(2011, 12, 28, 10, tzinfo=ZoneInfo(zone))
    got = listed(start, utc(2012, 1, 2), "daily", zone)
    assert got == [
        utc(2011, 12, 28, 20),
        utc(2011, 12, 29, 20),
        utc(2011, 12, 30, 20),
        utc(2011, 12, 31, 20),
        utc(2012, 1, 1, 20),
    ]
    assert [o.astimezone(ZoneInfo(zone)).date() for o in got] == [
        date(2011, 12, 28), date(2011, 12, 29), date(2011, 12, 31), date(2012, 1, 1), date(2012, 1, 2),
    ]
    assert latest_due(start, utc(2013, 1, 1), "daily", zone, utc(2011, 12, 30, 21)) == utc(2011, 12, 30, 20)
    assert next_after(start, utc(2013, 1, 1), "daily", zone, utc(2011, 12, 29, 20), count=2) == [
        utc(2011, 12, 30, 20),
        utc(2011, 12, 31, 20),
    ]


# --- worked examples: months ---------------------------------------------------------


def test_monthly_from_january_31_clamps_and_restores_the_day():
    assert listed(berlin(2027, 1, 31, 9), utc(2027, 5, 1), "monthly", "Europe/Berlin") == [
        utc(2027, 1, 31, 8),
        utc(2027, 2, 28, 8),
        utc(2027, 3, 31, 7),  # CEST from 2027-03-28
        utc(2027, 4, 30, 7),
    ]


def test_monthly_from_january_31_hits_february_29_in_a_leap_year():
    assert listed(berlin(2028, 1, 31, 9), utc(2028, 3, 31, 12), "monthly", "Europe/Berlin") == [
        utc(2028, 1, 31, 8),
        utc(2028, 2, 29, 8),
        utc(2028, 3, 31, 7),
    ]


def test_occurrence_at_counts_months_from_the_start():
    start = berlin(2027, 1, 31, 9)
    assert occurrence_at(start, "monthly", "Europe/Berlin", 13) == utc(2028, 2, 29, 8)
    assert occurrence_at(start, "monthly", "Europe/Berlin", 14) == utc(2028, 3, 31, 7)


def test_frequency_enum_members_are_accepted():
    start = berlin(2026, 6, 1, 9)
    assert occurrence_at(start, Frequency.WEEKLY, "Europe/Berlin", 2) == utc(2026, 6, 15, 7)
    assert listed(start, utc(2026, 6, 3), Frequency.DAILY, "Europe/Berlin") == listed(
        start, utc(2026, 6, 3), "daily", "Europe/Berlin"
    )


# --- worked examples: ends, latest_due, next_after -----------------------------------


def test_end_is_inclusive():
    start = berlin(2026, 6, 1, 9)
    assert listed(start, utc(2026, 6, 3, 7), "daily", "Europe/Berlin")[-1] == utc(2026, 6, 3, 7)
    assert listed(start, utc(2026, 6, 3, 6, 59), "daily", "Europe/Berlin")[-1] == utc(2026, 6, 2, 7)


def test_end_before_start_gives_no_occurrences():
    assert listed(berlin(2026, 6, 1, 9), utc(2026, 5, 1), "daily", "Europe/Berlin") == []


def test_latest_due_is_none_before_the_start():
    start = berlin(2026, 6, 1, 9)
    assert latest_due(start, utc(2026, 12, 31), "daily", "Europe/Berlin", utc(2026, 6, 1, 6, 59)) is None
    assert latest_due(start, utc(2026, 12, 31), "daily", "Europe/Berlin", utc(2026, 6, 1, 7)) == utc(2026, 6, 1, 7)


def test_latest_due_after_downtime_returns_only_the_latest_missed_occurrence():
    # Cron was down from 3 to 7 June; at 10:15 Berlin on the 7th only the 7th is due.
    start = berlin(2026, 6, 1, 9)
    end = utc(2026, 12, 31)
    assert latest_due(start, end, "daily", "Europe/Berlin", berlin(2026, 6, 7, 10, 15)) == utc(2026, 6, 7, 7)
    assert latest_due(start, end, "daily", "Europe/Berlin", berlin(2026, 6, 7, 8, 59)) == utc(2026, 6, 6, 7)


def test_latest_due_is_capped_at_the_end():
    start = berlin(2026, 6, 1, 9)
    end = utc(2026, 6, 5, 12)
    assert latest_due(start, end, "daily", "Europe/Berlin", utc(2027, 1, 1)) == utc(2026, 6, 5, 7)


@pytest.mark.parametrize("start, end, now, expected", [
    # end 02:40 does not exist on 2026-03-29 (fold=0: 01:40 UTC); now 03:10 is 01:10 UTC.
    # The 01:30 UTC occurrence that day is still 20 minutes in the future.
    (berlin(2026, 3, 25, 2, 30), berlin(2026, 3, 29, 2, 40), berlin(2026, 3, 29, 3, 10), utc(2026, 3, 28, 1, 30)),
    # end is the first 02:50 (00:50 UTC), now the second 02:10 (01:10 UTC); the
    # 00:55 UTC occurrence that day is after the end.
    (berlin(2026, 10, 20, 2, 55), berlin(2026, 10, 25, 2, 50), berlin(2026, 10, 25, 2, 10, fold=1),
     utc(2026, 10, 24, 0, 55)),
])
def test_latest_due_compares_now_and_end_as_instants_when_they_share_a_zone(start, end, now, expected):
    assert latest_due(start, end, "daily", "Europe/Berlin", now) == expected


def test_latest_due_on_a_fifty_year_daily_schedule():
    start = berlin(2000, 1, 1, 9)
    end = utc(2050, 12, 31)
    now = utc(2049, 6, 15, 12)
    assert latest_due(start, end, "daily", "Europe/Berlin", now) == utc(2049, 6, 15, 7)
    assert latest_due(start, end, "daily", "Europe/Berlin", utc(2049, 6, 15, 6)) == utc(2049, 6, 14, 7)
    assert latest_due(start, end, "daily", "Europe/Berlin", now) == listed(start, now, "daily", "Europe/Berlin")[-1]


def test_latest_due_on_a_fifty_year_monthly_schedule_from_the_31st():
    start = berlin(2000, 1, 31, 9)
    now = utc(2048, 3, 15)
    assert latest_due(start, utc(2060, 1, 1), "monthly", "Europe/Berlin", now) == utc(2048, 2, 29, 8)


def test_next_after_is_strictly_after():
    start = berlin(2026, 6, 1, 9)
    assert next_after(start, utc(2026, 12, 31), "weekly", "Europe/Berlin", utc(2026, 6, 8, 7), count=2) == [
        utc(2026, 6, 15, 7),
        utc(2026, 6, 22, 7),
    ]


def test_next_after_before_the_start_begins_with_the_start():
    start = berlin(2026, 6, 1, 9)
    assert next_after(start, utc(2026, 12, 31), "daily", "Europe/Berlin", utc(2020, 1, 1), count=2) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 2, 7),
    ]


def test_next_after_returns_fewer_than_count_near_the_end():
    start = berlin(2026, 6, 1, 9)
    end = utc(2026, 6, 10, 7)
    assert next_after(start, end, "daily", "Europe/Berlin", utc(2026, 6, 8, 12)) == [
        utc(2026, 6, 9, 7),
        utc(2026, 6, 10, 7),
    ]


def test_next_after_with_count_zero_is_empty():
    assert next_after(berlin(2026, 6, 1, 9), utc(2026, 12, 31), "daily", "Europe/Berlin", utc(2026, 6, 8), count=0) == []


def test_has_occurrence_after():
    start = berlin(2026, 6, 1, 9)
    end = utc(2026, 6, 10, 12)  # last occurrence: 2026-06-10 07:00 UTC
    assert has_occurrence_after(start, end, "daily", "Europe/Berlin", utc(2026, 6, 10, 6, 59))
    assert not has_occurrence_after(start, end, "daily", "Europe/Berlin", utc(2026, 6, 10, 7))
    assert not has_occurrence_after(start, end, "daily", "Europe/Berlin", utc(2027, 1, 1))


# --- errors ----------------------------------------------------------------------------


NAIVE = datetime(2026, 6, 1, 9)
START = berlin(2026, 6, 1, 9)
END = utc(2026, 12, 31)


@pytest.mark.parametrize("call, message", [
    (lambda: occurrences(NAIVE, END, "daily", "Europe/Berlin"), "start must be timezone-aware"),
    (lambda: occurrences(START, NAIVE, "daily", "Europe/Berlin"), "end must be timezone-aware"),
    (lambda: latest_due(START, END, "daily", "Europe/Berlin", NAIVE), "now must be timezone-aware"),
    (lambda: next_after(START, END, "daily", "Europe/Berlin", NAIVE), "after must be timezone-aware"),
    (lambda: has_occurrence_after(START, END, "daily", "Europe/Berlin", NAIVE), "after must be timezone-aware"),
    (lambda: occurrence_at(NAIVE, "daily", "Europe/Berlin", 0), "start must be timezone-aware"),
    (lambda: occurrences(date(2026, 6, 1), END, "daily", "Europe/Berlin"), "start must be a datetime"),
    (lambda: occurrences(START, END, "hourly", "Europe/Berlin"), "unknown frequency 'hourly'"),
    (lambda: occurrence_at(START, "Weekly", "Europe/Berlin", 1), "unknown frequency 'Weekly'"),
    (lambda: occurrences(START, END, "daily", "Mars/Olympus_Mons"), "unknown time zone: 'Mars/Olympus_Mons'"),
    (lambda: latest_due(START, END, "daily", "", START), "unknown time zone"),
    (lambda: next_after(START, END, "daily", "../etc/passwd", START), "unknown time zone"),
    (lambda: occurrence_at(START, "daily", "Europe/Berlin", -1), "index must be >= 0, got -1"),
    (lambda: next_after(START, END, "daily", "Europe/Berlin", START, count=-1), "count must be >= 0, got -1"),
])
def test_invalid_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- properties --------------------------------------------------------------------------

ZONES = [
    "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
    "Pacific/Apia", "America/Santiago", "Europe/Moscow", "UTC", "Africa/Casablanca",
    "America/St_Johns", "Pacific/Chatham", "Asia/Tehran",
]
# Zones that skipped a whole calendar day by jumping across the date line.
SKIPPED_DAYS = [
    ("Pacific/Apia", date(2011, 12, 30)),
    ("Pacific/Kiritimati", date(1994, 12, 31)),
    ("Pacific/Kwajalein", date(1993, 8, 21)),
]
FREQUENCIES = ["daily", "weekly", "monthly", Frequency.DAILY, Frequency.WEEKLY, Frequency.MONTHLY]
PERIOD_DAYS = {"daily": 1, "weekly": 7, "monthly": 31}
TRICKY_TIMES = [time(0, 0), time(0, 30), time(1, 30), time(2, 0), time(2, 30), time(3, 30), time(23, 30)]
OTHER_OFFSETS = [UTC, timezone(timedelta(hours=-3)), timezone(timedelta(hours=5, minutes=45))]

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def name(frequency) -> str:
    return getattr(frequency, "value", frequency)


@st.composite
def schedules(draw, zones=tuple(ZONES), first_day=date(1990, 1, 1), last_day=date(2060, 12, 31)):
    """(start, end, frequency, zone name), with at most ~60 occurrences."""
    zone = draw(st.sampled_from(zones))
    frequency = draw(st.sampled_from(FREQUENCIES))
    day = draw(st.dates(min_value=first_day, max_value=last_day))
    wall = draw(st.one_of(st.sampled_from(TRICKY_TIMES), st.times()))
    start = datetime.combine(day, wall, tzinfo=ZoneInfo(zone)).replace(fold=draw(st.integers(0, 1)))
    periods = draw(st.integers(min_value=0, max_value=60))
    extra = timedelta(seconds=draw(st.integers(min_value=0, max_value=86_400)))
    end = start + timedelta(days=periods * PERIOD_DAYS[name(frequency)]) + extra
    if draw(st.booleans()):
        end = end.astimezone(UTC)
    return start, end, frequency, zone


def skipped_day_schedules():
    return st.sampled_from(SKIPPED_DAYS).flatmap(
        lambda skip: schedules(zones=(skip[0],), first_day=skip[1] - timedelta(days=35), last_day=skip[1])
    )


ANY_SCHEDULE = st.one_of(schedules(), skipped_day_schedules())


def expected_local(local_start: datetime, frequency, k: int) -> datetime:
    """Naive local wall-clock time of occurrence k, computed without dateutil."""
    if name(frequency) == "daily":
        return local_start + timedelta(days=k)
    if name(frequency) == "weekly":
        return local_start + timedelta(days=7 * k)
    years, month0 = divmod(local_start.month - 1 + k, 12)
    year, month = local_start.year + years, month0 + 1
    day = min(local_start.day, calendar.monthrange(year, month)[1])
    return local_start.replace(year=year, month=month, day=day)


def exists(naive: datetime, zone: ZoneInfo) -> bool:
    """Whether the wall-clock time ``naive`` occurs in ``zone`` (is not in a gap)."""
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def local_start_of(start: datetime, zone: str) -> datetime:
    return start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def reference_occurrences(start, end, frequency, zone) -> list[datetime]:
    """Independent model: wall clock + fold=0, strictly increasing, <= end."""
    tz = ZoneInfo(zone)
    local_start = local_start_of(start, zone)
    result = [start.astimezone(UTC)] if start.astimezone(UTC) <= end.astimezone(UTC) else []
    k = 1
    while result:
        moment = expected_local(local_start, frequency, k).replace(tzinfo=tz, fold=0).astimezone(UTC)
        if moment > end:
            break
        if moment > result[-1]:
            result.append(moment)
        k += 1
    return result


def draw_moment(data, start: datetime, end: datetime, got: list[datetime]) -> datetime:
    """A moment around the schedule (on, next to or between occurrences), in a fixed offset."""
    if got and data.draw(st.booleans()):
        moment = data.draw(st.sampled_from(got)) + data.draw(
            st.sampled_from([timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1)])
        )
    else:
        span = int((end - start).total_seconds()) + 3 * 86_400
        moment = start.astimezone(UTC) + timedelta(seconds=data.draw(st.integers(-2 * 86_400, span)))
    return moment.astimezone(data.draw(st.sampled_from(OTHER_OFFSETS)))


@PROPERTY_SETTINGS
@given(ANY_SCHEDULE)
def test_occurrences_are_increasing_utc_and_within_start_and_end(schedule):
    start, end, frequency, zone = schedule
    got = listed(start, end, frequency, zone)
    # Compared in UTC: aware datetimes sharing a tzinfo compare by wall clock.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start > end:
        assert got == []
        return
    assert got[0] == start
    assert all(o.tzinfo is not None and o.utcoffset() == timedelta(0) for o in got)
    assert all(a < b for a, b in zip(got, got[1:]))
    assert all(start <= o <= end for o in got)


@PROPERTY_SETTINGS
@given(ANY_SCHEDULE)
def test_occurrences_match_an_independent_wall_clock_model(schedule):
    start, end, frequency, zone = schedule
    assert listed(start, end, frequency, zone) == reference_occurrences(start, end, frequency, zone)


@PROPERTY_SETTINGS
@given(ANY_SCHEDULE)
def test_occurrences_keep_the_start_wall_clock_or_are_gap_resolutions(schedule):
    start, end, frequency, zone = schedule
    tz = ZoneInfo(zone)
    wall = local_start_of(start, zone).time()
    for occurrence in listed(start, end, frequency, zone)[1:]:
        local = occurrence.astimezone(tz)
        if local.time() == wall:
            assert local.fold == 0, f"{local} is the second instant of an ambiguous time"
            continue
        # Otherwise the wall time did not exist on that day (or a day before,
        # when a whole day was skipped) and fold=0 moved it forward.
        candidates = [datetime.combine(local.date() - timedelta(days=back), wall) for back in (0, 1, 2)]
        assert any(
            not exists(naive, tz) and naive.replace(tzinfo=tz, fold=0).astimezone(UTC) == occurrence
            for naive in candidates
        ), f"{local} keeps neither the wall clock {wall} nor is a gap resolution"


@PROPERTY_SETTINGS
@given(ANY_SCHEDULE.filter(lambda schedule: name(schedule[2]) == "monthly"))
def test_monthly_day_of_month_is_the_start_day_clamped_to_the_month(schedule):
    start, end, frequency, zone = schedule
    tz = ZoneInfo(zone)
    local_start = local_start_of(start, zone)
    for k, occurrence in enumerate(listed(start, end, frequency, zone)):
        year, month0 = divmod(local_start.year * 12 + local_start.month - 1 + k, 12)
        day = min(local_start.day, calendar.monthrange(year, month0 + 1)[1])
        if not exists(datetime.combine(date(year, month0 + 1, day), local_start.time()), tz):
            continue  # moved by a gap: checked by the wall-clock property
        assert occurrence.astimezone(tz).date() == date(year, month0 + 1, day)


@PROPERTY_SETTINGS
@given(ANY_SCHEDULE, st.data())
def test_latest_due_is_the_last_occurrence_at_or_before_now(schedule, data):
    start, end, frequency, zone = schedule
    got = listed(start, end, frequency, zone)
    now = draw_moment(data, start, end, got)
    expected = max((o for o in got if o <= now), default=None)
    assert latest_due(start, end, frequency, zone, now) == expected


@PROPERTY_SETTINGS
@given(ANY_SCHEDULE, st.data(), st.integers(min_value=0, max_value=7))
def test_next_after_is_the_first_count_occurrences_strictly_after(schedule, data, count):
    start, end, frequency, zone = schedule
    got = listed(start, end, frequency, zone)
    after = draw_moment(data, start, end, got)
    expected = [o for o in got if o > after][:count]
    assert next_after(start, end, frequency, zone, after, count) == expected


@PROPERTY_SETTINGS
@given(ANY_SCHEDULE, st.data())
def test_has_occurrence_after_agrees_with_next_after(schedule, data):
    start, end, frequency, zone = schedule
    got = listed(start, end, frequency, zone)
    after = draw_moment(data, start, end, got)
    assert has_occurrence_after(start, end, frequency, zone, after) == any(o > after for o in got)
    assert has_occurrence_after(start, end, frequency, zone, after) == bool(
        next_after(start, end, frequency, zone, after, count=1)
    )


@PROPERTY_SETTINGS
@given(ANY_SCHEDULE)
def test_occurrence_at_agrees_with_occurrences_when_no_day_was_dropped(schedule):
    start, end, frequency, zone = schedule
    got = listed(start, end, frequency, zone)
    by_index = [occurrence_at(start, frequency, zone, k) for k in range(len(got))]
    if all(a < b for a, b in zip(by_index, by_index[1:])):
        assert by_index == got
    else:  # only a skipped calendar day makes two indices coincide; one of them is dropped
        assert zone in {skipped_zone for skipped_zone, _ in SKIPPED_DAYS}
        assert all(a <= b for a, b in zip(by_index, by_index[1:]))
        assert sorted(set(by_index)) == got[: len(set(by_index))]
