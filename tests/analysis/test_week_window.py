"""Which days a report covers: whole local weeks for the schedule, seven days for a refresh.

Week W is a Monday in the person's own zone. The scheduled report of W covers exactly
W-7 00:00 to W 00:00 local; a refresh during W covers the seven local days ending as it
runs. Zones east and west of UTC, half-hour offsets and a DST change are all checked.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from worker.analysis.window import WeekError, week_window
from worker.timezones import UnknownTimeZone

W = dt.date(2026, 11, 30)  # a Monday


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    "zone",
    ["UTC", "Europe/Berlin", "Pacific/Kiritimati", "Pacific/Honolulu", "Asia/Kolkata", "America/New_York"],
)
def test_a_scheduled_report_covers_the_previous_local_monday_to_sunday_exactly(zone: str) -> None:
    now = local(zone, 2026, 11, 30, 6, 0)
    window = week_window(W, zone, now, whole_week=True)
    assert (window.week_of, window.start, window.end) == (W, dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    assert window.starts_at == local(zone, 2026, 11, 23)
    assert window.ends_at == local(zone, 2026, 11, 30)
    assert window.timezone == zone


def test_the_same_utc_moment_is_a_different_week_east_and_west() -> None:
    monday_0900_utc = utc(2026, 11, 30, 9)
    # Kiritimati (UTC+14) is on Monday 23:00: week W has begun and its report covers 23..29 Nov.
    east = week_window(W, "Pacific/Kiritimati", monday_0900_utc, whole_week=True)
    assert east.ends_at == utc(2026, 11, 29, 10)
    # Honolulu (UTC-10) is still on Sunday 23:00: week W has not begun there.
    with pytest.raises(WeekError, match="has not begun yet in Pacific/Honolulu"):
        week_window(W, "Pacific/Honolulu", monday_0900_utc, whole_week=True)
    west = week_window(W - dt.timedelta(days=7), "Pacific/Honolulu", monday_0900_utc, whole_week=True)
    assert (west.start, west.end) == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))


def test_a_half_hour_zone_starts_its_week_at_its_own_midnight() -> None:
    window = week_window(W, "Asia/Kolkata", utc(2026, 11, 30, 1), whole_week=True)
    assert window.starts_at == utc(2026, 11, 22, 18, 30)
    assert window.ends_at == utc(2026, 11, 29, 18, 30)


def test_a_week_across_the_autumn_dst_change_is_seven_local_days_and_one_hour_long() -> None:
    # London leaves summer time on Sunday 25 October 2026.
    monday = dt.date(2026, 10, 26)
    window = week_window(monday, "Europe/London", local("Europe/London", 2026, 10, 26, 7), whole_week=True)
    assert window.starts_at == utc(2026, 10, 18, 23)  # Monday 19 Oct 00:00 BST
    assert window.ends_at == utc(2026, 10, 26, 0)  # Monday 26 Oct 00:00 GMT
    assert window.ends_at - window.starts_at == dt.timedelta(days=7, hours=1)


def test_a_week_across_the_spring_dst_change_is_one_hour_short() -> None:
    monday = dt.date(2026, 3, 30)  # London moved to summer time on Sunday 29 March
    window = week_window(monday, "Europe/London", local("Europe/London", 2026, 3, 30, 7), whole_week=True)
    assert window.ends_at is not None and window.starts_at is not None
    assert window.ends_at - window.starts_at == dt.timedelta(days=6, hours=23)


def test_a_refresh_on_thursday_covers_the_seven_local_days_ending_at_the_refresh() -> None:
    now = local("Europe/Berlin", 2026, 12, 3, 15, 20)
    window = week_window(W, "Europe/Berlin", now, whole_week=False)
    assert (window.start, window.end) == (dt.date(2026, 11, 27), dt.date(2026, 12, 3))
    assert window.starts_at == local("Europe/Berlin", 2026, 11, 27)
    assert window.ends_at == now
    assert window.week_of == W, "stored under the week in which it is read"


def test_a_refresh_that_runs_after_its_week_ended_stops_at_the_end_of_that_week() -> None:
    late = local("Europe/Berlin", 2026, 12, 7, 2, 0)
    window = week_window(W, "Europe/Berlin", late, whole_week=False)
    assert window.ends_at == local("Europe/Berlin", 2026, 12, 7)
    assert (window.start, window.end) == (dt.date(2026, 11, 30), dt.date(2026, 12, 6))


def test_a_refresh_on_monday_morning_reaches_back_into_the_previous_week() -> None:
    now = local("Asia/Kolkata", 2026, 11, 30, 0, 30)
    window = week_window(W, "Asia/Kolkata", now, whole_week=False)
    assert (window.start, window.end) == (dt.date(2026, 11, 24), dt.date(2026, 11, 30))


def test_a_week_that_is_not_a_monday_is_refused() -> None:
    with pytest.raises(WeekError, match="2026-12-01 is a Tuesday"):
        week_window(dt.date(2026, 12, 1), "UTC", utc(2026, 12, 5), whole_week=True)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        week_window(W, "UTC", dt.datetime(2026, 12, 5), whole_week=True)


@pytest.mark.parametrize("zone", ["Pacific/auckland", "Mars/Base", "PST", ""])
def test_an_unknown_or_misspelt_zone_is_an_error_never_utc(zone: str) -> None:
    with pytest.raises(UnknownTimeZone):
        week_window(W, zone, utc(2026, 12, 5), whole_week=True)
