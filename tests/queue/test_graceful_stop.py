"""A graceful stop keeps its promises, and a claim the database refuses does not end the
worker: leases are renewed until the shutdown is over, jobs claimed as the signal arrives
are handed back unstarted, and the shutdown runs whatever ended the claim loop."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import psycopg
import pytest
from psycopg import sql
from queue_support import probe_registry, scalar, wait_for

from worker.queue import manager
from worker.queue.context import JobContext
from worker.queue.jobs import Job, JobSpec
from worker.queue.registry import Registry
from worker.runtime.worker import Worker, WorkerSettings


def _enqueue(url: str, *specs: JobSpec) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return manager.enqueue_sync(conn, list(specs))


def _past_the_start_up_rescue_grace(url: str) -> None:
    """Rescue waits 10 s after the server's start: wait that out, so a rescue can happen."""
    up = float(scalar(url, "select extract(epoch from now() - pg_postmaster_start_time())"))
    if up < 11:
        time.sleep(11 - up)


def test_leases_are_renewed_through_a_grace_period_longer_than_the_lease(
    probe_db: str, worker_processes: Any
) -> None:
    _past_the_start_up_rescue_grace(probe_db)
    first = worker_processes(probe_db, "--lease", "3", "--grace", "15", "--concurrency", "1")
    first.wait_started()
    [job_id] = _enqueue(probe_db, JobSpec(kind="probe_effect", payload={"sleep": 9}))
    wait_for(
        lambda: scalar(probe_db, "select count(*) from probe_runs") == 1, what="the first worker runs it"
    )
    first.signal(signal.SIGTERM)  # the job has 15 s to finish; its lease is 3 s
    second = worker_processes(probe_db, "--lease", "3", "--concurrency", "1")
    second.wait_started()
    assert first.wait(timeout=60) == 0
    wait_for(
        lambda: scalar(probe_db, "select status from jobs where id = %s", (job_id,)) == "succeeded",
        timeout=30,
        what="the job to succeed",
    )
    runs = scalar(probe_db, "select count(*) from probe_runs")
    effects = scalar(probe_db, "select count(*) from probe_effects")
    assert (runs, effects) == (1, 1), "the job ran once, on the worker that was stopping"
    assert scalar(probe_db, "select attempts from jobs where id = %s", (job_id,)) == 1


