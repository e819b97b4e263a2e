"""What a week's report reads: whole local weeks from the app's tables, as the app keys them.

An entry at Sunday 23:30 local belongs to the week that ends that night; one at Monday
00:30 local to the next, in every zone (east and west of UTC, a half-hour offset, London
across its DST change). Shadow-pattern buckets are the four local Monday-to-Sunday weeks
before the analysed one. A refresh on Thursday reads what was logged since Monday.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from worker.analysis import analytics
from worker.analysis.gather import RawWeek, WeekError, gather_week


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def on(zone: str, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(zone))


def make_person(conn: psycopg.Connection[Any], zone: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    conn.execute("insert into public.profiles (user_id, timezone) values (%s, %s)", (user_id, zone))
    return user_id


def scan(conn: psycopg.Connection[Any], user_id: uuid.UUID, when: dt.datetime, part: str) -> None:
    conn.execute(
        "insert into public.quick_scans (user_id, body_part, created_at) values (%s, %s, %s)",
        (str(user_id), part, when),
    )


def symptom(conn: psycopg.Connection[Any], user_id: uuid.UUID, day: dt.date, name: str) -> None:
    conn.execute(
        "insert into public.symptom_tracking (user_id, symptom_name, body_part, severity, occurrence_date)"
        " values (%s, %s, 'head', 5, %s)",
        (str(user_id), name, day),
    )


def gather(
    url: str, user_id: uuid.UUID, week_of: dt.date, now: dt.datetime, *, whole_week: bool = True
) -> RawWeek:
    async def main() -> RawWeek:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return await gather_week(conn, user_id, week_of, whole_week=whole_week, now=now)

    return asyncio.run(main())


def this_week_parts(raw: RawWeek) -> set[str]:
    return {
        e.body_part or ""
        for e in raw.events
        if e.source == "quick_scan" and raw.window.start <= e.day <= raw.window.end
    }


@pytest.mark.parametrize(
    ("zone", "monday"),
    [
        ("Pacific/Kiritimati", dt.date(2026, 11, 30)),
        ("Pacific/Honolulu", dt.date(2026, 11, 30)),
        ("Asia/Kolkata", dt.date(2026, 11, 30)),
        ("Europe/London", dt.date(2026, 10, 26)),  # the week that ends as summer time ends
        ("Europe/London", dt.date(2026, 3, 30)),  # the week in which summer time begins
    ],
)
def test_sunday_2330_is_in_the_week_that_ends_and_monday_0030_in_the_next(
    conn: psycopg.Connection[Any], db_url: str, zone: str, monday: dt.date
) -> None:
    user_id = make_person(conn, zone)
    sunday = monday - dt.timedelta(days=1)
    previous_monday = monday - dt.timedelta(days=7)
    scan(conn, user_id, on(zone, previous_monday - dt.timedelta(days=1), 23, 30), "before")
    scan(conn, user_id, on(zone, previous_monday, 0, 30), "first")
    scan(conn, user_id, on(zone, sunday, 23, 30), "last")
    scan(conn, user_id, on(zone, monday, 0, 30), "next")
    symptom(conn, user_id, sunday, "in")
    symptom(conn, user_id, monday, "out")
    raw = gather(db_url, user_id, monday, on(zone, monday, 7))
    assert (raw.window.start, raw.window.end) == (previous_monday, sunday)
    assert this_week_parts(raw) == {"first", "last"}
    [before] = [e for e in raw.events if e.body_part == "before"]
    assert analytics.week_index(raw, before.day) == analytics.WEEKS - 2, "the Sunday before is last week's"
    assert "next" not in {e.body_part for e in raw.events}, "nothing after the week's end is read"
    assert {e.name for e in raw.events if e.source == "symptom"} == {"in"}


def test_shadow_buckets_are_the_four_local_weeks_before_the_analysed_one(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    zone = "Europe/Berlin"
    user_id = make_person(conn, zone)
    monday = dt.date(2026, 11, 30)
    # Headaches on the Monday of each of the four weeks before the analysed one, none in it.
    for weeks_back in (2, 3, 4, 5):
        symptom(conn, user_id, monday - dt.timedelta(days=7 * weeks_back), "Headache")
    # One on the Sunday that ends the oldest bucket's predecessor: outside the five weeks.
    symptom(conn, user_id, monday - dt.timedelta(days=36), "Headache")
    raw = gather(db_url, user_id, monday, at(zone, 2026, 11, 30, 7))
    facts = analytics.analyse(raw)
    [headache] = facts.symptoms
    assert headache.weekly_counts == [1, 1, 1, 1, 0]
    [shadow] = facts.shadow_patterns
    assert shadow.pattern_name == "Headache"
    assert shadow.last_mentioned_date == dt.date(2026, 11, 16)
    assert shadow.days_missing == (dt.date(2026, 11, 29) - dt.date(2026, 11, 16)).days


def test_a_refresh_on_thursday_reads_what_was_logged_since_monday(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    zone = "America/New_York"
    user_id = make_person(conn, zone)
    scan(conn, user_id, at(zone, 2026, 12, 1, 9), "tuesday")
    scan(conn, user_id, at(zone, 2026, 11, 26, 9), "last thursday")  # 7 days back: outside
    now = at(zone, 2026, 12, 3, 15)
    raw = gather(db_url, user_id, dt.date(2026, 11, 30), now, whole_week=False)
    assert (raw.window.start, raw.window.end) == (dt.date(2026, 11, 27), dt.date(2026, 12, 3))
    assert this_week_parts(raw) == {"tuesday"}
    scheduled = gather(db_url, user_id, dt.date(2026, 11, 30), now)
    assert this_week_parts(scheduled) == {"last thursday"}


def test_a_week_that_has_not_begun_in_the_persons_zone_is_refused(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    user_id = make_person(conn, "Pacific/Honolulu")
    with pytest.raises(WeekError, match="has not begun yet in Pacific/Honolulu"):
        gather(db_url, user_id, dt.date(2026, 11, 30), dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC))


def test_a_stored_zone_the_worker_cannot_load_fails_clearly_instead_of_using_utc(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    user_id = make_person(conn, "UTC")
    # Written behind the database's back (the trigger would have normalised it).
    conn.execute("alter table public.profiles disable trigger user")
    conn.execute("update public.profiles set timezone = 'Pacific/auckland' where user_id = %s", (user_id,))
    with pytest.raises(WeekError, match=r"time zone cannot be used.*Pacific/auckland"):
        gather(db_url, user_id, dt.date(2026, 11, 30), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize("dirty", [False, True])
def test_the_app_s_text_is_read_without_forbidden_characters_and_labels_are_cut(
    conn: psycopg.Connection[Any], db_url: str, dirty: bool
) -> None:
    """Labels over 120 characters are cut at a word with a visible marker, whether or not
    any text of the week holds a control or direction character; those are replaced by a
    space wherever they are (one dirty row cleans them all, a clean week only cuts)."""
    zone = "Europe/Berlin"
    user_id = make_person(conn, zone)
    monday = dt.date(2026, 11, 30)
    long_name = "Throbbing " + "pressure " * 20
    symptom(conn, user_id, monday - dt.timedelta(days=3), long_name)
    symptom(conn, user_id, monday - dt.timedelta(days=4), "Sore\u202eknee" if dirty else "Sore knee")
    scan(conn, user_id, at(zone, 2026, 11, 25, 9), "left\x07wrist" if dirty else "left wrist")
    raw = gather(db_url, user_id, monday, at(zone, 2026, 11, 30, 7))
    names = sorted(e.name or "" for e in raw.events if e.source == "symptom")
    assert names[0] == "Sore knee"
    assert names[1].startswith("Throbbing pressure") and names[1].endswith(" [...]")
    assert len(names[1]) <= 120 + len(" [...]") and "  " not in names[1]
    assert {e.body_part for e in raw.events if e.source == "quick_scan"} == {"left wrist"}


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu"])
def test_the_twelve_weeks_begin_at_the_first_local_midnight_in_every_zone(
    conn: psycopg.Connection[Any], db_url: str, zone: str
) -> None:
    """The whole week's gather reads the instants a day either side of the twelve weeks and
    keeps each event by its local date: UTC+14 and UTC-11 keep exactly their own days."""
    user_id = make_person(conn, zone)
    monday = dt.date(2026, 11, 30)
    first_day = monday - dt.timedelta(days=84)
    scan(conn, user_id, on(zone, first_day - dt.timedelta(days=1), 23, 59), "too early")
    scan(conn, user_id, on(zone, first_day, 0, 0), "first")
    scan(conn, user_id, on(zone, monday - dt.timedelta(days=1), 23, 59), "last")
    scan(conn, user_id, on(zone, monday, 0, 0), "too late")
    raw = gather(db_url, user_id, monday, on(zone, monday, 7))
    assert raw.first_day == first_day
    assert sorted((e.day, e.body_part) for e in raw.events) == [
        (first_day, "first"),
        (monday - dt.timedelta(days=1), "last"),
    ]


def test_a_stored_zone_the_database_does_not_know_fails_clearly(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    user_id = make_person(conn, "UTC")
    # Written behind the database's back: without its trigger and its zone check.
    conn.execute("alter table public.profiles disable trigger user")
    conn.execute("alter table public.profiles drop constraint profiles_timezone_is_iana")
    conn.execute("update public.profiles set timezone = 'Mars/Olympus_Mons' where user_id = %s", (user_id,))
    # With a row to place in the zone (the database reads the zone), and without (the worker does).
    with pytest.raises(WeekError, match=r"(?i)time zone cannot be used.*olympus_mons"):
        gather(db_url, user_id, dt.date(2026, 11, 30), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    scan(conn, user_id, dt.datetime(2026, 11, 25, 9, tzinfo=dt.UTC), "knee")
    with pytest.raises(
        WeekError, match=r"time zone cannot be used: time zone .Mars/Olympus_Mons. not recognized"
    ):
        gather(db_url, user_id, dt.date(2026, 11, 30), dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
