"""PDF exports: ``public.request_pdf_export``, the trigger that keeps an export in step with its
job, and the named queries of ``worker/export/queries.sql``.

Data is built as the superuser. Each RPC call runs as PostgREST runs a request: in a
transaction, ``set local role`` plus the JWT claims in ``request.jwt.claims``; the
effects are then checked as the superuser. The queue's own statements
(``worker/queue/queries.sql``) move jobs, as the worker would, as ``service_role``. The
export queries run as the superuser, as the worker's handler runs them. Each test has a
fresh database.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from worker.db.queries import load_queries, parse_queries

PROJECT = Path(__file__).resolve().parents[2]
EXPORT_QUERIES_FILE = PROJECT / "worker" / "export" / "queries.sql"
EXPORT_QUERY_NAMES = {
    "get_export",
    "export_profile",
    "export_stories",
    "export_analysis",
    "export_symptom_series",
    "mark_export_ready",
}
MONDAY = dt.date(2026, 11, 23)
LAST_MONDAY = dt.date(2026, 11, 16)
UNSET: Any = object()


def export_query(name: str) -> sql.SQL:
    text = EXPORT_QUERIES_FILE.read_text(encoding="utf-8")
    return sql.SQL(parse_queries(text)[name])


def queue_query(name: str) -> sql.SQL:
    return load_queries("worker.queue", "queries.sql")[name]


# -- building data (as the superuser) -------------------------------------------------------------


def add_user(
    conn: psycopg.Connection[Any], timezone: str | None = "UTC", name: str | None = None
) -> uuid.UUID:
    """A person; with a profile unless timezone is None."""
    user_id = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    if timezone is not None:
        conn.execute(
            "insert into public.profiles (user_id, name, timezone) values (%s, %s, %s)",
            (user_id, name, timezone),
        )
    return user_id


def add_story(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID,
    title: str = "a week",
    *,
    generated_date: dt.datetime | None = None,
) -> uuid.UUID:
    row = conn.execute(
        "insert into public.health_stories (user_id, title, subtitle, story_text, generated_date)"
        " values (%s, %s, %s, %s, coalesce(%s, now())) returning id",
        (user_id, title, f"{title}, briefly", f"the story of {title}", generated_date),
    ).fetchone()
    assert row is not None
    story_id: uuid.UUID = row[0]
    return story_id


def add_stories(conn: psycopg.Connection[Any], user_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    rows = conn.execute(
        "insert into public.health_stories (user_id, title, story_text)"
        " select %s, 'story ' || n, 'text ' || n from generate_series(1, %s) n returning id",
        (user_id, count),
    ).fetchall()
    return [row[0] for row in rows]


def add_note(
    conn: psycopg.Connection[Any], user_id: uuid.UUID, story_id: uuid.UUID, text: str, created_at: dt.datetime
) -> None:
    conn.execute(
        "insert into public.story_notes (story_id, user_id, note_text, created_at) values (%s, %s, %s, %s)",
        (story_id, user_id, text, created_at),
    )


def add_export(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID,
    *,
    status: str | None = "pending",
    export_type: str = "pdf",
) -> uuid.UUID:
    """An export row written directly (no job)."""
    row = conn.execute(
        "insert into public.export_history (user_id, export_type, story_ids, status)"
        " values (%s, %s, '{}', %s) returning id",
        (user_id, export_type, status),
    ).fetchone()
    assert row is not None
    export_id: uuid.UUID = row[0]
    return export_id


def add_job(conn: psycopg.Connection[Any], kind: str, payload: dict[str, Any], user_id: uuid.UUID) -> int:
    row = conn.execute(
        "insert into public.jobs (kind, user_id, payload, priority) values (%s, %s, %s, 5) returning id",
        (kind, user_id, Jsonb(payload)),
    ).fetchone()
    assert row is not None
    job_id: int = row[0]
    return job_id


# -- calling it (as PostgREST does) ---------------------------------------------------------------


def request_export(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID | None,
    story_ids: Sequence[uuid.UUID | None] | None,
    *,
    role: str = "authenticated",
    include_analysis: bool | None = UNSET,
    include_notes: bool | None = UNSET,
) -> uuid.UUID:
    """One API request with named arguments; an option left UNSET is not sent."""
    params: dict[str, Any] = {"story_ids": None if story_ids is None else list(story_ids)}
    arguments: list[sql.Composable] = [sql.SQL("story_ids => %(story_ids)s::uuid[]")]
    for name, value in (("include_analysis", include_analysis), ("include_notes", include_notes)):
        if value is not UNSET:
            params[name] = value
            arguments.append(sql.SQL("{} => {}::boolean").format(sql.Identifier(name), sql.Placeholder(name)))
    query = sql.SQL("select public.request_pdf_export({})").format(sql.SQL(", ").join(arguments))
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        if user_id is not None:
            claims = {"sub": str(user_id), "role": role}
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        row = conn.execute(query, params).fetchone()
    assert row is not None
    export_id: uuid.UUID = row[0]
    return export_id


def exports(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """(id, user_id, export_type, story_ids, status, metadata, error, completed_at) of every export."""
    return conn.execute(
        "select id, user_id, export_type, story_ids, status, metadata, error, completed_at"
        " from public.export_history order by created_at, id"
    ).fetchall()


def export_state(conn: psycopg.Connection[Any], export_id: uuid.UUID) -> tuple[Any, ...]:
    """(status, error, completed_at is not null) of one export."""
    row: tuple[Any, ...] | None = conn.execute(
        "select status, error, completed_at is not null from public.export_history where id = %s",
        (export_id,),
    ).fetchone()
    assert row is not None
    return row


def jobs(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """(kind, user_id, payload, priority, status, dedupe_key) of every job."""
    return conn.execute(
        "select kind, user_id, payload, priority, status, dedupe_key from public.jobs order by id"
    ).fetchall()


def job_status(conn: psycopg.Connection[Any], job_id: int) -> str:
    row = conn.execute("select status from public.jobs where id = %s", (job_id,)).fetchone()
    assert row is not None
    status: str = row[0]
    return status


# -- moving jobs (as the worker does, with the queue's own statements) ---------------------------


def as_worker(conn: psycopg.Connection[Any], name: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    template = queue_query(name)
    query: sql.SQL | sql.Composed = template
    if "limit" in params:  # the claim's limit is written into the statement, as the worker does
        query = template.format(limit=sql.Literal(int(params["limit"])))
        params = {k: v for k, v in params.items() if k != "limit"}
    with conn.transaction():
        conn.execute("set local role service_role")
        return conn.execute(query, params).fetchall()


def claim_and_fail(conn: psycopg.Connection[Any], kind: str, error: str) -> int:
    """Claim the one queued job of kind and fail it for good; returns its id."""
    claimed = as_worker(
        conn, "claim_jobs", {"kinds": [kind], "limit": 1, "owner": "worker-1", "lease_seconds": 60}
    )
    assert len(claimed) == 1
    job_id, attempt = int(claimed[0][0]), int(claimed[0][5])
    failed = as_worker(
        conn, "fail_job", {"id": job_id, "owner": "worker-1", "attempt": attempt, "error": error}
    )
    assert failed == [(job_id,)]
    return job_id


def retry_failed(conn: psycopg.Connection[Any], kind: str) -> list[int]:
    return [int(row[0]) for row in as_worker(conn, "retry_failed_jobs", {"kind": kind, "ids": None})]


# -- an export -----------------------------------------------------------------------------------


def test_a_person_exports_their_own_stories_as_one_pending_export_and_one_job(
    conn: psycopg.Connection[Any],
) -> None:
    me = add_user(conn)
    first, second, third = (add_story(conn, me, title) for title in ("first", "second", "third"))

    export_id = request_export(
        conn,
        me,
        [second, first, second, third, first],
        include_analysis=False,
        include_notes=True,
    )

    assert exports(conn) == [
        (
            export_id,
            me,
            "pdf",
            [second, first, third],
            "pending",
            {"include_analysis": False, "include_notes": True},
            None,
            None,
        )
    ]
    assert jobs(conn) == [
        # Behind the weekly batch (0): see 20261130120000_doctor_shares.sql and tests/share/.
        ("export_pdf", me, {"export_id": str(export_id)}, -10, "queued", f"export_pdf:{export_id}"),
    ]


def test_options_left_out_or_null_are_true(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    story = add_story(conn, me)

    left_out = request_export(conn, me, [story])
    null = request_export(conn, me, [story], include_analysis=None, include_notes=None)

    metadata = {row[0]: row[5] for row in exports(conn)}
    assert metadata[left_out] == {"include_analysis": True, "include_notes": True}
    assert metadata[null] == {"include_analysis": True, "include_notes": True}


def test_the_person_reads_their_export_and_its_status_through_the_api(conn: psycopg.Connection[Any]) -> None:
    me, other = add_user(conn), add_user(conn)
    mine = request_export(conn, me, [add_story(conn, me)])
    request_export(conn, other, [add_story(conn, other)])

    with conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(me), "role": "authenticated"}),),
        )
        seen = conn.execute("select id, status from public.export_history").fetchall()

    assert seen == [(mine, "pending")]


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("whose", ["another_persons", "missing"])
def test_a_story_that_is_not_the_callers_is_refused_and_nothing_is_written(
    conn: psycopg.Connection[Any], whose: str
) -> None:
    me, other = add_user(conn), add_user(conn)
    mine = add_story(conn, me)
    foreign = add_story(conn, other) if whose == "another_persons" else uuid.uuid4()

    with pytest.raises(psycopg.Error) as caught:
        request_export(conn, me, [mine, foreign])

    # The same words whether the story belongs to someone else or exists nowhere.
    assert caught.value.sqlstate == "PT403"
    assert caught.value.diag.message_primary == f"story {foreign} is not one of your stories"
    assert exports(conn) == []
    assert jobs(conn) == []


@pytest.mark.parametrize("story_ids", [[], None], ids=["empty", "null"])
def test_an_empty_or_null_list_is_refused_with_22023(
    conn: psycopg.Connection[Any], story_ids: list[uuid.UUID] | None
) -> None:
    me = add_user(conn)

    with pytest.raises(psycopg.errors.InvalidParameterValue) as caught:
        request_export(conn, me, story_ids)

    assert caught.value.sqlstate == "22023"
    assert caught.value.diag.message_primary == "choose at least one story to export"
    assert exports(conn) == []
    assert jobs(conn) == []


def test_a_null_id_in_the_list_is_refused_with_22004(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    story = add_story(conn, me)

    with pytest.raises(psycopg.errors.NullValueNotAllowed) as caught:
        request_export(conn, me, [story, None])

    assert caught.value.diag.message_primary == "a story id in the list is null"
    assert exports(conn) == []
    assert jobs(conn) == []


def test_101_stories_are_refused_and_nothing_is_written(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    stories = add_stories(conn, me, 101)

    with pytest.raises(psycopg.errors.InvalidParameterValue) as caught:
        request_export(conn, me, stories)

    assert caught.value.diag.message_primary == "an export holds at most 100 stories; 101 were chosen"
    assert exports(conn) == []
    assert jobs(conn) == []


def test_100_stories_are_accepted(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    stories = add_stories(conn, me, 100)

    export_id = request_export(conn, me, stories)

    assert [(row[0], row[3]) for row in exports(conn)] == [(export_id, stories)]
    assert len(jobs(conn)) == 1


def test_repeated_ids_count_once_toward_the_limit(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    stories = add_stories(conn, me, 100)

    request_export(conn, me, [*stories, *stories[:10]])

    assert [row[3] for row in exports(conn)] == [stories]


def test_a_call_without_a_jwt_is_refused_with_pt401(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    story = add_story(conn, me)

    with pytest.raises(psycopg.Error) as caught:
        request_export(conn, None, [story])

    assert caught.value.sqlstate == "PT401"
    assert caught.value.diag.message_primary == "sign in to export your stories"
    assert exports(conn) == []
    assert jobs(conn) == []


@pytest.mark.parametrize("with_jwt", [False, True], ids=["without_jwt", "with_a_jwt_subject"])
def test_anon_may_not_execute_it(conn: psycopg.Connection[Any], with_jwt: bool) -> None:
    me = add_user(conn)
    story = add_story(conn, me)

    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
        request_export(conn, me if with_jwt else None, [story], role="anon")

    assert exports(conn) == []
    assert jobs(conn) == []


def test_service_role_may_not_execute_it(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    story = add_story(conn, me)

    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
        request_export(conn, me, [story], role="service_role")

    assert exports(conn) == []


def test_the_functions_are_definers_with_an_empty_search_path_and_only_the_rpc_is_callable(
    conn: psycopg.Connection[Any],
) -> None:
    rows = conn.execute(
        "select p.oid::regprocedure::text, p.prosecdef, p.proconfig,"
        "       has_function_privilege('anon', p.oid, 'execute'),"
        "       has_function_privilege('authenticated', p.oid, 'execute'),"
        "       has_function_privilege('service_role', p.oid, 'execute')"
        "  from pg_proc p"
        " where p.oid in ('public.request_pdf_export(uuid[], boolean, boolean, text)'::regprocedure,"
        "                 'public.sync_pdf_export_with_job()'::regprocedure)"
        " order by 1"
    ).fetchall()

    assert rows == [
        ("request_pdf_export(uuid[],boolean,boolean,text)", True, ['search_path=""'], False, True, False),
        ("sync_pdf_export_with_job()", True, ['search_path=""'], False, False, False),
    ]


# -- the export follows its job ------------------------------------------------------------------


def test_a_failed_job_fails_its_export_with_the_jobs_error(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    export_id = request_export(conn, me, [add_story(conn, me)])

    claim_and_fail(conn, "export_pdf", "renderer crashed: font missing")

    assert export_state(conn, export_id) == ("failed", "renderer crashed: font missing", True)


def test_retry_failed_puts_the_export_back_to_pending(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    export_id = request_export(conn, me, [add_story(conn, me)])
    job_id = claim_and_fail(conn, "export_pdf", "renderer crashed")

    assert retry_failed(conn, "export_pdf") == [job_id]

    assert job_status(conn, job_id) == "queued"
    assert export_state(conn, export_id) == ("pending", None, False)


def test_a_cancelled_export_job_fails_its_export_as_cancelled(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    cancelled = request_export(conn, me, [add_story(conn, me)])
    [(job_id,)] = conn.execute(
        "select id from public.jobs where payload ->> 'export_id' = %s", (str(cancelled),)
    ).fetchall()

    assert [int(row[0]) for row in as_worker(conn, "cancel_jobs", {"ids": [], "kind": "export_pdf"})] == [
        job_id
    ]

    assert job_status(conn, job_id) == "cancelled"
    assert export_state(conn, cancelled) == ("failed", "cancelled", True)


def test_a_cancelled_job_leaves_a_ready_export_and_other_exports_alone(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    story = add_story(conn, me)
    ready = request_export(conn, me, [story])
    conn.execute(
        export_query("mark_export_ready"),
        {"export_id": ready, "storage_path": f"{me}/{ready}.pdf", "size": 1234},
    )
    untouched = request_export(conn, me, [story])
    [(job_id,)] = conn.execute(
        "select id from public.jobs where payload ->> 'export_id' = %s", (str(ready),)
    ).fetchall()

    assert [int(row[0]) for row in as_worker(conn, "cancel_jobs", {"ids": [job_id], "kind": None})] == [
        job_id
    ]

    assert export_state(conn, ready) == ("ready", None, True)
    assert export_state(conn, untouched) == ("pending", None, False)


def test_only_the_failed_jobs_own_export_changes(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    story = add_story(conn, me)
    failing = request_export(conn, me, [story])
    conn.execute("update public.jobs set priority = 9 where payload ->> 'export_id' = %s", (str(failing),))
    untouched = request_export(conn, me, [story])

    claim_and_fail(conn, "export_pdf", "boom")

    assert export_state(conn, failing)[0] == "failed"
    assert export_state(conn, untouched) == ("pending", None, False)


def test_a_ready_export_keeps_its_file_when_its_job_fails_afterwards(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    export_id = request_export(conn, me, [add_story(conn, me)])
    conn.execute(
        export_query("mark_export_ready"),
        {"export_id": export_id, "storage_path": f"{me}/{export_id}.pdf", "size": 1234},
    )

    claim_and_fail(conn, "export_pdf", "lease lost after the upload")

    assert export_state(conn, export_id) == ("ready", None, True)


def test_a_job_of_another_kind_never_touches_an_export(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    export_id = add_export(conn, me)
    add_job(conn, "weekly_analysis", {"export_id": str(export_id)}, me)

    claim_and_fail(conn, "weekly_analysis", "boom")

    assert export_state(conn, export_id) == ("pending", None, False)


@pytest.mark.parametrize(
    "payload",
    [
        {"export_id": "not-a-uuid"},
        {"export_id": "00000000-0000-0000-0000-00000000000g"},
        {"export_id": 42},
        {"export_id": None},
        {"export_id": ["a", "b"]},
        {},
    ],
    ids=["text", "almost_a_uuid", "number", "json_null", "array", "missing"],
)
def test_a_malformed_export_id_does_not_break_the_jobs_own_updates(
    conn: psycopg.Connection[Any], payload: dict[str, Any]
) -> None:
    me = add_user(conn)
    export_id = add_export(conn, me)
    job_id = add_job(conn, "export_pdf", payload, me)

    claim_and_fail(conn, "export_pdf", "bad payload")
    assert job_status(conn, job_id) == "failed"
    assert retry_failed(conn, "export_pdf") == [job_id]

    assert job_status(conn, job_id) == "queued"
    assert export_state(conn, export_id) == ("pending", None, False)


# -- the named queries ---------------------------------------------------------------------------


def test_the_queries_file_holds_every_query_the_handler_calls() -> None:
    text = EXPORT_QUERIES_FILE.read_text(encoding="utf-8")

    assert set(parse_queries(text)) >= EXPORT_QUERY_NAMES


def test_get_export_returns_a_pdf_export_and_never_a_share(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    story = add_story(conn, me)
    export_id = request_export(conn, me, [story], include_notes=False)
    share_id = add_export(conn, me, status=None, export_type="doctor_share")

    found = conn.execute(export_query("get_export"), {"export_id": export_id}).fetchall()
    share = conn.execute(export_query("get_export"), {"export_id": share_id}).fetchall()

    assert found == [(export_id, me, [story], {"include_analysis": True, "include_notes": False}, "pending")]
    assert share == []


def test_export_profile_returns_the_name_and_time_zone(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn, "Asia/Tokyo", name="Zoë Łukasiewicz")

    rows = conn.execute(export_query("export_profile"), {"user_id": me}).fetchall()

    assert rows == [("Zoë Łukasiewicz", "Asia/Tokyo")]


def test_export_profile_without_a_profile_is_no_name_in_utc(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn, timezone=None)

    rows = conn.execute(export_query("export_profile"), {"user_id": me}).fetchall()

    assert rows == [(None, "UTC")]


def test_export_stories_come_in_the_requested_order_with_notes_and_local_weeks(
    conn: psycopg.Connection[Any],
) -> None:
    me, other = add_user(conn, "Asia/Tokyo"), add_user(conn)
    # Sunday 16:00 UTC is Monday 01:00 in Tokyo: the next week there.
    sunday_evening_utc = dt.datetime(2026, 11, 29, 16, tzinfo=dt.UTC)
    wednesday = dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)
    late = add_story(conn, me, "late", generated_date=sunday_evening_utc)
    midweek = add_story(conn, me, "midweek", generated_date=wednesday)
    theirs = add_story(conn, other, "theirs", generated_date=wednesday)
    at = dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
    add_note(conn, me, late, "second thought", at + dt.timedelta(hours=2))
    add_note(conn, me, late, "first thought", at)
    add_note(conn, other, theirs, "not mine", at)

    rows = conn.execute(
        export_query("export_stories"),
        {"user_id": me, "story_ids": [midweek, theirs, uuid.uuid4(), late], "tz": "Asia/Tokyo"},
    ).fetchall()

    assert rows == [
        (
            midweek,
            "midweek",
            "midweek, briefly",
            "the story of midweek",
            wednesday,
            dt.date(2026, 11, 25),
            None,
            MONDAY,
            [],
        ),
        (
            late,
            "late",
            "late, briefly",
            "the story of late",
            sunday_evening_utc,
            dt.date(2026, 11, 30),  # the local day it was written, in Tokyo
            None,
            MONDAY + dt.timedelta(days=7),
            ["first thought", "second thought"],
        ),
    ]


def add_analysis_week(conn: psycopg.Connection[Any], user_id: uuid.UUID, week: dt.date) -> None:
    """Two rows in each report table, inserted in the opposite of the order they are read in."""
    for title, confidence in (("less sure", 40), ("sure", 90)):
        conn.execute(
            "insert into public.health_insights"
            " (user_id, story_id, insight_type, title, description, confidence, week_of)"
            " values (%s, %s, 'warning', %s, 'seen', %s, %s)",
            (user_id, uuid.uuid4(), title, confidence, week),
        )
    for event, probability in (("unlikely", 10), ("likely", 80)):
        conn.execute(
            "insert into public.health_predictions"
            " (user_id, story_id, event_description, probability, timeframe, preventable, reasoning, week_of)"
            " values (%s, %s, %s, %s, 'next week', true, 'because', %s)",
            (user_id, uuid.uuid4(), event, probability, week),
        )
    for name, significance in (("low one", "low"), ("high one", "high"), ("medium one", "medium")):
        conn.execute(
            "insert into public.shadow_patterns"
            " (user_id, pattern_name, last_seen_description, significance, last_mentioned_date,"
            "  days_missing, week_of)"
            " values (%s, %s, 'often', %s, '2026-11-02', 14, %s)",
            (user_id, name, significance, week),
        )
    for strategy, priority in (("later", 3), ("first", 10)):
        conn.execute(
            "insert into public.strategic_moves (user_id, strategy, strategy_type, priority, rationale, week_of)"
            " values (%s, %s, 'prevention', %s, 'why', %s)",
            (user_id, strategy, priority, week),
        )


def test_export_analysis_returns_each_week_asked_for_even_an_empty_one(conn: psycopg.Connection[Any]) -> None:
    me, other = add_user(conn), add_user(conn)
    add_analysis_week(conn, me, LAST_MONDAY)
    add_analysis_week(conn, other, MONDAY)

    rows = conn.execute(
        export_query("export_analysis"), {"user_id": me, "weeks": [LAST_MONDAY, MONDAY]}
    ).fetchall()

    assert [row[0] for row in rows] == [LAST_MONDAY, MONDAY]
    _, covers_start, covers_end, zone, findings, insights, predictions, patterns, moves = rows[0]
    assert (covers_start, covers_end, zone, findings) == (None, None, None, []), "no generation recorded"
    assert insights == [
        {"insight_type": "warning", "title": "sure", "description": "seen", "confidence": 90},
        {"insight_type": "warning", "title": "less sure", "description": "seen", "confidence": 40},
    ]
    assert predictions == [
        {
            "event_description": event,
            "probability": probability,
            "timeframe": "next week",
            "preventable": True,
            "reasoning": "because",
        }
        for event, probability in (("likely", 80), ("unlikely", 10))
    ]
    assert patterns == [
        {
            "pattern_name": f"{significance} one",
            "significance": significance,
            "last_seen_description": "often",
            "last_mentioned_date": "2026-11-02",
            "days_missing": 14,
        }
        for significance in ("high", "medium", "low")
    ]
    assert moves == [
        {
            "strategy": strategy,
            "strategy_type": "prevention",
            "priority": priority,
            "rationale": "why",
            "completion_status": "pending",
        }
        for strategy, priority in (("first", 10), ("later", 3))
    ]
    assert rows[1] == (MONDAY, None, None, None, [], [], [], [], [])


def add_symptom(
    conn: psycopg.Connection[Any], user_id: uuid.UUID, name: str, day: dt.date, severity: int | None = None
) -> None:
    conn.execute(
        "insert into public.symptom_tracking (user_id, symptom_name, body_part, severity, occurrence_date)"
        " values (%s, %s, 'head', %s, %s)",
        (str(user_id), name, severity, day),
    )


def test_export_symptom_series_counts_each_symptom_per_week(conn: psycopg.Connection[Any]) -> None:
    me, other = add_user(conn, "Asia/Tokyo"), add_user(conn)
    sunday = LAST_MONDAY + dt.timedelta(days=6)
    add_symptom(conn, me, "Headache", LAST_MONDAY, 4)
    add_symptom(conn, me, "headache", sunday, 5)  # the last day of LAST_MONDAY's week
    add_symptom(conn, me, "headache", MONDAY, 6)
    add_symptom(conn, me, " HEADACHE ", MONDAY + dt.timedelta(days=2), 7)
    add_symptom(conn, me, "headache", MONDAY + dt.timedelta(days=3), 4)
    add_symptom(conn, me, "headache", MONDAY + dt.timedelta(days=4))  # no severity
    add_symptom(conn, me, "Nausea", MONDAY, 3)
    add_symptom(conn, me, "nausea", LAST_MONDAY - dt.timedelta(days=1), 9)  # the week before
    add_symptom(conn, me, "nausea", MONDAY + dt.timedelta(days=7), 9)  # the week after
    add_symptom(conn, other, "nausea", MONDAY, 9)

    rows = conn.execute(
        export_query("export_symptom_series"),
        {"user_id": me, "weeks": [LAST_MONDAY, MONDAY], "tz": "Asia/Tokyo", "series": 8},
    ).fetchall()

    assert rows == [
        ("headache", 0, LAST_MONDAY, 2, Decimal("4.5")),
        ("headache", 0, MONDAY, 4, Decimal("5.7")),
        ("Nausea", 0, LAST_MONDAY, 0, None),
        ("Nausea", 0, MONDAY, 1, Decimal("3.0")),
    ]


def test_export_symptom_series_sums_all_but_the_most_logged_as_other(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    names = [f"symptom {n:02d}" for n in range(15)]  # symptom 00 logged most
    for rank, name in enumerate(names):
        for week in range(2):
            for day in range(max(1, 7 - rank // 2)):  # the app keeps one row per symptom, body part and day
                add_symptom(conn, me, name, MONDAY + dt.timedelta(days=7 * week + day), 2 + rank % 5)

    rows = conn.execute(
        export_query("export_symptom_series"),
        {"user_id": me, "weeks": [MONDAY, MONDAY + dt.timedelta(days=7)], "series": 8},
    ).fetchall()

    series = [(row[0], row[1]) for row in rows[::2]]
    assert series == [*((name, 0) for name in names[:7]), (None, 8)], "7 symptoms, then the other 8 summed"
    other = [row for row in rows if row[0] is None]
    expected = sum(max(1, 7 - rank // 2) for rank in range(7, 15))
    assert [row[3] for row in other] == [expected, expected]


def test_export_symptom_series_shows_up_to_eight_symptoms_each_by_name(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    for times, name in enumerate(("h", "g", "f", "e", "d", "c", "b", "a"), start=1):
        for day in range(times):
            add_symptom(conn, me, name, MONDAY + dt.timedelta(days=day), 5)

    rows = conn.execute(
        export_query("export_symptom_series"),
        {"user_id": me, "weeks": [MONDAY, MONDAY + dt.timedelta(days=7)], "series": 8},
    ).fetchall()

    assert [row[0] for row in rows[::2]] == ["a", "b", "c", "d", "e", "f", "g", "h"]
    assert {row[1] for row in rows} == {0}


def test_mark_export_ready_records_the_file_of_a_pending_export(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    export_id = add_export(conn, me, status="pending")
    conn.execute("update public.export_history set error = 'an earlier attempt' where id = %s", (export_id,))
    path = f"{me}/{export_id}.pdf"

    returned = conn.execute(
        export_query("mark_export_ready"), {"export_id": export_id, "storage_path": path, "size": 48213}
    ).fetchall()

    assert returned == [(export_id,)]
    row = conn.execute(
        "select status, storage_path, file_size_bytes, error, completed_at is not null"
        " from public.export_history where id = %s",
        (export_id,),
    ).fetchone()
    assert row == ("ready", path, 48213, None, True)


@pytest.mark.parametrize("status", ["failed", "ready"])
def test_mark_export_ready_leaves_an_export_that_is_not_pending_alone(
    conn: psycopg.Connection[Any], status: str
) -> None:
    me = add_user(conn)
    export_id = add_export(conn, me, status=status)
    before = exports(conn)

    returned = conn.execute(
        export_query("mark_export_ready"),
        {"export_id": export_id, "storage_path": f"{me}/{export_id}.pdf", "size": 1},
    ).fetchall()

    assert returned == []
    assert exports(conn) == before