def _set_read_only(url: str, read_only: bool) -> None:
    """What Supabase does to a project whose disk is full; sessions opened later inherit it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set default_transaction_read_only = off")
        name = conn.info.dbname
        setting = sql.SQL(
            "set default_transaction_read_only = on" if read_only else "reset default_transaction_read_only"
        )
        conn.execute(sql.SQL("alter database {} ").format(sql.Identifier(name)) + setting)
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and pid <> pg_backend_pid()"
        )


def test_a_read_only_database_makes_the_worker_wait_not_exit(probe_db: str, worker_processes: Any) -> None:
    worker = worker_processes(probe_db, "--poll", "0.2")
    worker.wait_started()
    try:
        _set_read_only(probe_db, True)
        time.sleep(3)  # claims are refused meanwhile
        assert worker.process.poll() is None, "".join(worker.log_lines[-20:])
    finally:
        _set_read_only(probe_db, False)
    [job_id] = _enqueue(probe_db, JobSpec(kind="probe_effect"))
    wait_for(
        lambda: scalar(probe_db, "select status from jobs where id = %s", (job_id,)) == "succeeded",
        timeout=30,
        what="claims to resume once the database takes writes again",
    )
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    events = worker.events()
    refused = [e for e in events if e.get("event") == "claim refused by the database; retrying with backoff"]
    assert len(refused) == 1, [e.get("event") for e in events]
    assert "ReadOnlySqlTransaction (SQLSTATE 25006)" in refused[0]["error"]
    assert not any("Traceback" in line for line in worker.log_lines)


def test_a_claim_loop_that_fails_still_hands_running_jobs_back(
    probe_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()

    async def slow(job: Job, context: JobContext) -> None:
        started.set()
        await asyncio.sleep(3600)

    registry = Registry()
    registry.register("slow", slow, timeout_seconds=7200)
    [job_id] = _enqueue(probe_db, JobSpec(kind="slow"))
    real_claim = manager.claim_jobs

    async def claim_then_break(conn: Any, **kwargs: Any) -> Any:
        if started.is_set():
            raise RuntimeError("a bug in the worker's own claim code")
        return await real_claim(conn, **kwargs)

    monkeypatch.setattr(manager, "claim_jobs", claim_then_break)
    settings = WorkerSettings(concurrency=2, poll_seconds=0.1, lease_seconds=30, shutdown_grace_seconds=0.2)
    worker = Worker(probe_db, registry, settings)

    async def main() -> None:
        with pytest.raises(RuntimeError, match="own claim code"):
            await asyncio.wait_for(worker.run(asyncio.Event()), 30)

    asyncio.run(main())
    status, owner, attempts = psycopg.connect(probe_db).execute(
        "select status, lease_owner, attempts from jobs where id = %s", (job_id,)
    ).fetchone() or (None, None, None)
    assert (status, owner) == ("queued", None), "handed back at once, not left for its lease to expire"
    assert attempts == 0, "a handed-back attempt is not counted"


def test_jobs_claimed_as_the_stop_arrives_are_handed_back_unstarted(
    probe_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []

    async def record(job: Job, context: JobContext) -> None:
        ran.append(job.id)

    registry = probe_registry()
    registry.register("recorded", record)
    stop = asyncio.Event()
    real_claim = manager.claim_jobs

    async def claim_while_stopping(conn: Any, **kwargs: Any) -> Any:
        jobs = await real_claim(conn, **kwargs)
        if jobs:
            stop.set()  # SIGTERM arrives while this claim is on its way back
            await asyncio.sleep(0.2)
        return jobs

    monkeypatch.setattr(manager, "claim_jobs", claim_while_stopping)
    [job_id] = _enqueue(probe_db, JobSpec(kind="recorded"))
    worker = Worker(probe_db, registry, WorkerSettings(concurrency=1, poll_seconds=0.1))
    asyncio.run(asyncio.wait_for(worker.run(stop), 30))
    assert ran == []
    row = (
        psycopg.connect(probe_db)
        .execute("select status, lease_owner, attempts from jobs where id = %s", (job_id,))
        .fetchone()
    )
    assert row == ("queued", None, 0)


def test_a_running_job_whose_lease_is_taken_is_cancelled_and_the_slot_goes_on(probe_db: str) -> None:
    cancelled: list[int] = []
    done: list[int] = []

    async def long(job: Job, context: JobContext) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(job.id)
            raise

    async def short(job: Job, context: JobContext) -> None:
        done.append(job.id)

    registry = Registry()
    registry.register("long", long, timeout_seconds=7200)
    registry.register("short", short)
    [long_id] = _enqueue(probe_db, JobSpec(kind="long"))
    settings = WorkerSettings(concurrency=1, poll_seconds=0.05, lease_seconds=1.5, rescue_seconds=60)
    worker = Worker(probe_db, registry, settings)

    async def main() -> None:
        stop = asyncio.Event()
        run = asyncio.create_task(worker.run(stop))
        try:
            while scalar(probe_db, "select status from jobs where id = %s", (long_id,)) != "running":
                await asyncio.sleep(0.05)
            # A rescue gave the job to another worker (as after a long pause of this one).
            with psycopg.connect(probe_db, autocommit=True) as conn:
                conn.execute("update jobs set lease_owner = 'someone-else' where id = %s", (long_id,))
            deadline = time.monotonic() + 5
            while not cancelled and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            [short_id] = await asyncio.to_thread(_enqueue, probe_db, JobSpec(kind="short"))
            deadline = time.monotonic() + 10
            while short_id not in done and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(run, 30)

    asyncio.run(main())
    assert cancelled == [long_id], "cancelled within a heartbeat of losing its lease"
    assert len(done) == 1, "the worker goes on running jobs"
    row = (
        psycopg.connect(probe_db)
        .execute("select status, lease_owner from jobs where id = %s", (long_id,))
        .fetchone()
    )
    assert row == ("running", "someone-else"), "the other worker's run is left alone"
