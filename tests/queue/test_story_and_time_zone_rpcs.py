"""The story on demand and the browser's time zone, as PostgREST calls our RPCs.

``request_story_refresh`` enqueues a ``weekly_story`` job and shares the ten refreshes a
week with ``request_analysis_refresh``. Every RPC takes an optional ``time_zone``: a valid
one is saved on the profile in its canonical spelling (a profile is created when there is
none); a bad one is refused with 22023 and changes nothing. Each test has a fresh database.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, LiteralString

import psycopg
import pytest
from psycopg import sql

LIMIT = 10


def add_user(conn: psycopg.Connection[Any], timezone: str | None = "UTC") -> uuid.UUID:
    user_id = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    if timezone is not None:
        conn.execute("insert into public.profiles (user_id, timezone) values (%s, %s)", (user_id, timezone))
    return user_id


def call(
    conn: psycopg.Connection[Any], user_id: uuid.UUID | None, query: LiteralString, params: Any = None
) -> Any:
    """One API request as ``authenticated`` (or ``anon`` without a person)."""
    role = "authenticated" if user_id else "anon"
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        if user_id is not None:
            claims = json.dumps({"sub": str(user_id), "role": role})
            conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def profile_zone(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> str | None:
    row = conn.execute("select timezone from public.profiles where user_id = %s", (user_id,)).fetchone()
    return row[0] if row else None


def jobs(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select kind, payload, priority from public.jobs where user_id = %s order by id", (user_id,)
    ).fetchall()


def nothing_written(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> bool:
    refreshes = conn.execute("select count(*) from public.analysis_refreshes where user_id = %s", (user_id,))
    return jobs(conn, user_id) == [] and refreshes.fetchone() == (0,)


def test_a_story_refresh_enqueues_a_story_job_for_this_week(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn, "Asia/Tokyo")
    result = call(conn, me, "select public.request_story_refresh()")
    [(week,)] = conn.execute("select public.user_week_of(%s)", (me,)).fetchall()
    assert result["refreshes_used"] == 1 and result["refreshes_remaining"] == LIMIT - 1
    assert result["week_of"] == week.isoformat()
    assert jobs(conn, me) == [("weekly_story", {"week_of": week.isoformat(), "trigger": "story"}, 10)]


def test_stories_and_analysis_refreshes_share_the_ten_a_week(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    for index in range(LIMIT):
        rpc: LiteralString = (
            "select public.request_story_refresh()"
            if index % 2
            else "select public.request_analysis_refresh()"
        )
        call(conn, me, rpc)
    for rpc in ("select public.request_story_refresh()", "select public.request_analysis_refresh()"):
        with pytest.raises(psycopg.Error, match="weekly refresh limit reached") as caught:
            call(conn, me, rpc)  # type: ignore[arg-type]
        assert caught.value.sqlstate == "PT429"
    kinds = [kind for kind, _, _ in jobs(conn, me)]
    assert kinds.count("weekly_story") == 5 and kinds.count("weekly_analysis") == 5


@pytest.mark.parametrize(
    "rpc",
    [
        "select public.request_story_refresh(time_zone => %s)",
        "select public.request_analysis_refresh(time_zone => %s)",
        "select public.get_health_analysis(time_zone => %s)",
        "select public.save_time_zone(%s)",
    ],
)
def test_a_browser_zone_is_saved_in_its_canonical_spelling(
    conn: psycopg.Connection[Any], rpc: LiteralString
) -> None:
    me = add_user(conn, "UTC")
    call(conn, me, rpc, ("asia/CALCUTTA",))
    assert profile_zone(conn, me) == "Asia/Kolkata"


def test_a_zone_creates_the_profile_of_someone_who_has_none(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn, None)
    assert call(conn, me, "select public.save_time_zone(%s)", ("Pacific/Kiritimati",)) == "Pacific/Kiritimati"
    assert profile_zone(conn, me) == "Pacific/Kiritimati"
    result = call(conn, me, "select public.request_analysis_refresh()")
    [(week,)] = conn.execute("select public.user_week_of(%s)", (me,)).fetchall()
    assert result["week_of"] == week.isoformat(), "the week is computed in the saved zone"


def test_the_export_rpc_takes_a_zone_too(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn, "UTC")
    [(story,)] = conn.execute(
        "insert into public.health_stories (user_id, story_text) values (%s, 'A week.') returning id", (me,)
    ).fetchall()
    call(
        conn,
        me,
        "select public.request_pdf_export(array[%s]::uuid[], time_zone => %s)",
        (story, "Europe/Kiev"),
    )
    assert profile_zone(conn, me) == "Europe/Kyiv"


@pytest.mark.parametrize("zone", ["Mars/Base", "PST", "UTC+10", "Etc/GMT+5", "", "x" * 5000])
@pytest.mark.parametrize(
    "rpc",
    [
        "select public.request_story_refresh(time_zone => %s)",
        "select public.request_analysis_refresh(time_zone => %s)",
    ],
)
def test_a_bad_zone_is_refused_and_changes_nothing(
    conn: psycopg.Connection[Any], rpc: LiteralString, zone: str
) -> None:
    me = add_user(conn, "Europe/Berlin")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown time zone") as caught:
        call(conn, me, rpc, (zone,))
    assert len(str(caught.value).splitlines()[0]) < 200, "the error never echoes a long input"
    assert profile_zone(conn, me) == "Europe/Berlin"
    assert nothing_written(conn, me)


def test_a_refresh_past_the_limit_saves_no_zone(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn, "Europe/Berlin")
    for _ in range(LIMIT):
        call(conn, me, "select public.request_story_refresh()")
    with pytest.raises(psycopg.Error):
        call(conn, me, "select public.request_story_refresh(time_zone => %s)", ("Asia/Tokyo",))
    assert profile_zone(conn, me) == "Europe/Berlin"


@pytest.mark.parametrize(
    "rpc",
    [
        "select public.request_story_refresh()",
        "select public.save_time_zone('UTC')",
        "select public.api_caller('act')",
    ],
)
def test_anon_may_not_call_the_person_rpcs(conn: psycopg.Connection[Any], rpc: LiteralString) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call(conn, None, rpc)


def test_a_signed_in_role_without_a_subject_is_told_to_sign_in(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("set local role authenticated")
        with pytest.raises(psycopg.Error, match="sign in to write your story") as caught:
            conn.execute("select public.request_story_refresh()")
    assert caught.value.sqlstate == "PT401"
