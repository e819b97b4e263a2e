"""The named queue queries against a real server: dedupe, notify, claims, leases, rescue."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from worker.queue import manager
from worker.queue.context import JobContext, LeaseLostError
from worker.queue.jobs import Job, JobSpec


def _count(url: str, query: str, params: Any = None) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query.encode(), params).fetchone()  # type: ignore[call-overload]
    assert row is not None
    return int(row[0])


def test_concurrent_enqueues_of_the_same_user_week_make_one_job(db_url: str) -> None:
    key = f"weekly_analysis:{uuid.uuid4()}:2026-11-23"
    barrier = threading.Barrier(8)
    created: list[int] = []

    def enqueue() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            barrier.wait()
            created.extend(manager.enqueue_sync(conn, [JobSpec("noop", dedupe_key=key)]))

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(created) == 1
    assert _count(db_url, "select count(*) from jobs where dedupe_key = %s", (key,)) == 1


def test_a_dedupe_key_is_free_again_once_its_job_is_finished(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        [first] = manager.enqueue_sync(conn, [JobSpec("noop", dedupe_key="export_pdf:1")])
        assert manager.enqueue_sync(conn, [JobSpec("noop", dedupe_key="export_pdf:1")]) == []
        conn.execute("update jobs set status = 'succeeded', finished_at = now() where id = %s", (first,))
        assert len(manager.enqueue_sync(conn, [JobSpec("noop", dedupe_key="export_pdf:1")])) == 1


def test_one_notification_per_inserting_statement_not_per_row(db_url: str) -> None:
    with (
        psycopg.connect(db_url, autocommit=True) as listener,
        psycopg.connect(db_url, autocommit=True) as conn,
    ):
        listener.execute("listen proxima_jobs")
        manager.enqueue_sync(conn, [JobSpec("noop") for _ in range(500)] + [JobSpec("other_kind")])
        manager.enqueue_sync(conn, [JobSpec("noop")])
        received = list(listener.notifies(timeout=1.0))
    assert len(received) == 2
    assert sorted(received[0].payload.split(",")) == ["noop", "other_kind"]
    assert received[1].payload == "noop"


def test_a_statement_that_inserts_nothing_sends_nothing(db_url: str) -> None:
    with (
        psycopg.connect(db_url, autocommit=True) as listener,
        psycopg.connect(db_url, autocommit=True) as conn,
    ):
        manager.enqueue_sync(conn, [JobSpec("noop", dedupe_key="k")])
        listener.execute("listen proxima_jobs")
        manager.enqueue_sync(conn, [JobSpec("noop", dedupe_key="k")])
        assert list(listener.notifies(timeout=0.5)) == []


def test_the_next_job_query_is_an_index_scan(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into jobs (kind, status, finished_at) "
            "select 'noop', 'succeeded', now() from generate_series(1, 20000)"
        )
        conn.execute("insert into jobs (kind) select 'noop' from generate_series(1, 200)")
        conn.execute("analyze jobs")
        claim = manager.query("claim_jobs").format(limit=sql.Literal(10)).as_string(conn)
        plan = conn.execute(
            ("explain " + claim).encode(),  # type: ignore[call-overload]
            {"owner": "w", "lease_seconds": 60, "kinds": None},
        ).fetchall()
    text = "\n".join(row[0] for row in plan)
    assert "jobs_next_by_kind_idx" in text
    assert "Seq Scan on jobs" not in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "Bad Kind"}, "lower_snake_case"),
        ({"kind": "noop", "priority": 101}, "between -100 and 100"),
        ({"kind": "noop", "max_attempts": 0}, "between 1 and 100"),
        ({"kind": "noop", "payload": ["not", "an", "object"]}, "JSON object"),
    ],
)
def test_a_malformed_job_spec_is_refused_before_it_reaches_the_database(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        JobSpec(**kwargs)


def test_the_table_refuses_a_malformed_job_too(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("insert into jobs (kind, payload) values ('noop', '[1, 2]')")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("insert into jobs (kind) values ('DROP TABLE')")


async def _claim(pool: AsyncConnectionPool[Any], owner: str, lease: float = 60) -> list[Job]:
    async with pool.connection() as conn:
        return await manager.claim_jobs(conn, owner=owner, limit=10, lease_seconds=lease)


def test_a_worker_whose_lease_was_lost_cannot_commit_its_effects(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("create table effects (job_id bigint)")
        manager.enqueue_sync(conn, [JobSpec("noop")])

    async def scenario() -> None:
        async with AsyncConnectionPool(db_url, kwargs={"autocommit": True}, min_size=1, max_size=4) as pool:
            [job_a] = await _claim(pool, "worker-a", lease=1)
            async with pool.connection() as conn:
                await conn.execute("update jobs set lease_expires_at = now() - interval '1 s'")
                rescued = await manager.rescue_expired_jobs(conn)
            assert [(r.id, r.status) for r in rescued] == [(job_a.id, "queued")]
            [job_b] = await _claim(pool, "worker-b")
            assert (job_b.id, job_b.attempt) == (job_a.id, 2)

            with pytest.raises(LeaseLostError):
                async with JobContext(job_a, pool, "worker-a").complete() as conn:
                    await conn.execute("insert into effects values (%s)", (job_a.id,))
            async with JobContext(job_b, pool, "worker-b").complete() as conn:
                await conn.execute("insert into effects values (%s)", (job_b.id,))

    asyncio.run(scenario())
    assert _count(db_url, "select count(*) from effects") == 1
    assert _count(db_url, "select count(*) from jobs where status = 'succeeded' and attempts = 2") == 1


def test_rescue_fails_a_lost_job_that_was_on_its_last_attempt(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        [job_id] = manager.enqueue_sync(conn, [JobSpec("noop", max_attempts=1)])

    async def scenario() -> None:
        async with AsyncConnectionPool(db_url, kwargs={"autocommit": True}, min_size=1, max_size=2) as pool:
            await _claim(pool, "gone-worker", lease=1)
            async with pool.connection() as conn:
                await conn.execute("update jobs set lease_expires_at = now() - interval '1 s'")
                await manager.rescue_expired_jobs(conn)

    asyncio.run(scenario())
    with psycopg.connect(db_url) as conn:
        row = conn.execute("select status, last_error from jobs where id = %s", (job_id,)).fetchone()
    assert row is not None
    assert row[0] == "failed"
    assert row[1] == "worker lost: the lease expired during attempt 1"
    assert "gone-worker" not in row[1], "the error names no worker host or pid"


def test_heartbeats_extend_only_the_leases_this_worker_holds_and_name_the_lost_ones(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        manager.enqueue_sync(conn, [JobSpec("noop"), JobSpec("noop")])

    async def scenario() -> tuple[set[int], int]:
        async with AsyncConnectionPool(db_url, kwargs={"autocommit": True}, min_size=1, max_size=2) as pool:
            jobs = await _claim(pool, "me", lease=5)
            async with pool.connection() as conn:
                await conn.execute(
                    "update jobs set lease_owner = 'someone-else' where id = %s", (jobs[1].id,)
                )
                lost = await manager.extend_leases(
                    conn, owner="me", ids=[j.id for j in jobs], lease_seconds=600
                )
                return lost, jobs[1].id

    lost, taken = asyncio.run(scenario())
    assert lost == {taken}
    assert _count(db_url, "select count(*) from jobs where lease_expires_at > now() + interval '500 s'") == 1


def test_a_job_that_finished_meanwhile_is_not_reported_lost(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        manager.enqueue_sync(conn, [JobSpec("noop")])

    async def scenario() -> set[int]:
        async with AsyncConnectionPool(db_url, kwargs={"autocommit": True}, min_size=1, max_size=2) as pool:
            [job] = await _claim(pool, "me", lease=5)
            async with pool.connection() as conn:
                assert await manager.finish_job(conn, job, owner="me")
                return await manager.extend_leases(conn, owner="me", ids=[job.id], lease_seconds=600)

    assert asyncio.run(scenario()) == set()


def test_users_see_nothing_of_the_jobs_table(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        user = uuid.uuid4()
        conn.execute("insert into auth.users (id) values (%s)", (user,))
        conn.execute("insert into jobs (kind, user_id) values ('noop', %s)", (user,))
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (f'{{"sub": "{user}"}}',))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from jobs")
