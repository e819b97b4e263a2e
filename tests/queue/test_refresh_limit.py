"""``public.request_analysis_refresh()``: ten refreshes per person and week, as PostgREST calls it.

Each call runs as PostgREST runs a request: in a transaction, ``set local role`` plus
the JWT claims in ``request.jwt.claims``. The effects are then checked as the
superuser. Each test has a fresh database.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, LiteralString

import psycopg
import pytest
from psycopg import sql

LIMIT = 10


def add_user(conn: psycopg.Connection[Any], timezone: str = "UTC") -> uuid.UUID:
    user_id = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    conn.execute("insert into public.profiles (user_id, timezone) values (%s, %s)", (user_id, timezone))
    return user_id


def call_refresh(
    conn: psycopg.Connection[Any], user_id: uuid.UUID | None, role: str = "authenticated"
) -> dict[str, Any]:
    """One API request: the role and (when user_id is given) a JWT for that person."""
    claims = {"sub": str(user_id), "role": role} if user_id else None
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        if claims is not None:
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        row = conn.execute("select public.request_analysis_refresh()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def current_week(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> dt.date:
    row = conn.execute("select public.user_week_of(%s)", (user_id,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def counter(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> tuple[Any, ...] | None:
    """(week_of, refresh_count, last_refresh_at) of the person's counter row, if any."""
    return conn.execute(
        "select week_of, refresh_count, last_refresh_at from public.analysis_refreshes where user_id = %s",
        (user_id,),
    ).fetchone()


