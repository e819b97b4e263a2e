"""The batched completion (``finish_jobs``): what it finishes, and a plan that stays linear
in the batch whatever the statistics say.

The statement once joined the queue with ``unnest(ids, attempts)``. After an analyze that
saw no running job (every large enqueue runs one), the planner expected one running row and
paired every job of the batch with every id: n squared comparisons a batch.
It now finds each job by its primary key and reads its attempt from a jsonb map.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import psycopg
import pytest
from psycopg import sql

from worker.queue import manager
from worker.queue.jobs import Job

BATCH = 1000


def _job(job_id: int, attempt: int) -> Job:
    now = dt.datetime.now(dt.UTC)
    return Job(
        id=job_id,
        kind="noop",
        user_id=None,
        payload={},
        priority=0,
        attempt=attempt,
        max_attempts=5,
        run_at=now,
    )


def _running(conn: psycopg.Connection[Any], owner: str, count: int, attempts: int = 1) -> list[int]:
    rows = conn.execute(
        "update jobs set status = 'running', attempts = %s, lease_owner = %s, "
        "lease_expires_at = now() + interval '1 minute' "
        "where id in (select id from jobs where status = 'queued' order by id limit %s) returning id",
        (attempts, owner, count),
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def _finish(db_url: str, jobs: list[Job], owner: str) -> set[int]:
    async def run() -> set[int]:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await manager.finish_jobs(conn, jobs, owner=owner)

    return asyncio.run(run())


def _statuses(conn: psycopg.Connection[Any], ids: list[int]) -> dict[int, tuple[str, str | None]]:
    rows = conn.execute("select id, status, lease_owner from jobs where id = any(%s)", (ids,)).fetchall()
    return {int(r[0]): (str(r[1]), r[2]) for r in rows}


def test_only_the_owners_running_jobs_at_their_attempt_are_finished(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("insert into jobs (kind) select 'noop' from generate_series(1, 6)")
        mine = _running(conn, "me", 3, attempts=2)
        others = _running(conn, "other", 2)
        queued = [int(r[0]) for r in conn.execute("select id from jobs where status = 'queued'").fetchall()]
        batch = [
            _job(mine[0], 2),  # held, this attempt: finished
            _job(mine[1], 2),  # held, this attempt: finished
            _job(mine[2], 1),  # held, but a later attempt runs now: untouched
            _job(others[0], 1),  # another worker's: untouched
            _job(queued[0], 1),  # not running: untouched
            _job(10**9, 1),  # no such job
        ]
        done = _finish(db_url, batch, "me")
        assert done == {mine[0], mine[1]}
        states = _statuses(conn, [*mine, *others, *queued])
        assert states[mine[0]] == ("succeeded", "me") and states[mine[1]] == ("succeeded", "me")
        assert states[mine[2]] == ("running", "me")
        assert states[others[0]] == ("running", "other") and states[others[1]] == ("running", "other")
        assert states[queued[0]] == ("queued", None)
        row = conn.execute(
            "select finished_at is not null, lease_expires_at is null, last_error is null from jobs where id = %s",
            (mine[0],),
        ).fetchone()
        assert row == (True, True, True)
        # Finishing again changes nothing: the jobs are no longer running.
        assert _finish(db_url, batch, "me") == set()


def test_an_empty_batch_sends_nothing(db_url: str) -> None:
    assert _finish(db_url, [], "me") == set()


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
def test_a_large_batch_is_found_by_primary_key_when_the_statistics_saw_no_running_job(
    db_url: str, mode: str
) -> None:
    """The statistics of a queue that was all queued (the analyze after a Monday's enqueue),
    then a batch of 1,000 finished in one statement: every job is probed by its primary key,
    no node compares the batch with the queue row by row, under custom and generic plans."""
    statement = manager.query("finish_jobs").as_string(None)
    for name, number in (("ids", 1), ("attempts", 2), ("owner", 3)):
        statement = statement.replace(f"%({name})s", f"${number}")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("insert into jobs (kind) select 'noop' from generate_series(1, 20000)")
        conn.execute("analyze jobs")  # nothing running
        ids = _running(conn, "me", BATCH)
        conn.execute(f"prepare finish_batch (bigint[], jsonb, text) as {statement}".encode())  # type: ignore[call-overload]
        conn.execute(f"set plan_cache_mode = {mode}".encode())  # type: ignore[call-overload]
        # EXPLAIN takes no bound parameters: the values go in as literals.
        explain = sql.SQL("explain (analyze, format json) execute finish_batch ({}, {}, 'me')").format(
            sql.Literal(ids), sql.Literal(json.dumps({str(i): 1 for i in ids}))
        )
        row = conn.execute(explain).fetchone()
        assert row is not None
        nodes = _plan_nodes(row[0][0]["Plan"])
        finished = conn.execute("select count(*) from jobs where status = 'succeeded'").fetchone()
    assert finished == (BATCH,)
    scans = [n for n in nodes if n.get("Relation Name") == "jobs" and n["Node Type"] != "ModifyTable"]
    assert scans and all(n.get("Index Name") == "jobs_pkey" for n in scans), [n["Node Type"] for n in nodes]
    assert not any(n["Node Type"] == "Seq Scan" for n in nodes)
    assert not any(n["Node Type"] in ("Nested Loop", "Hash Join", "Merge Join") for n in nodes)
    # Each id probed once: the rows the scans returned are the batch, none filtered away.
    assert sum(int(n.get("Actual Rows", 0)) for n in scans) == BATCH
    assert sum(int(n.get("Rows Removed by Filter", 0)) for n in scans) == 0
