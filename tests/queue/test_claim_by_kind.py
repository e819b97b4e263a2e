"""A worker limited to some kinds claims from its kinds' own index ranges.

Behind a backlog of other kinds, the kind-filtered claim reads only its own jobs (the plan
walks ``jobs_next_by_kind_idx``, nothing is filtered away), whether PostgreSQL plans it
for the given kinds or generically, and it claims as the unfiltered claim does: most
urgent first across the asked kinds, due jobs only, skipping rows other workers hold.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from worker.queue import manager
from worker.queue.jobs import Job, JobSpec

BACKLOG = 20_000


def _fill_backlog(conn: psycopg.Connection[Any]) -> None:
    """20,000 queued jobs of another kind, as urgent as and older than the ones asked for."""
    conn.execute(
        "insert into jobs (kind, priority, run_at) "
        "select 'weekly_analysis', 0, now() - interval '1 hour' from generate_series(1, %s)",
        (BACKLOG,),
    )


def _generic_sql(conn: psycopg.Connection[Any], limit: int) -> str:
    """The kind-filtered claim as a server-side prepared statement's text ($1 kinds, $2 owner, $3 lease)."""
    statement, _ = manager.claim_statement(owner="w", limit=limit, lease_seconds=60, kinds=["x"])
    text = statement.as_string(conn)
    for name, number in (("kinds", 1), ("owner", 2), ("lease_seconds", 3)):
        text = text.replace(f"%({name})s", f"${number}")
    return text


