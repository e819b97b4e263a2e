"""Limits, concurrency, who may run what, and where exports stand in the queue.

* At most 20 shares and 20 PDF exports per person and local day, counted atomically:
  under 20 concurrent callers exactly 20 succeed, the rest get PT429 and write nothing.
* Concurrent views of one link are each counted once.
* ``anon`` (and the share page's role) may execute ``get_shared_report`` and nothing else
  of ours, and reads no share data.
* An export job is claimed only when no weekly job is due: it can delay the weekly batch
  by no more than the rest of its own run.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb
from share_support import (
    SHARE_READER,
    add_person,
    add_story,
    call_as,
    count,
    create_share,
    error_of,
    open_share,
    token_of,
)

from worker.queue.manager import query as queue_query

CALLERS = 20


def _race(db_url: str, callers: int, attempt: Callable[[psycopg.Connection[Any]], object]) -> list[str]:
    """``callers`` threads, each on its own connection, released together; each runs
    ``attempt`` twice. Returns "ok" or the SQLSTATE of every attempt."""
    barrier = threading.Barrier(callers)

    def one() -> list[str]:
        outcomes = []
        with psycopg.connect(db_url, autocommit=True) as conn:
            barrier.wait(timeout=30)
            for _ in range(2):
                try:
                    attempt(conn)
                    outcomes.append("ok")
                except psycopg.Error as exc:
                    outcomes.append(str(exc.sqlstate))
        return outcomes

    with ThreadPoolExecutor(max_workers=callers) as pool:
        futures = [pool.submit(one) for _ in range(callers)]
        return [outcome for future in futures for outcome in future.result(timeout=60)]


@pytest.fixture
def maya(conn: psycopg.Connection[Any]) -> uuid.UUID:
    return add_person(conn, timezone="Pacific/Auckland")


@pytest.fixture
def story(conn: psycopg.Connection[Any], maya: uuid.UUID) -> uuid.UUID:
    return add_story(conn, maya)


# -- daily limits ----------------------------------------------------------------------------------


def test_twenty_concurrent_callers_get_exactly_twenty_shares_a_day(
    conn: psycopg.Connection[Any], db_url: str, maya: uuid.UUID, story: uuid.UUID
) -> None:
    outcomes = _race(
        db_url, CALLERS, lambda c: create_share(c, maya, [story], recipient_email="dr@clinic.example.org")
    )
    assert sorted(outcomes) == ["PT429"] * CALLERS + ["ok"] * CALLERS
    assert count(conn, "select count(*) from public.export_history where export_type = 'doctor_share'") == 20
    assert count(conn, "select count(*) from proxima_private.share_tokens") == 20
    assert count(conn, "select count(*) from public.jobs where kind = 'share_notification'") == 20
    assert conn.execute("select action, used from public.daily_usage").fetchall() == [("doctor_share", 20)]


def test_twenty_concurrent_callers_get_exactly_twenty_pdf_exports_a_day(
    conn: psycopg.Connection[Any], db_url: str, maya: uuid.UUID, story: uuid.UUID
) -> None:
    def export(c: psycopg.Connection[Any]) -> object:
        return call_as(c, maya, "request_pdf_export", {"story_ids": ([story], "uuid[]")})

    outcomes = _race(db_url, CALLERS, export)
    assert sorted(outcomes) == ["PT429"] * CALLERS + ["ok"] * CALLERS
    assert count(conn, "select count(*) from public.export_history where export_type = 'pdf'") == 20
    assert count(conn, "select count(*) from public.jobs where kind = 'export_pdf'") == 20


def test_the_twenty_first_share_says_when_the_limit_resets_and_queues_nothing(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    for _ in range(20):
        create_share(conn, maya, [story])
    error = error_of(lambda: create_share(conn, maya, [story], recipient_email="dr@clinic.example.org"))
    assert error.sqlstate == "PT429"
    assert error.diag.message_primary == (
        "daily limit reached: at most 20 doctor shares a day; it resets at midnight (Pacific/Auckland)"
    )
    # Each of the twenty has its PDF's job; the refused one queued nothing.
    assert count(conn, "select count(*) from public.jobs where kind = 'share_pdf'") == 20
    assert count(conn, "select count(*) from public.jobs") == 20
    # Exports have their own twenty.
    call_as(conn, maya, "request_pdf_export", {"story_ids": ([story], "uuid[]")})


# Pago Pago (UTC-11) and Kiritimati (UTC+14) are 25 hours apart: at any instant their local
# days differ, so each names a day of its own, and UTC a third or one of theirs.
DAYS_APART = ("Pacific/Pago_Pago", "Pacific/Kiritimati", "UTC")


@pytest.mark.parametrize("function", ["create_doctor_share", "request_pdf_export"])
def test_naming_a_zone_on_another_local_day_opens_no_fresh_twenty(
    conn: psycopg.Connection[Any], function: str
) -> None:
    me = add_person(conn, timezone="UTC")
    story = add_story(conn, me)

    def call(zone: str) -> str:
        try:
            call_as(conn, me, function, {"story_ids": ([story], "uuid[]"), "time_zone": (zone, "text")})
        except psycopg.Error as exc:
            return str(exc.sqlstate)
        return "ok"

    outcomes = [call(zone) for zone in DAYS_APART for _ in range(10)]

    assert outcomes == ["ok"] * 20 + ["PT429"] * 10
    assert count(conn, "select count(*) from public.daily_usage where user_id = %s", (me,)) == 1


def test_a_counter_whose_day_has_ended_is_not_used(conn: psycopg.Connection[Any]) -> None:
    me = add_person(conn, timezone="UTC")
    story = add_story(conn, me)
    conn.execute(
        "insert into public.daily_usage (user_id, action, day, used, period_start, period_end)"
        " values (%s, 'doctor_share', current_date - 1, 20, now() - interval '1 day', now() - interval '1 second')",
        (me,),
    )
    create_share(conn, me, [story])
    assert count(conn, "select count(*) from public.daily_usage where user_id = %s", (me,)) == 2


def test_the_daily_limit_is_per_person(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    for _ in range(20):
        create_share(conn, maya, [story])
    jonas = add_person(conn, name="Jonas")
    create_share(conn, jonas, [add_story(conn, jonas)])


# -- concurrent views --------------------------------------------------------------------------------


def test_concurrent_views_are_each_counted_exactly_once(
    conn: psycopg.Connection[Any], db_url: str, maya: uuid.UUID, story: uuid.UUID
) -> None:
    share = create_share(conn, maya, [story])
    token = token_of(share["share_link"])
    outcomes = _race(db_url, CALLERS, lambda c: open_share(c, token, user_agent="Doctor's browser"))
    assert outcomes == ["ok"] * (2 * CALLERS)
    assert count(conn, "select access_count from public.export_history") == 2 * CALLERS
    assert count(conn, "select count(*) from public.share_access_log") == 2 * CALLERS


def test_a_revocation_racing_with_views_stops_every_view_that_starts_after_it(
    conn: psycopg.Connection[Any], db_url: str, maya: uuid.UUID, story: uuid.UUID
) -> None:
    share = create_share(conn, maya, [story])
    token = token_of(share["share_link"])
    viewers = 6
    barrier = threading.Barrier(viewers + 1)
    revoked_at: list[float] = []
    views: list[tuple[float, str]] = []

    def view() -> None:
        with psycopg.connect(db_url, autocommit=True) as c:
            barrier.wait(timeout=30)
            for _ in range(15):
                started = time.monotonic()
                try:
                    open_share(c, token)
                    views.append((started, "ok"))
                except psycopg.Error as exc:
                    views.append((started, str(exc.sqlstate)))

    def revoke() -> None:
        with psycopg.connect(db_url, autocommit=True) as c:
            barrier.wait(timeout=30)
            time.sleep(0.01)
            call_as(c, maya, "revoke_doctor_share", {"share_id": (share["share_id"], "uuid")})
            revoked_at.append(time.monotonic())

    threads = [threading.Thread(target=view) for _ in range(viewers)] + [threading.Thread(target=revoke)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(views) == viewers * 15 and revoked_at
    assert {outcome for started, outcome in views if started > revoked_at[0]} <= {"PT410"}
    succeeded = sum(outcome == "ok" for _, outcome in views)
    assert count(conn, "select access_count from public.export_history") == succeeded
    assert count(conn, "select count(*) from public.share_access_log") == succeeded


# -- who may run what --------------------------------------------------------------------------------


def _executable_by(conn: psycopg.Connection[Any], role: str) -> list[str]:
    rows = conn.execute(
        "select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname in ('public', 'proxima_private') and has_function_privilege(%s, p.oid, 'execute')"
        " order by 1",
        (role,),
    ).fetchall()
    return [name for (name,) in rows]


@pytest.mark.parametrize("role", ["anon", SHARE_READER])
def test_anon_and_the_share_page_may_execute_get_shared_report_and_nothing_else(
    conn: psycopg.Connection[Any], role: str
) -> None:
    expected = ["get_shared_report(text,text)"]
    if role == SHARE_READER:  # and the share's PDF (20261202110000_share_pdf.sql)
        expected.append("get_shared_report_file(text,text)")
    assert _executable_by(conn, role) == expected


def test_the_share_page_role_reads_no_table(conn: psycopg.Connection[Any]) -> None:
    readable = conn.execute(
        "select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where c.relkind in ('r', 'p', 'v', 'm') and n.nspname not in ('pg_catalog', 'information_schema')"
        " and (has_schema_privilege(%s, n.oid, 'usage') and has_table_privilege(%s, c.oid, 'select'))",
        (SHARE_READER, SHARE_READER),
    ).fetchall()
    # time_zone_names is reference data readable by everyone (PUBLIC).
    assert [name for (name,) in readable if name != "time_zone_names"] == []


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_nobody_but_the_service_role_reaches_the_private_schema(
    conn: psycopg.Connection[Any], role: str
) -> None:
    usage = conn.execute("select has_schema_privilege(%s, 'proxima_private', 'usage')", (role,)).fetchone()
    assert usage == (False,)


def test_anon_reads_no_share_data(conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID) -> None:
    share = create_share(conn, maya, [story], recipient_email="dr@clinic.example.org")
    open_share(conn, token_of(share["share_link"]), user_agent="x")
    for table in ("export_history", "share_access_log", "daily_usage", "jobs", "profiles", "health_stories"):
        with conn.transaction(force_rollback=True):
            conn.execute("set local role anon")
            conn.execute("""select set_config('request.jwt.claims', '{"role": "anon"}', true)""")
            try:
                rows = conn.execute(
                    sql.SQL("select * from {}").format(sql.Identifier("public", table))
                ).fetchall()
            except psycopg.errors.InsufficientPrivilege:
                continue
        assert rows == [], table
    for table in ("settings", "share_tokens"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction(force_rollback=True):
            conn.execute("set local role anon")
            conn.execute(sql.SQL("select * from {}").format(sql.Identifier("proxima_private", table)))


# -- priorities ----------------------------------------------------------------------------------------


def _enqueue(conn: psycopg.Connection[Any], kind: str, priority: int, n: int) -> list[int]:
    ids = []
    for i in range(n):
        row = conn.execute(
            "insert into public.jobs (kind, payload, priority, dedupe_key) values (%s, %s, %s, %s) returning id",
            (kind, Jsonb({}), priority, f"{kind}:{uuid.uuid4()}:{i}"),
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    return ids


def _claim(conn: psycopg.Connection[Any], limit: int) -> list[str]:
    """The kinds one claim of the worker's own statement takes, in claim order."""
    statement = queue_query("claim_jobs").format(limit=sql.Literal(limit))
    rows = conn.execute(statement, {"owner": "w", "lease_seconds": 60, "kinds": None}).fetchall()
    ordered = sorted(rows, key=lambda r: (-int(r[4]), r[7], int(r[0])))  # priority, run_at, id
    return [str(r[1]) for r in ordered]


