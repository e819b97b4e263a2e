"""The Monday batch: ``public.enqueue_weekly_analysis()`` and the week it computes.

Each person active in the last 28 days gets one ``weekly_analysis`` job per week, the
week being Monday to Sunday in their own profile time zone. Enqueueing a week twice,
even after its job finished, and concurrent calls, add nothing. Only the worker side
(superuser, service_role, pg_cron) may call it. Each test has a fresh database.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg import sql

MONDAY = dt.date(2026, 11, 23)
# 05:00 UTC on that Monday: already Monday 14:00 in Tokyo, still Sunday 19:00 in Honolulu.
MONDAY_0500_UTC = dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.UTC)
CHANNEL = "proxima_jobs"

# One fresh row per activity source; story notes and messages hang off a parent row
# older than the window, so that only the row under test is recent.
ACTIVITY_SQL: dict[str, str] = {
    "health_stories": "insert into public.health_stories (user_id, story_text) values (%(u)s, 'A story.')",
    "story_notes": (
        "with s as (insert into public.health_stories (user_id, story_text, created_at)"
        " values (%(u)s, 'Old.', now() - interval '60 days') returning id)"
        " insert into public.story_notes (story_id, user_id, note_text) select id, %(u)s, 'A note.' from s"
    ),
    "quick_scans": "insert into public.quick_scans (user_id, body_part) values (%(u)s, 'knee')",
    "symptom_tracking": (
        "insert into public.symptom_tracking (user_id, symptom_name, body_part, occurrence_date, created_at)"
        " values (%(u)s, 'headache', 'head', current_date - 3, now() - interval '60 days')"
    ),
    "deep_dive_sessions": (
        "insert into public.deep_dive_sessions (user_id, body_part) values (%(u)s, 'chest')"
    ),
    "conversations": "insert into public.conversations (user_id, title) values (%(u)s, 'A chat')",
    "messages": (
        "with c as (insert into public.conversations (user_id, title, created_at)"
        " values (%(u)s, 'Old chat', now() - interval '60 days') returning id)"
        " insert into public.messages (conversation_id, role, content)"
        " select id, 'user', 'Hello' from c"
    ),
}


def add_user(conn: psycopg.Connection[Any], timezone: str | None = None) -> uuid.UUID:
    """A signed-up person; with a profile in ``timezone`` when given."""
    user_id = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    if timezone is not None:
        conn.execute("insert into public.profiles (user_id, timezone) values (%s, %s)", (user_id, timezone))
    return user_id


def add_scan(conn: psycopg.Connection[Any], user_id: uuid.UUID, days_ago: int = 1) -> None:
    conn.execute(
        "insert into public.quick_scans (user_id, body_part, created_at)"
        " values (%s, 'knee', now() - %s * interval '1 day')",
        (user_id, days_ago),
    )


def add_active_user(conn: psycopg.Connection[Any], timezone: str | None = None) -> uuid.UUID:
    user_id = add_user(conn, timezone)
    add_scan(conn, user_id)
    return user_id


def enqueue(conn: psycopg.Connection[Any], week_of: dt.date | None = None) -> int:
    row = conn.execute("select public.enqueue_weekly_analysis(%s::date)", (week_of,)).fetchone()
    assert row is not None
    return int(row[0])


def week_of(conn: psycopg.Connection[Any], user_id: uuid.UUID, at: dt.datetime | None = None) -> dt.date:
    if at is None:
        row = conn.execute("select public.user_week_of(%s)", (user_id,)).fetchone()
    else:
        row = conn.execute("select public.user_week_of(%s, %s)", (user_id, at)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def weekly_jobs(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """(user_id, payload, priority, dedupe_key, status) of every weekly_analysis job."""
    return conn.execute(
        "select user_id, payload, priority, dedupe_key, status from public.jobs"
        " where kind = 'weekly_analysis' order by user_id"
    ).fetchall()


def job_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("select count(*) from public.jobs").fetchone()
    assert row is not None
    return int(row[0])


def claims(user_id: uuid.UUID | None, role: str) -> str:
    return json.dumps({"sub": str(user_id), "role": role} if user_id else {"role": role})


# -- the week ------------------------------------------------------------------------------------


def test_a_users_week_starts_on_the_monday_of_their_own_time_zone(conn: psycopg.Connection[Any]) -> None:
    honolulu = add_user(conn, "Pacific/Honolulu")
    tokyo = add_user(conn, "Asia/Tokyo")

    assert week_of(conn, honolulu, MONDAY_0500_UTC) == MONDAY - dt.timedelta(days=7)
    assert week_of(conn, tokyo, MONDAY_0500_UTC) == MONDAY


def test_a_user_without_a_profile_has_a_utc_week(conn: psycopg.Connection[Any]) -> None:
    no_profile = add_user(conn)

    assert week_of(conn, no_profile, MONDAY_0500_UTC) == MONDAY
    assert week_of(conn, no_profile, MONDAY_0500_UTC - dt.timedelta(hours=6)) == MONDAY - dt.timedelta(days=7)


# -- what gets enqueued --------------------------------------------------------------------------


def test_each_active_user_gets_one_weekly_job_for_the_given_week(conn: psycopg.Connection[Any]) -> None:
    users = sorted([add_active_user(conn, "Pacific/Honolulu"), add_active_user(conn, "Asia/Tokyo")])

    assert enqueue(conn, MONDAY) == 2

    assert weekly_jobs(conn) == [
        (
            user_id,
            {"week_of": "2026-11-23", "force": False, "trigger": "weekly"},
            0,
            f"weekly_analysis:{user_id}:2026-11-23",
            "queued",
        )
        for user_id in users
    ]


def test_without_a_week_each_user_gets_their_current_week_in_their_own_time_zone(
    conn: psycopg.Connection[Any],
) -> None:
    honolulu = add_active_user(conn, "Pacific/Honolulu")
    tokyo = add_active_user(conn, "Asia/Tokyo")

    # One transaction: now() is the same for the enqueue and for the expected weeks.
    with conn.transaction():
        assert enqueue(conn) == 2
        expected = {user_id: week_of(conn, user_id).isoformat() for user_id in (honolulu, tokyo)}
    found = {user_id: payload["week_of"] for user_id, payload, *_ in weekly_jobs(conn)}
    assert found == expected
    keys = {key for *_, key, _status in weekly_jobs(conn)}
    assert keys == {f"weekly_analysis:{u}:{week}" for u, week in expected.items()}


@pytest.mark.parametrize("source", sorted(ACTIVITY_SQL))
def test_a_recent_row_in_any_activity_source_makes_a_user_active(
    conn: psycopg.Connection[Any], source: str
) -> None:
    user_id = add_user(conn)
    conn.execute(ACTIVITY_SQL[source], {"u": user_id})  # type: ignore[arg-type]

    assert enqueue(conn, MONDAY) == 1
    assert [row[0] for row in weekly_jobs(conn)] == [user_id]


def test_users_without_activity_in_the_last_28_days_get_no_job(conn: psycopg.Connection[Any]) -> None:
    active = add_active_user(conn)
    lapsed = add_user(conn)
    add_scan(conn, lapsed, days_ago=29)
    add_user(conn)  # signed up, never used the app

    assert enqueue(conn, MONDAY) == 1
    assert [row[0] for row in weekly_jobs(conn)] == [active]


# -- idempotence ---------------------------------------------------------------------------------


def test_a_second_call_for_the_same_week_adds_nothing(conn: psycopg.Connection[Any]) -> None:
    add_active_user(conn)
    add_active_user(conn)
    assert enqueue(conn, MONDAY) == 2

    assert enqueue(conn, MONDAY) == 0
    assert job_count(conn) == 2


def test_a_finished_weekly_job_still_keeps_its_week_from_being_enqueued_again(
    conn: psycopg.Connection[Any],
) -> None:
    add_active_user(conn)
    enqueue(conn, MONDAY)
    conn.execute("update public.jobs set status = 'succeeded', finished_at = now()")

    assert enqueue(conn, MONDAY) == 0
    assert job_count(conn) == 1


def test_the_next_week_is_enqueued_after_this_one(conn: psycopg.Connection[Any]) -> None:
    add_active_user(conn)
    enqueue(conn, MONDAY)

    assert enqueue(conn, MONDAY + dt.timedelta(days=7)) == 1
    assert job_count(conn) == 2


def test_concurrent_calls_enqueue_each_user_week_exactly_once(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    users = {add_active_user(conn) for _ in range(50)}
    callers = 4
    barrier = threading.Barrier(callers)

    def call() -> int:
        with psycopg.connect(db_url, autocommit=True) as own:
            barrier.wait(timeout=10)
            return enqueue(own, MONDAY)

    with ThreadPoolExecutor(callers) as pool:
        inserted = [future.result() for future in [pool.submit(call) for _ in range(callers)]]

    assert sum(inserted) == len(users)
    assert sorted(row[0] for row in weekly_jobs(conn)) == sorted(users)


# -- refusals ------------------------------------------------------------------------------------


def test_a_week_of_that_is_not_a_monday_is_refused_and_inserts_nothing(conn: psycopg.Connection[Any]) -> None:
    add_active_user(conn)

    with pytest.raises(psycopg.Error, match=r"week_of must be a Monday; 2026-11-24 is a Tuesday") as caught:
        enqueue(conn, MONDAY + dt.timedelta(days=1))

    assert caught.value.sqlstate == "22023"
    assert job_count(conn) == 0


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_api_roles_may_not_enqueue_the_weekly_batch(conn: psycopg.Connection[Any], role: str) -> None:
    user_id = add_active_user(conn)

    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims(user_id, role),))
        enqueue(conn, MONDAY)

    assert job_count(conn) == 0


def test_service_role_may_enqueue_the_weekly_batch(conn: psycopg.Connection[Any]) -> None:
    add_active_user(conn)

    with conn.transaction():
        conn.execute("set local role service_role")
        assert enqueue(conn, MONDAY) == 1


# -- waking the workers --------------------------------------------------------------------------


def test_a_multi_user_enqueue_notifies_the_workers_once(conn: psycopg.Connection[Any], db_url: str) -> None:
    for _ in range(3):
        add_active_user(conn)
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(sql.SQL("listen {}").format(sql.Identifier(CHANNEL)))

        assert enqueue(conn, MONDAY) == 3

        received = list(listener.notifies(timeout=0.5, stop_after=2))
    assert [(n.channel, n.payload) for n in received] == [(CHANNEL, "weekly_analysis")]


def test_an_enqueue_that_inserts_nothing_does_not_notify(conn: psycopg.Connection[Any], db_url: str) -> None:
    add_active_user(conn)
    enqueue(conn, MONDAY)
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(sql.SQL("listen {}").format(sql.Identifier(CHANNEL)))

        assert enqueue(conn, MONDAY) == 0

        received = list(listener.notifies(timeout=0.3, stop_after=1))
    assert received == []