def refresh_jobs(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """(id, kind, payload, priority, dedupe_key) of the person's jobs."""
    return conn.execute(
        "select id, kind, payload, priority, dedupe_key from public.jobs where user_id = %s order by id",
        (user_id,),
    ).fetchall()


def use_up_the_week(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> None:
    conn.execute(
        "insert into public.analysis_refreshes (user_id, week_of, refresh_count, last_refresh_at)"
        " values (%s, public.user_week_of(%s), %s, now() - interval '1 hour')",
        (user_id, user_id, LIMIT),
    )


# -- a refresh -----------------------------------------------------------------------------------


def test_the_first_refresh_reports_one_used_and_nine_remaining(conn: psycopg.Connection[Any]) -> None:
    user_id = add_user(conn)

    result = call_refresh(conn, user_id)

    assert result["refreshes_used"] == 1
    assert result["refreshes_remaining"] == 9
    assert result["week_of"] == current_week(conn, user_id).isoformat()
    assert counter(conn, user_id) is not None


def test_a_refresh_enqueues_a_forced_priority_10_job_for_the_caller(conn: psycopg.Connection[Any]) -> None:
    user_id = add_user(conn)

    result = call_refresh(conn, user_id)

    week = current_week(conn, user_id).isoformat()
    assert refresh_jobs(conn, user_id) == [
        (
            result["job_id"],
            "weekly_analysis",
            {"week_of": week, "force": True, "trigger": "refresh"},
            10,
            None,
        )
    ]


def test_twenty_concurrent_refreshes_by_one_person_allow_exactly_ten(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    user_id = add_user(conn)
    callers = 20
    barrier = threading.Barrier(callers)

    def request() -> dict[str, Any] | str:
        with psycopg.connect(db_url, autocommit=True) as own:
            barrier.wait(timeout=10)
            try:
                return call_refresh(own, user_id)
            except psycopg.Error as exc:
                return str(exc.sqlstate)

    with ThreadPoolExecutor(callers) as pool:
        outcomes = [future.result() for future in [pool.submit(request) for _ in range(callers)]]

    successes = [o for o in outcomes if isinstance(o, dict)]
    assert sorted(s["refreshes_used"] for s in successes) == list(range(1, LIMIT + 1))
    assert [o for o in outcomes if not isinstance(o, dict)] == ["PT429"] * (callers - LIMIT)
    assert len(refresh_jobs(conn, user_id)) == LIMIT
    row = counter(conn, user_id)
    assert row is not None
    assert row[1] == LIMIT


# -- the limit -----------------------------------------------------------------------------------


def test_the_eleventh_refresh_is_refused_with_pt429_and_the_reset_day(conn: psycopg.Connection[Any]) -> None:
    user_id = add_user(conn)
    use_up_the_week(conn, user_id)
    next_monday = current_week(conn, user_id) + dt.timedelta(days=7)

    with pytest.raises(psycopg.Error) as caught:
        call_refresh(conn, user_id)

    assert caught.value.sqlstate == "PT429"
    assert caught.value.diag.message_primary == (
        f"weekly refresh limit reached (10 of 10 used); it resets on Monday {next_monday.isoformat()}"
    )


def test_the_eleventh_refresh_changes_nothing(conn: psycopg.Connection[Any]) -> None:
    user_id = add_user(conn)
    use_up_the_week(conn, user_id)
    before = counter(conn, user_id)

    with pytest.raises(psycopg.Error):
        call_refresh(conn, user_id)

    assert counter(conn, user_id) == before
    assert refresh_jobs(conn, user_id) == []


def test_another_persons_limit_does_not_affect_a_refresh(conn: psycopg.Connection[Any]) -> None:
    exhausted = add_user(conn)
    use_up_the_week(conn, exhausted)
    other = add_user(conn)

    result = call_refresh(conn, other)

    assert result["refreshes_used"] == 1
    assert len(refresh_jobs(conn, other)) == 1


def test_last_weeks_refreshes_do_not_count_this_week(conn: psycopg.Connection[Any]) -> None:
    user_id = add_user(conn)
    conn.execute(
        "insert into public.analysis_refreshes (user_id, week_of, refresh_count)"
        " values (%s, public.user_week_of(%s) - 7, %s)",
        (user_id, user_id, LIMIT),
    )

    assert call_refresh(conn, user_id)["refreshes_used"] == 1


def test_a_counter_that_covers_now_counts_whatever_week_the_callers_zone_names(
    conn: psycopg.Connection[Any],
) -> None:
    """Ten used in a zone whose week has not ended yet (a week_of label of its own): moving
    to a zone already in its next week opens no fresh ten until that period ends."""
    user_id = add_user(conn, "Pacific/Kiritimati")
    conn.execute(
        "insert into public.analysis_refreshes"
        " (user_id, week_of, refresh_count, last_refresh_at, period_start, period_end)"
        " values (%s, public.user_week_of(%s) - 7, %s, now() - interval '1 hour',"
        "         now() - interval '6 days', now() + interval '1 hour')",
        (user_id, user_id, LIMIT),
    )

    with pytest.raises(psycopg.Error) as caught:
        call_refresh(conn, user_id)

    assert caught.value.sqlstate == "PT429"
    assert refresh_jobs(conn, user_id) == []
    rows = conn.execute(
        "select refresh_count from public.analysis_refreshes where user_id = %s", (user_id,)
    ).fetchall()
    assert rows == [(LIMIT,)]


def test_a_counter_whose_period_has_ended_is_not_used(conn: psycopg.Connection[Any]) -> None:
    user_id = add_user(conn)
    conn.execute(
        "insert into public.analysis_refreshes"
        " (user_id, week_of, refresh_count, last_refresh_at, period_start, period_end)"
        " values (%s, public.user_week_of(%s) - 7, %s, now() - interval '1 hour',"
        "         now() - interval '7 days', now() - interval '1 second')",
        (user_id, user_id, LIMIT),
    )

    assert call_refresh(conn, user_id)["refreshes_used"] == 1


def test_a_new_counter_holds_its_local_week_as_instants(conn: psycopg.Connection[Any]) -> None:
    user_id = add_user(conn, "Asia/Kolkata")
    call_refresh(conn, user_id)
    row = conn.execute(
        "select period_start = (week_of::timestamp at time zone 'Asia/Kolkata'),"
        "       period_end = ((week_of + 7)::timestamp at time zone 'Asia/Kolkata'),"
        "       period_start <= now() and now() < period_end"
        "  from public.analysis_refreshes where user_id = %s",
        (user_id,),
    ).fetchone()
    assert row == (True, True, True)


# -- who may call it -----------------------------------------------------------------------------


def test_a_signed_in_role_without_a_jwt_subject_is_refused_with_pt401(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.Error, match="sign in to refresh your analysis") as caught:
        call_refresh(conn, None, role="authenticated")

    assert caught.value.sqlstate == "PT401"
    assert conn.execute("select count(*) from public.jobs").fetchone() == (0,)


@pytest.mark.parametrize("with_jwt", [False, True], ids=["without_jwt", "with_a_jwt_subject"])
def test_anon_may_not_execute_the_refresh(conn: psycopg.Connection[Any], with_jwt: bool) -> None:
    user_id = add_user(conn)

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call_refresh(conn, user_id if with_jwt else None, role="anon")

    assert counter(conn, user_id) is None
    assert conn.execute("select count(*) from public.jobs").fetchone() == (0,)


# -- the counter table ---------------------------------------------------------------------------


def test_people_read_only_their_own_refresh_counts(conn: psycopg.Connection[Any]) -> None:
    me, other = add_user(conn), add_user(conn)
    call_refresh(conn, me)
    call_refresh(conn, other)

    with conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(me), "role": "authenticated"}),),
        )
        seen = conn.execute("select user_id, refresh_count from public.analysis_refreshes").fetchall()

    assert seen == [(me, 1)]


@pytest.mark.parametrize(
    "statement",
    [
        "update public.analysis_refreshes set refresh_count = 0",
        "delete from public.analysis_refreshes",
        "insert into public.analysis_refreshes (user_id, week_of) values (auth.uid(), '2026-11-30')",
    ],
    ids=["update", "delete", "insert"],
)
def test_people_may_not_write_their_refresh_counts(
    conn: psycopg.Connection[Any], statement: LiteralString
) -> None:
    user_id = add_user(conn)
    call_refresh(conn, user_id)

    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(user_id), "role": "authenticated"}),),
        )
        conn.execute(statement)

    row = counter(conn, user_id)
    assert row is not None
    assert row[1] == 1
