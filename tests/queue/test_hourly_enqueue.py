"""The hourly enqueue: each person's report of week W is enqueued once their local time
has passed Monday 06:00 of W, whatever their zone; once per person-week; a week that has
not begun is skipped with a notice; a job that failed for good is enqueued once more.

``enqueue_weekly_analysis(week_of, as_of)`` takes the moment it stands for, so each test
replays the clock exactly. Each test has a fresh database.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from worker.queue import manager

W = dt.date(2026, 11, 30)  # a Monday


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def person(conn: psycopg.Connection[Any], zone: str | None, active_at: dt.datetime) -> uuid.UUID:
    """A signed-up person (with a profile in ``zone`` when given) who logged a quick scan."""
    user_id = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    if zone is not None:
        conn.execute("insert into public.profiles (user_id, timezone) values (%s, %s)", (user_id, zone))
    conn.execute(
        "insert into public.quick_scans (user_id, body_part, created_at) values (%s, 'knee', %s)",
        (str(user_id), active_at),
    )
    return user_id


def enqueue(conn: psycopg.Connection[Any], as_of: dt.datetime, week_of: dt.date | None = None) -> int:
    row = conn.execute("select public.enqueue_weekly_analysis(%s::date, %s)", (week_of, as_of)).fetchone()
    assert row is not None
    return int(row[0])


def weeks_of(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select payload ->> 'week_of' from public.jobs where user_id = %s order by id", (user_id,)
        ).fetchall()
    ]


@pytest.mark.parametrize(
    ("zone", "due_at_utc"),
    [
        ("Pacific/Kiritimati", utc(2026, 11, 29, 16)),  # UTC+14: Monday 06:00 is Sunday 16:00 UTC
        ("Asia/Kolkata", utc(2026, 11, 30, 0, 30)),  # UTC+5:30
        ("Europe/Berlin", utc(2026, 11, 30, 5)),
        ("UTC", utc(2026, 11, 30, 6)),
        ("America/New_York", utc(2026, 11, 30, 11)),
        ("Pacific/Honolulu", utc(2026, 11, 30, 16)),  # UTC-10: Monday 06:00 is 16:00 UTC
    ],
)
def test_week_w_is_enqueued_once_local_monday_0600_has_passed(
    conn: psycopg.Connection[Any], zone: str, due_at_utc: dt.datetime
) -> None:
    user_id = person(conn, zone, due_at_utc - dt.timedelta(days=2))
    assert enqueue(conn, due_at_utc - dt.timedelta(minutes=1)) == 1
    assert weeks_of(conn, user_id) == ["2026-11-23"], "before 06:00, the week before is the due one"
    assert enqueue(conn, due_at_utc) == 1
    assert weeks_of(conn, user_id) == ["2026-11-23", "2026-11-30"]
    assert enqueue(conn, due_at_utc + dt.timedelta(hours=1)) == 0


def test_hourly_runs_over_eight_days_enqueue_each_person_week_exactly_once(
    conn: psycopg.Connection[Any],
) -> None:
    zones = ["Pacific/Kiritimati", "Asia/Kolkata", "Europe/London", "America/New_York", "Pacific/Honolulu"]
    start = utc(2026, 11, 28, 0)  # Saturday
    people = {zone: person(conn, zone, start - dt.timedelta(days=1)) for zone in zones}
    # Up to Sunday 6 December 15:00 UTC: an hour before Kiritimati's next Monday 06:00.
    for hour in range(8 * 24 + 16):
        enqueue(conn, start + dt.timedelta(hours=hour))
    for zone, user_id in people.items():
        assert weeks_of(conn, user_id) == ["2026-11-23", "2026-11-30"], zone
    [(keys, distinct)] = conn.execute(
        "select count(*), count(distinct dedupe_key) from public.jobs"
    ).fetchall()
    assert keys == distinct == 2 * len(zones)


def test_a_person_without_a_profile_is_in_utc(conn: psycopg.Connection[Any]) -> None:
    user_id = person(conn, None, utc(2026, 11, 29))
    enqueue(conn, utc(2026, 11, 30, 5, 59))
    enqueue(conn, utc(2026, 11, 30, 6, 0))
    assert weeks_of(conn, user_id) == ["2026-11-23", "2026-11-30"]


def test_an_explicit_week_skips_people_for_whom_it_has_not_begun_with_a_notice(
    conn: psycopg.Connection[Any],
) -> None:
    as_of = utc(2026, 11, 29, 20)  # Monday 10:00 in Kiritimati, Sunday 10:00 in Honolulu
    east = person(conn, "Pacific/Kiritimati", as_of - dt.timedelta(days=1))
    west = person(conn, "Pacific/Honolulu", as_of - dt.timedelta(days=1))
    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    assert enqueue(conn, as_of, W) == 1
    assert weeks_of(conn, east) == ["2026-11-30"]
    assert weeks_of(conn, west) == []
    assert notices == ["the week of 2026-11-30 has not begun yet for 1 people: no jobs for them"]


def test_an_explicit_week_that_is_not_a_monday_is_refused_and_nothing_changes(
    conn: psycopg.Connection[Any],
) -> None:
    person(conn, "UTC", utc(2026, 11, 29))
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="2026-12-01 is a Tuesday"):
        enqueue(conn, utc(2026, 12, 2), dt.date(2026, 12, 1))
    assert conn.execute("select count(*) from public.jobs").fetchone() == (0,)


FAIL_QUEUED = (
    "update public.jobs set status = 'failed', finished_at = now(), last_error = 'gave up'"
    " where user_id = %s and status = 'queued'"
)


def test_a_person_week_that_failed_for_good_is_enqueued_again_once(conn: psycopg.Connection[Any]) -> None:
    user_id = person(conn, "UTC", utc(2026, 11, 29))
    as_of = utc(2026, 11, 30, 7)
    assert enqueue(conn, as_of) == 1
    conn.execute(FAIL_QUEUED, (user_id,))
    assert enqueue(conn, as_of + dt.timedelta(hours=1)) == 1, "the next run tries the failed week once more"
    assert enqueue(conn, as_of + dt.timedelta(hours=2)) == 0, "an unfinished retry is not duplicated"
    conn.execute(FAIL_QUEUED, (user_id,))
    assert enqueue(conn, as_of + dt.timedelta(hours=3)) == 0, "after the second failure, retry-failed decides"
    statuses = conn.execute(
        "select status from public.jobs where user_id = %s order by id", (user_id,)
    ).fetchall()
    assert statuses == [("failed",), ("failed",)]


def test_retry_failed_revives_one_job_per_person_week_that_failed_twice_and_everyone_elses(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    twice = person(conn, "UTC", utc(2026, 11, 29))
    as_of = utc(2026, 11, 30, 7)
    assert enqueue(conn, as_of) == 1
    conn.execute(FAIL_QUEUED, (twice,))
    once = person(conn, "UTC", utc(2026, 11, 29))
    assert enqueue(conn, as_of + dt.timedelta(hours=1)) == 2, "the failed week once more, and a new person"
    conn.execute(FAIL_QUEUED, (twice,))
    conn.execute(FAIL_QUEUED, (once,))
    keyless = conn.execute(
        "insert into public.jobs (kind, status, finished_at, last_error)"
        " values ('housekeeping_probe', 'failed', now(), 'gave up') returning id"
    ).fetchone()
    assert keyless is not None
    jobs = {
        user_id: [
            r[0]
            for r in conn.execute("select id from public.jobs where user_id = %s order by id", (user_id,))
        ]
        for user_id in (twice, once)
    }
    assert len(jobs[twice]) == 2 and len(jobs[once]) == 1

    with psycopg.connect(db_url) as operator:
        revived = manager.retry_failed_jobs(operator)

    assert sorted(revived) == sorted([jobs[twice][1], jobs[once][0], keyless[0]]), "the newest of the two"
    statuses = conn.execute(
        "select status from public.jobs where user_id = %s order by id", (twice,)
    ).fetchall()
    assert statuses == [("failed",), ("queued",)]
    with psycopg.connect(db_url) as operator:
        assert manager.retry_failed_jobs(operator) == [], "the older one waits behind its unfinished twin"


def test_retry_failed_leaves_a_failed_job_whose_key_a_later_job_has_done(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    user_id = person(conn, "UTC", utc(2026, 11, 29))
    as_of = utc(2026, 11, 30, 7)
    assert enqueue(conn, as_of) == 1
    conn.execute(FAIL_QUEUED, (user_id,))
    assert enqueue(conn, as_of + dt.timedelta(hours=1)) == 1, "the failed week once more"
    conn.execute(
        "update public.jobs set status = 'succeeded', finished_at = now() where user_id = %s and status = 'queued'",
        (user_id,),
    )
    with psycopg.connect(db_url) as operator:
        assert manager.retry_failed_jobs(operator) == [], "the week is done: nothing to run again"
    statuses = conn.execute(
        "select status from public.jobs where user_id = %s order by id", (user_id,)
    ).fetchall()
    assert statuses == [("failed",), ("succeeded",)]


def _waits_for_a_lock(conn: psycopg.Connection[Any], pid: int) -> None:
    """Until the backend ``pid`` waits on a lock (10 s at most)."""
    deadline = time.monotonic() + 10
    while conn.execute("select wait_event_type from pg_stat_activity where pid = %s", (pid,)).fetchone() != (
        "Lock",
    ):
        assert time.monotonic() < deadline, f"backend {pid} never waited on a lock"
        time.sleep(0.02)


def test_retry_failed_then_the_enqueue_the_enqueue_waits_and_adds_nothing(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    user_id = person(conn, "UTC", utc(2026, 11, 29))
    as_of = utc(2026, 11, 30, 7)
    assert enqueue(conn, as_of) == 1
    conn.execute(FAIL_QUEUED, (user_id,))
    with (
        psycopg.connect(db_url) as operator,
        psycopg.connect(db_url, autocommit=True) as clock,
        ThreadPoolExecutor(1) as pool,
    ):
        with operator.transaction():  # the retry's own transaction commits with this one
            assert len(manager.retry_failed_jobs(operator)) == 1
            hour = pool.submit(enqueue, clock, as_of + dt.timedelta(hours=1))
            _waits_for_a_lock(conn, clock.info.backend_pid)
        assert hour.result(timeout=30) == 0, "the revived job is the person-week's unfinished job"
    statuses = conn.execute("select status from public.jobs where user_id = %s", (user_id,)).fetchall()
    assert statuses == [("queued",)]


def test_the_enqueue_then_retry_failed_the_retry_waits_and_revives_nothing(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    user_id = person(conn, "UTC", utc(2026, 11, 29))
    as_of = utc(2026, 11, 30, 7)
    assert enqueue(conn, as_of) == 1
    conn.execute(FAIL_QUEUED, (user_id,))
    with (
        psycopg.connect(db_url) as clock,
        psycopg.connect(db_url) as operator,
        ThreadPoolExecutor(1) as pool,
    ):
        assert enqueue(clock, as_of + dt.timedelta(hours=1)) == 1  # its transaction stays open
        retry = pool.submit(manager.retry_failed_jobs, operator)
        _waits_for_a_lock(conn, operator.info.backend_pid)
        clock.commit()
        assert retry.result(timeout=30) == [], "the enqueue has already added the week again"
    statuses = conn.execute(
        "select status from public.jobs where user_id = %s order by id", (user_id,)
    ).fetchall()
    assert statuses == [("failed",), ("queued",)]


def test_a_cancelled_person_week_is_not_enqueued_again(conn: psycopg.Connection[Any]) -> None:
    user_id = person(conn, "UTC", utc(2026, 11, 29))
    enqueue(conn, utc(2026, 11, 30, 7))
    conn.execute(
        "update public.jobs set status = 'cancelled', finished_at = now() where user_id = %s", (user_id,)
    )
    assert enqueue(conn, utc(2026, 11, 30, 8)) == 0


def test_activity_is_read_from_the_apps_text_keyed_tables_and_messages_through_conversations(
    conn: psycopg.Connection[Any],
) -> None:
    as_of = utc(2026, 11, 30, 7)
    recent = as_of - dt.timedelta(days=3)
    old = as_of - dt.timedelta(days=60)
    by_symptom, by_message, by_deep_dive, upper = (uuid.uuid4() for _ in range(4))
    for user_id in (by_symptom, by_message, by_deep_dive, upper):
        conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    conn.execute(
        "insert into public.symptom_tracking (user_id, symptom_name, body_part, occurrence_date)"
        " values (%s, 'headache', 'head', %s)",
        (str(by_symptom), recent.date()),
    )
    [(chat,)] = conn.execute(
        "insert into public.conversations (user_id, title, created_at) values (%s, 'old chat', %s) returning id",
        (by_message, old),
    ).fetchall()
    conn.execute(
        "insert into public.messages (conversation_id, role, content, created_at) values (%s, 'user', 'hi', %s)",
        (chat, recent),
    )
    conn.execute(
        "insert into public.deep_dive_sessions (user_id, body_part, created_at) values (%s, 'chest', %s)",
        (str(by_deep_dive), recent),
    )
    # An upper-case uuid, an anonymous scan and an id that is no uuid at all.
    conn.execute(
        "insert into public.quick_scans (user_id, body_part, created_at) values (%s, 'knee', %s),"
        " (null, 'knee', %s), ('not-a-uuid', 'knee', %s)",
        (str(upper).upper(), recent, recent, recent),
    )
    assert enqueue(conn, as_of) == 4
    assert {r[0] for r in conn.execute("select user_id from public.jobs").fetchall()} == {
        by_symptom,
        by_message,
        by_deep_dive,
        upper,
    }


def test_people_idle_for_28_days_get_no_job(conn: psycopg.Connection[Any]) -> None:
    as_of = utc(2026, 11, 30, 7)
    person(conn, "UTC", as_of - dt.timedelta(days=29))
    assert enqueue(conn, as_of) == 0


@pytest.mark.parametrize(
    "as_of",
    [
        utc(2026, 11, 30, 4, 59),  # Monday 05:59 in Berlin
        utc(2026, 11, 30, 5, 0),  # Monday 06:00 in Berlin
        utc(2026, 11, 30, 16, 0),  # Tuesday 01:00 in Tokyo
        utc(2026, 12, 6, 22, 0),  # Sunday night in New York, Monday morning in Tokyo
    ],
)
def test_the_demo_seeds_the_week_the_database_finds_due(
    conn: psycopg.Connection[Any], as_of: dt.datetime
) -> None:
    from worker.demo.seed import DEMO_PEOPLE  # noqa: PLC0415

    for demo in DEMO_PEOPLE:
        user_id = person(conn, demo.timezone, as_of - dt.timedelta(days=1))
        enqueue(conn, as_of)
        assert weeks_of(conn, user_id) == [demo.due_week(as_of).isoformat()], demo.timezone
