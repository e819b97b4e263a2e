"""Claiming ahead: jobs claimed beyond the free slots keep their leases and go back on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from queue_support import run_worker, scalar

from worker.queue.jobs import Job, JobSpec
from worker.queue.manager import claim_jobs, enqueue_sync
from worker.queue.registry import Registry
from worker.runtime.worker import Worker, WorkerSettings


def _enqueue(url: str, specs: list[JobSpec]) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return enqueue_sync(conn, specs)


def test_settings_refuse_a_prefetch_out_of_range() -> None:
    with pytest.raises(ValueError, match="prefetch"):
        WorkerSettings(prefetch=-1)
    with pytest.raises(ValueError, match="prefetch"):
        WorkerSettings(prefetch=1001)
    assert WorkerSettings(prefetch=0).prefetch == 0


def test_jobs_claimed_ahead_are_handed_back_at_once_on_shutdown_their_attempt_not_counted(
    probe_db: str,
) -> None:
    quick = _enqueue(probe_db, [JobSpec("probe_effect", priority=10) for _ in range(20)])
    slow = _enqueue(probe_db, [JobSpec("probe_effect", {"sleep": 0.5}) for _ in range(6)])
    settings = WorkerSettings(
        concurrency=1,
        prefetch=4,
        prefetch_below_seconds=0.2,
        poll_seconds=0.1,
        lease_seconds=5,
        shutdown_grace_seconds=5,
    )
    seen_running: list[int] = []

    def a_slow_job_runs_with_others_claimed_ahead() -> bool:
        started = scalar(probe_db, "select count(*) from probe_runs where job_id = any (%s)", (slow,))
        running = int(scalar(probe_db, "select count(*) from jobs where status = 'running'"))
        seen_running.append(running)
        return bool(started) and running >= 2

    run_worker(probe_db, a_slow_job_runs_with_others_claimed_ahead, settings=settings)
    assert max(seen_running) >= 2, "jobs were claimed beyond the one slot"
    with psycopg.connect(probe_db) as conn:
        rows = {
            r[0]: r[1:] for r in conn.execute("select id, status, attempts, lease_owner from jobs").fetchall()
        }
        ran = {r[0] for r in conn.execute("select job_id from probe_runs")}
    assert all(rows[i][:2] == ("succeeded", 1) for i in quick)
    started = [i for i in slow if i in ran]
    assert started, "a slow job had started"
    for job_id in started:
        assert rows[job_id][0] == "succeeded", "the running job finished within the grace period"
    not_started = [i for i in slow if i not in ran]
    assert not_started, "some slow jobs were still waiting"
    for job_id in not_started:
        assert rows[job_id] == ("queued", 0, None), "handed back, lease released, attempt not counted"


def test_a_job_waiting_in_the_buffer_longer_than_a_lease_keeps_it_and_runs_once(probe_db: str) -> None:
    first = _enqueue(probe_db, [JobSpec("probe_effect", priority=10) for _ in range(10)])
    slow = _enqueue(probe_db, [JobSpec("probe_effect", {"sleep": 3}, priority=5)])
    behind = _enqueue(probe_db, [JobSpec("probe_effect") for _ in range(6)])
    ids = first + slow + behind
    settings = WorkerSettings(
        concurrency=1,
        prefetch=8,
        prefetch_below_seconds=0.2,
        poll_seconds=0.1,
        lease_seconds=1.5,  # the heartbeat runs every 0.5 s
        rescue_seconds=0.2,  # and a rescue would take any job whose lease ran out
    )
    buffered_while_slow: list[int] = []

    def all_done() -> bool:
        if scalar(probe_db, "select count(*) from probe_runs where job_id = %s and ended_at is null", slow):
            buffered_while_slow.append(
                int(scalar(probe_db, "select count(*) from jobs where status = 'running'")) - 1
            )
        return int(scalar(probe_db, "select count(*) from jobs where status = 'succeeded'")) == len(ids)

    run_worker(probe_db, all_done, settings=settings, timeout=60)
    assert buffered_while_slow and max(buffered_while_slow) >= 1, (
        "jobs waited in the buffer behind the slow one"
    )
    with psycopg.connect(probe_db) as conn:
        jobs = conn.execute("select attempts, last_error from jobs where id = any (%s)", (ids,)).fetchall()
        runs = conn.execute("select count(*), count(distinct job_id) from probe_runs").fetchone()
    assert jobs == [(1, None)] * len(ids), "no lease ran out: nothing was rescued or run twice"
    assert runs == (len(ids), len(ids))


def _worker(**settings: Any) -> Worker:
    return Worker("postgresql://unused", Registry(), WorkerSettings(**settings))


def _fill(worker: Worker, *, buffered: int, running: int) -> None:
    now = dt.datetime.now(dt.UTC)
    jobs = [Job(i, "noop", None, {}, 0, 1, 5, now) for i in range(buffered + running)]
    worker._buffer = [(0, now, job.id, job) for job in jobs[:buffered]]
    worker._inflight = {job.id: (job, None) for job in jobs[buffered:]}  # type: ignore[misc]


def test_claim_ahead_covers_a_claim_round_trip_at_the_slots_pace_within_bounds() -> None:
    worker = _worker(concurrency=4, prefetch=8)
    assert worker._ahead() == 8, "prefetch until the round trip and the pace are measured"
    worker._claim_round_trip = 0.002
    assert worker._ahead() == 8
    # Four slots each taking a job every 10 ms: 400 jobs/s, 3 ms of round trips: 1.2 jobs.
    worker._slot_period = 0.010
    assert worker._ahead() == 2
    worker._slot_period = 1.0  # slow jobs: never less than one
    assert worker._ahead() == 1
    worker._slot_period = 0.000_02  # no-op jobs: 600 jobs a round trip, held to 4 x prefetch
    assert worker._ahead() == 32
    never = _worker(concurrency=4, prefetch=0)
    never._claim_round_trip, never._slot_period, never._job_seconds = 0.002, 0.000_02, 0.001
    assert never._ahead() == 0, "prefetch 0: nothing is claimed ahead"
    _fill(never, buffered=0, running=4)
    assert never._claim_room() == 0


def test_claims_stay_moderate_and_come_back_to_back_while_the_slots_outpace_them() -> None:
    worker = _worker(concurrency=1, prefetch=8)
    worker._job_seconds = 0.001  # short jobs
    worker._claim_round_trip, worker._slot_period = 0.002, 0.000_02  # 32 ahead (the limit)
    _fill(worker, buffered=0, running=0)
    assert worker._claim_room() == 1 + 8, "an idle slot and at most prefetch ahead, not the whole 32"
    _fill(worker, buffered=20, running=1)
    assert worker._claim_room() == 8, "fewer than 32 buffered: claim again at once"
    _fill(worker, buffered=32, running=1)
    assert worker._claim_room() == 8
    _fill(worker, buffered=33, running=1)
    assert worker._claim_room() == 0, "enough buffered: no claim"


def test_long_jobs_are_claimed_only_for_idle_slots() -> None:
    worker = _worker(concurrency=4, prefetch=8)
    worker._job_seconds = 5.0
    worker._claim_round_trip, worker._slot_period = 0.002, 5.0
    _fill(worker, buffered=0, running=1)
    assert worker._claim_room() == 3
    _fill(worker, buffered=1, running=1)
    assert worker._claim_room() == 2
    _fill(worker, buffered=0, running=4)
    assert worker._claim_room() == 0


def test_a_drain_of_short_jobs_claims_in_moderate_batches_and_counts_them(probe_db: str) -> None:
    ids = _enqueue(probe_db, [JobSpec("noop") for _ in range(400)])
    settings = WorkerSettings(concurrency=2, prefetch=8, poll_seconds=0.1, lease_seconds=5)
    held: list[int] = []

    async def watch(worker: Worker) -> None:
        for _ in range(2000):  # what the worker holds ahead: buffered and asked for
            held.append(len(worker._buffer) + worker._claiming)
            if worker.processed == len(ids):
                return
            await asyncio.sleep(0.001)

    def all_done() -> bool:
        return int(scalar(probe_db, "select count(*) from jobs where status = 'succeeded'")) == len(ids)

    worker = run_worker(probe_db, all_done, settings=settings, during=watch)
    assert worker.processed == len(ids)
    # No claim takes more than the idle slots and prefetch ahead (2 + 8), so 400 jobs need
    # at least 40 claims; a claim starts only while at most 4 x prefetch are held ahead.
    assert worker.claims >= len(ids) // (2 + 8)
    assert held and 2 < max(held) <= 4 * 8 + 2 + 8, max(held)
    with psycopg.connect(probe_db) as conn:
        attempts = conn.execute("select attempts from jobs where id = any (%s)", (ids,)).fetchall()
    assert attempts == [(1,)] * len(ids), "each ran once"


def test_a_claimed_payload_reads_back_exactly_empty_or_not(probe_db: str) -> None:
    payloads: list[dict[str, Any]] = [
        {},
        {},
        {"export_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "week": "2026-11-23"},
        {"big": 123456789012345678901234567890, "nested": {"a": [1, 2.5, None, True]}, "text": "ça {}"},
    ]
    ids = _enqueue(probe_db, [JobSpec("noop", p) for p in payloads])

    async def claim() -> list[Job]:
        async with await psycopg.AsyncConnection.connect(probe_db, autocommit=True) as conn:
            return await claim_jobs(conn, owner="t", limit=10, lease_seconds=60)

    jobs = {job.id: job for job in asyncio.run(claim())}
    assert [jobs[i].payload for i in ids] == payloads
    assert type(jobs[ids[3]].payload["big"]) is int, "a large integer is not rounded through a float"
    jobs[ids[0]].payload["x"] = 1
    assert jobs[ids[1]].payload == {}, "each job's empty payload is a dict of its own"


def _hold_claims(
    worker: Worker, release: asyncio.Event, started: list[int], *, fault: Exception | None = None
) -> None:
    """Put in the worker's claim one that notes its size in ``started`` and comes back only
    once ``release`` is set, with ``fault`` (a fault of the worker's own) if given, as
    ``Worker._claim`` ends a claim."""

    async def held_claim(room: int) -> None:
        started.append(room)
        try:
            await release.wait()
            if fault is not None:
                worker._claim_error = fault
        finally:
            worker._claiming -= room
            worker._slot_freed.set()

    worker._claim = held_claim  # type: ignore[method-assign]


def _claims_started(*, short: bool) -> tuple[list[int], bool]:
    """Run the claim loop with claims that never come back until released: how many it
    started, and whether it waited for them once told to stop."""
    worker = _worker(concurrency=1, prefetch=8, poll_seconds=0.05)
    worker._job_seconds = 0.001 if short else 5.0
    worker._claim_round_trip, worker._slot_period = 0.002, 0.000_02
    started: list[int] = []

    async def scenario() -> bool:
        release = asyncio.Event()
        _hold_claims(worker, release, started)
        stop = asyncio.Event()
        claim_loop = asyncio.create_task(worker._claim_loop(stop))
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.sleep(0.1)
        waited = not claim_loop.done()
        release.set()
        await asyncio.wait_for(claim_loop, 5)
        return waited

    waited = asyncio.run(scenario())
    return started, waited


def test_four_claims_go_out_at_once_only_while_jobs_are_short_and_none_is_abandoned() -> None:
    started, waited = _claims_started(short=True)
    assert started == [1 + 8, 8, 8, 8], "more claims while the first are under way, four at most"
    assert waited, "the loop stopped only once its claims were back"
    started, waited = _claims_started(short=False)
    assert started == [1], "long jobs: one claim at a time"
    assert waited


class _FailingPool:
    """A pool whose every connection fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.asked = 0

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        self.asked += 1
        raise self.error
        yield  # pragma: no cover


def _claim_loop_with(error: Exception) -> tuple[_FailingPool, BaseException | None]:
    worker = _worker(concurrency=1, poll_seconds=0.05)
    pool = _FailingPool(error)
    worker._pool = pool  # type: ignore[assignment]

    async def scenario() -> BaseException | None:
        stop = asyncio.Event()
        claim_loop = asyncio.create_task(worker._claim_loop(stop))
        await asyncio.sleep(0.6)
        stop.set()
        try:
            await asyncio.wait_for(claim_loop, 5)
        except Exception as exc:
            return exc
        return None

    return pool, asyncio.run(scenario())


def test_an_unreachable_database_is_asked_again_every_quarter_second() -> None:
    pool, raised = _claim_loop_with(psycopg.OperationalError("connection refused"))
    assert raised is None, "an outage does not stop the worker"
    assert 2 <= pool.asked <= 4, pool.asked


def test_a_claim_that_fails_for_another_reason_stops_the_worker() -> None:
    pool, raised = _claim_loop_with(psycopg.errors.UndefinedTable("relation jobs does not exist"))
    assert isinstance(raised, psycopg.errors.UndefinedTable)
    assert pool.asked == 1


def test_a_claim_fault_while_the_loop_stops_is_not_swallowed() -> None:
    worker = _worker(concurrency=1, poll_seconds=0.05)

    async def scenario() -> None:
        release = asyncio.Event()
        _hold_claims(worker, release, [], fault=RuntimeError("a fault of the worker's own"))
        stop = asyncio.Event()
        claim_loop = asyncio.create_task(worker._claim_loop(stop))
        await asyncio.sleep(0.1)
        stop.set()
        release.set()
        await asyncio.wait_for(claim_loop, 5)

    with pytest.raises(RuntimeError, match="fault of the worker's own"):
        asyncio.run(scenario())
