"""A database outage costs nothing: no attempt, no repeated work, no live job declared lost,
and claiming resumes as soon as the database is back.

The cluster here is the test's own (it is restarted); the session's cluster is untouched.
The outage (8 s) is longer than the lease (3 s), as a real outage of minutes is longer than
the production lease of a minute.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from worker.config import DatabaseTarget
from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate
from worker.queue import manager
from worker.queue.context import JobContext
from worker.queue.jobs import Job, JobSpec
from worker.queue.registry import Registry
from worker.runtime.worker import Worker, WorkerSettings

OUTAGE_SECONDS = 8.0


@pytest.fixture
def own_cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster.ephemeral()
    cluster.start()
    try:
        migrate(DatabaseTarget(cluster.url()))
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute(
                "create table effects (job_id bigint primary key, stored_at timestamptz default now())"
            )
        yield cluster
    finally:
        cluster.stop()


def test_an_outage_longer_than_the_lease_costs_no_attempt_and_no_repeated_work(
    own_cluster: LocalCluster,
) -> None:
    url = own_cluster.url()
    model_calls: list[int] = []
    outage_started = threading.Event()

    async def handle(job: Job, context: JobContext) -> None:
        model_calls.append(job.id)  # stands for the model's answers: paid for, not to be redone
        if len(model_calls) == 1:
            await asyncio.to_thread(outage_started.wait, 30)
            await asyncio.sleep(1.0)  # the database is down now

        async def store() -> None:
            async with context.complete() as conn:
                await conn.execute("insert into effects (job_id) values (%s)", (job.id,))

        await context.outlast_outage(store)

    registry = Registry()
    registry.register("outage_probe", handle, timeout_seconds=120)
    settings = WorkerSettings(concurrency=2, poll_seconds=0.2, lease_seconds=3, rescue_seconds=0.5)
    with psycopg.connect(url, autocommit=True) as conn:
        [first] = manager.enqueue_sync(conn, [JobSpec("outage_probe", {})])

    # The worker runs in a thread of its own; the restart happens on this (main) thread,
    # because the cluster's server dies with the thread that started it.
    loop_ready = threading.Event()
    holder: dict[str, Any] = {}

    async def run_worker() -> None:
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop = asyncio.Event()
        loop_ready.set()
        await Worker(url, registry, settings).run(stop)

    runner = threading.Thread(target=lambda: asyncio.run(run_worker()))
    runner.start()
    try:
        assert loop_ready.wait(30)
        deadline = time.monotonic() + 60
        while not model_calls and time.monotonic() < deadline:  # the job's model call is done
            time.sleep(0.05)
        outage_started.set()
        own_cluster.restart(down_seconds=OUTAGE_SECONDS)
        back = time.monotonic()
        # Straight after the database is back: a new job, claimed by the same worker.
        with psycopg.connect(url, autocommit=True) as conn:
            [second] = manager.enqueue_sync(conn, [JobSpec("outage_probe", {})])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with psycopg.connect(url, autocommit=True) as conn:
                if conn.execute("select count(*) from effects").fetchone() == (2,):
                    break
            time.sleep(0.05)
        both_stored_after = time.monotonic() - back
    finally:
        if "loop" in holder:
            holder["loop"].call_soon_threadsafe(holder["stop"].set)
        runner.join(60)
    with psycopg.connect(url) as conn:
        rows = conn.execute("select id, status, attempts, last_error from public.jobs order by id").fetchall()
        effects = conn.execute("select job_id from effects order by job_id").fetchall()
    assert rows == [(first, "succeeded", 1, None), (second, "succeeded", 1, None)], (
        "no attempt spent, none lost"
    )
    assert effects == [(first,), (second,)]
    assert model_calls == [first, second], "the first job's work was stored after the outage, not redone"
    assert both_stored_after < 10.0, "claiming resumed after the outage"


def test_a_dead_workers_job_is_still_rescued_after_the_grace(own_cluster: LocalCluster) -> None:
    url = own_cluster.url()
    with psycopg.connect(url, autocommit=True) as conn:
        [job] = manager.enqueue_sync(conn, [JobSpec("noop", {})])
        conn.execute(
            "update public.jobs set status = 'running', attempts = 1, lease_owner = 'gone:1:x',"
            " lease_expires_at = now() - interval '1 second' where id = %s",
            (job,),
        )
        conn.execute(
            "select pg_sleep(greatest(0, 1.5 - extract(epoch from now() - pg_postmaster_start_time())))"
        )

    async def rescue(grace: float) -> list[Any]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await manager.rescue_expired_jobs(conn, grace_seconds=grace)

    assert asyncio.run(rescue(3600)) == [], "within the grace after the database's start: not rescued"
    with psycopg.connect(url) as conn:
        [before] = conn.execute("select run_at from public.jobs where id = %s", (job,)).fetchone() or [None]
    rescued = asyncio.run(rescue(1))
    assert [(r.id, r.status) for r in rescued] == [(job, "queued")]
    with psycopg.connect(url) as conn:
        after = conn.execute("select run_at from public.jobs where id = %s", (job,)).fetchone()
    assert after == (before,), "back to its place in the queue, not behind the backlog"