def test_an_export_delays_the_weekly_batch_by_at_most_its_own_run(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    # The priorities the RPCs write (the weekly batch's 0 is enqueue_weekly_analysis's).
    call_as(conn, maya, "request_pdf_export", {"story_ids": ([story], "uuid[]")})
    create_share(conn, maya, [story], recipient_email="dr@clinic.example.org")
    priorities = dict(conn.execute("select kind, priority from public.jobs").fetchall())
    assert priorities == {"export_pdf": -10, "share_notification": -5, "share_pdf": -5}

    # A quiet queue: a worker slot takes the export at once.
    conn.execute("delete from public.jobs where kind = 'share_pdf'")  # the share's PDF: as its e-mail
    assert _claim(conn, 1) == ["share_notification"]
    assert _claim(conn, 1) == ["export_pdf"]
    # The weekly batch arrives while that export runs, with more exports behind it.
    _enqueue(conn, "export_pdf", -10, 20)
    weekly = _enqueue(conn, "weekly_analysis", 0, 5)
    # Every slot that frees takes a weekly job until none is due: the running export held
    # one slot for the rest of its run, and that is all the batch waited for it.
    claimed = [kind for _ in range(5) for kind in _claim(conn, 1)]
    assert claimed == ["weekly_analysis"] * 5
    assert count(
        conn, "select count(*) from public.jobs where status = 'running' and kind = 'weekly_analysis'"
    ) == len(weekly)
    assert _claim(conn, 3) == ["export_pdf"] * 3