@pytest.mark.parametrize("plan_cache_mode", ["force_custom_plan", "force_generic_plan"])
def test_the_kind_filtered_claim_reads_only_its_kinds_rows_behind_a_backlog(
    db_url: str, plan_cache_mode: str
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        _fill_backlog(conn)
        manager.enqueue_sync(conn, [JobSpec("export_pdf") for _ in range(20)])
        conn.execute("vacuum analyze jobs")
        conn.execute(f"set plan_cache_mode = {plan_cache_mode}")
        conn.execute(f"prepare claim (text[], text, float8) as {_generic_sql(conn, 10)}".encode())  # type: ignore[call-overload]
        with conn.transaction(force_rollback=True):  # explain analyze runs the claim: undo it
            plan = conn.execute(
                "explain (analyze, buffers, costs off) execute claim ('{export_pdf}', 'w', 60)"
            ).fetchall()
    text = "\n".join(row[0] for row in plan)
    assert "Index Scan using jobs_next_by_kind_idx" in text
    assert "jobs_next_idx" not in text
    assert "Seq Scan" not in text
    assert "Rows Removed by Filter" not in text, "no row of another kind is read and thrown away"
    scanned = [line for line in text.splitlines() if "Index Scan using jobs_next_by_kind_idx" in line]
    assert all("rows=10 " in line for line in scanned), text


def test_the_unfiltered_claim_walks_each_queued_kinds_range(db_url: str) -> None:
    """One "next job" index (20261201110300_one_next_job_index.sql): the claim of any kind
    skips through it for the kinds that have queued jobs and walks each one's range, reading
    at most its limit of each kind's rows however long the backlog, and sorting nothing
    but the merged heads."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        _fill_backlog(conn)
        manager.enqueue_sync(conn, [JobSpec("export_pdf") for _ in range(20)])
        conn.execute("vacuum analyze jobs")
        statement, params = manager.claim_statement(owner="w", limit=10, lease_seconds=60)
        with conn.transaction(force_rollback=True):
            plan = conn.execute(
                b"explain (analyze, costs off) " + statement.as_bytes(conn), params
            ).fetchall()
    text = "\n".join(row[0] for row in plan)
    assert "jobs_next_idx" not in text
    assert "Seq Scan" not in text
    walks = [line for line in text.splitlines() if "Index Scan using jobs_next_by_kind_idx" in line]
    assert walks, text
    assert all("rows=10 " in line for line in walks), text
    assert "loops=2" in "".join(walks), "one walk per queued kind"


def _in_claim_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda r: (-int(r[4]), r[7], int(r[0])))  # priority, run_at, id


def test_the_unfiltered_claim_takes_every_kind_in_global_claim_order(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        now = conn.execute("select now()").fetchone()
        assert now is not None
        earlier = now[0] - dt.timedelta(minutes=5)
        specs = [
            JobSpec("weekly_analysis", priority=0, run_at=earlier),
            JobSpec("export_pdf", priority=10),
            JobSpec("zz_unknown_kind", priority=0, run_at=earlier - dt.timedelta(minutes=1)),
            JobSpec("export_pdf", priority=0, run_at=earlier),
            JobSpec("housekeeping", priority=-5),
            JobSpec("export_pdf", priority=0, run_at=now[0] + dt.timedelta(hours=1)),  # not due
        ]
        ids = manager.enqueue_sync(conn, specs)
        statement, params = manager.claim_statement(owner="w", limit=3, lease_seconds=60)
        first = conn.execute(statement, params).fetchall()
        second = conn.execute(statement, params).fetchall()
        third = conn.execute(statement, params).fetchall()
    assert [int(r[0]) for r in _in_claim_order(first)] == [ids[1], ids[2], ids[0]]
    assert [int(r[0]) for r in _in_claim_order(second)] == [ids[3], ids[4]]
    assert third == []


async def _claim(
    pool: AsyncConnectionPool[Any], kinds: list[str] | None, limit: int, owner: str = "w"
) -> list[Job]:
    async with pool.connection() as conn:
        return await manager.claim_jobs(conn, owner=owner, limit=limit, lease_seconds=60, kinds=kinds)


def test_claiming_several_kinds_takes_the_most_urgent_of_those_kinds_only(db_url: str) -> None:
    now = dt.datetime.now(dt.UTC)
    specs = [
        JobSpec("kind_a", priority=0, run_at=now - dt.timedelta(minutes=5)),  # 0
        JobSpec("kind_b", priority=5, run_at=now - dt.timedelta(minutes=1)),  # 1
        JobSpec("kind_c", priority=50, run_at=now - dt.timedelta(minutes=9)),  # 2: never asked for
        JobSpec("kind_a", priority=5, run_at=now - dt.timedelta(minutes=2)),  # 3
        JobSpec("kind_b", priority=0, run_at=now - dt.timedelta(minutes=7)),  # 4
        JobSpec("kind_a", priority=-3, run_at=now - dt.timedelta(minutes=9)),  # 5
        JobSpec("kind_b", priority=90, run_at=now + dt.timedelta(hours=1)),  # 6: not due yet
        JobSpec("kind_a", priority=5, run_at=now - dt.timedelta(minutes=2)),  # 7: ties 3, later id
    ]
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = manager.enqueue_sync(conn, specs)

    async def scenario() -> tuple[list[int], list[int], list[int]]:
        async with AsyncConnectionPool(db_url, kwargs={"autocommit": True}, min_size=1, max_size=2) as pool:
            first = await _claim(pool, ["kind_b", "kind_a", "kind_a"], 3)
            rest = await _claim(pool, ["kind_a", "kind_b"], 10)
            again = await _claim(pool, ["kind_a", "kind_b"], 10)
            return [j.id for j in first], [j.id for j in rest], [j.id for j in again]

    first, rest, again = asyncio.run(scenario())
    # Priority 5 (run_at ties broken by id), then priority 0 oldest first, then -3.
    assert first == [ids[3], ids[7], ids[1]]
    assert rest == [ids[4], ids[0], ids[5]]
    assert again == []
    with psycopg.connect(db_url) as conn:
        queued = {row[0] for row in conn.execute("select id from jobs where status = 'queued'")}
    assert queued == {ids[2], ids[6]}


def test_the_kind_filtered_claim_skips_rows_another_worker_holds_without_waiting(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = manager.enqueue_sync(conn, [JobSpec("export_pdf", priority=10 - i) for i in range(6)])

    async def scenario() -> tuple[list[int], list[int]]:
        async with (
            AsyncConnectionPool(db_url, kwargs={"autocommit": True}, min_size=1, max_size=2) as pool,
            await psycopg.AsyncConnection.connect(db_url) as holder,
        ):
            # Another worker in the middle of its claim: it holds the two most urgent rows.
            statement, params = manager.claim_statement(
                owner="other", limit=2, lease_seconds=60, kinds=["export_pdf"]
            )
            cur = await holder.execute(statement, params)
            held = sorted(int(row[0]) for row in await cur.fetchall())
            async with pool.connection() as conn:
                await conn.execute("set lock_timeout = '1s'")  # a claim that waited would fail
                mine = await manager.claim_jobs(
                    conn, owner="me", limit=10, lease_seconds=60, kinds=["export_pdf"]
                )
            await holder.rollback()
            return held, [j.id for j in mine]

    held, mine = asyncio.run(scenario())
    assert held == sorted(ids[:2])
    assert mine == ids[2:]


# -- the statement the worker sends: its values written in ------------------------------------


@pytest.mark.parametrize("kinds", [("export_pdf",), None], ids=["of kinds", "any kind"])
def test_the_claim_the_worker_sends_walks_the_index_behind_a_backlog(
    db_url: str, kinds: tuple[str, ...] | None
) -> None:
    """``manager.claim_jobs`` sends ``bound_claim``: the same statement with the owner, the
    lease and the kinds as literals. Prepared by the driver (after five runs, as psycopg
    does), it keeps the plan of the tests above: each kind's range walked, 10 rows read for
    a claim of 10 behind 20,000 jobs of another kind."""
    statement = manager.bound_claim(owner="w", limit=10, lease_seconds=60.0, kinds=kinds)
    with psycopg.connect(db_url, autocommit=True) as conn:
        _fill_backlog(conn)
        manager.enqueue_sync(conn, [JobSpec("export_pdf") for _ in range(20)])
        conn.execute("vacuum analyze jobs")
        conn.execute(b"prepare claim as " + statement)  # type: ignore[call-overload]
        for _ in range(6):  # past PostgreSQL's five custom plans, had there been parameters
            with conn.transaction(force_rollback=True):
                conn.execute("execute claim")
        with conn.transaction(force_rollback=True):
            plan = conn.execute("explain (analyze, costs off) execute claim").fetchall()
            claimed = conn.execute("execute claim").fetchall()
    text = "\n".join(row[0] for row in plan)
    assert "Seq Scan" not in text
    walks = [line for line in text.splitlines() if "Index Scan using jobs_next_by_kind_idx" in line]
    assert walks and all("rows=10 " in line for line in walks), text
    if kinds:  # no row of another kind read and thrown away
        assert not re.search(r"Rows Removed by Filter: [1-9]", text), text
    else:  # one walk for each of the two queued kinds
        assert "loops=2" in "".join(walks), text
    assert len(claimed) == 10
    assert {row[1] for row in claimed} == ({"export_pdf"} if kinds else {"weekly_analysis"})


def test_the_bound_claim_quotes_its_values_and_claims_only_the_asked_kinds(db_url: str) -> None:
    owner = "host'; drop table jobs; --:1"
    statement = manager.bound_claim(owner=owner, limit=3, lease_seconds=90.0, kinds=("export_pdf", "noop"))
    assert b"%" not in statement
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = manager.enqueue_sync(
            conn,
            [JobSpec("export_pdf", priority=1), JobSpec("noop", priority=5), JobSpec("other", priority=9)],
        )
        rows = conn.execute(statement).fetchall()
        leases = conn.execute(
            "select id, lease_owner, round(extract(epoch from lease_expires_at - updated_at)) from jobs"
            " where status = 'running' order by id"
        ).fetchall()
    assert sorted(int(r[0]) for r in rows) == ids[:2]
    assert leases == [(ids[0], owner, 90), (ids[1], owner, 90)]


def test_a_percent_sign_in_the_claim_is_refused_rather_than_sent_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without parameters the driver sends ``%%`` as it stands: the bound claim refuses it."""
    statement = psycopg.sql.SQL("select {limit} where 'a' like 'a%%' and %(owner)s is not null")
    monkeypatch.setattr(manager, "query", lambda name: statement)
    manager.bound_claim.cache_clear()
    try:
        with pytest.raises(ValueError, match="percent sign"):
            manager.bound_claim(owner="w", limit=1, lease_seconds=60.0, kinds=None)
    finally:
        manager.bound_claim.cache_clear()
