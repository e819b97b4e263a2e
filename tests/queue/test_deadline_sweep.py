"""A kind's timeout, kept by one deadline sweep instead of a timer a job."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from queue_support import run_worker, scalar

from worker.handlers import default_registry
from worker.queue.context import JobContext
from worker.queue.jobs import Job, JobSpec
from worker.queue.manager import enqueue_sync
from worker.queue.registry import Registry
from worker.queue.retry import RetryPolicy
from worker.runtime.worker import Worker, WorkerSettings, deadline_sweep_seconds

ONCE = RetryPolicy(max_attempts=1, base_seconds=0, cap_seconds=0)
SETTINGS = WorkerSettings(concurrency=1, poll_seconds=0.05, lease_seconds=10)


def _enqueue(url: str, *specs: JobSpec) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return enqueue_sync(conn, list(specs))


def _row(url: str, job_id: int) -> tuple[str, str | None]:
    with psycopg.connect(url) as conn:
        row = conn.execute("select status, last_error from jobs where id = %s", (job_id,)).fetchone()
    assert row is not None
    return row[0], row[1]


def _ended(url: str, *ids: int) -> bool:
    return bool(
        scalar(
            url,
            "select count(*) from jobs where id = any(%s) and status in ('succeeded', 'failed')",
            (list(ids),),
        )
        == len(ids)
    )


async def _handler_never_ends(job: Job, context: JobContext) -> None:
    await asyncio.sleep(3600)


@pytest.mark.parametrize(
    ("timeouts", "expected"),
    [
        ((0.5,), 0.025),  # a twentieth of the shortest
        ((0.5, 900.0), 0.025),
        ((0.05,), 0.01),  # never more often than every 10 ms
        ((60.0, 600.0), 1.0),  # never less often than every second
        ((), 1.0),  # no kind at all
    ],
)
def test_the_sweep_looks_every_twentieth_of_the_shortest_timeout_within_10_ms_and_1_s(
    timeouts: tuple[float, ...], expected: float
) -> None:
    registry = Registry()
    for number, seconds in enumerate(timeouts):
        registry.register(f"kind_{number}", _handler_never_ends, timeout_seconds=seconds)
    assert deadline_sweep_seconds(registry) == pytest.approx(expected)


def test_the_service_registry_is_swept_every_second() -> None:
    assert deadline_sweep_seconds(default_registry()) == 1.0


def test_a_handler_past_its_timeout_is_cancelled_after_it_not_before_and_fails_with_the_reason(
    db_url: str,
) -> None:
    cancelled_after: list[float] = []

    async def hangs(job: Job, context: JobContext) -> None:
        began = time.monotonic()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled_after.append(time.monotonic() - began)
            raise

    registry = Registry()
    registry.register("hangs", hangs, retry=ONCE, timeout_seconds=0.3)
    [job_id] = _enqueue(db_url, JobSpec("hangs", max_attempts=1))
    run_worker(db_url, lambda: _ended(db_url, job_id), registry=registry, settings=SETTINGS)
    assert _row(db_url, job_id) == ("failed", "TimeoutError: hangs timed out after 0.3 s")
    [after] = cancelled_after
    assert 0.3 <= after < 5.0


def test_each_kind_keeps_its_own_timeout_beside_a_shorter_one(db_url: str) -> None:
    async def takes_a_while(job: Job, context: JobContext) -> None:
        await asyncio.sleep(0.8)

    registry = Registry()
    registry.register("hangs", _handler_never_ends, retry=ONCE, timeout_seconds=0.2)
    registry.register("slow", takes_a_while, retry=ONCE, timeout_seconds=30)
    hung, slow = _enqueue(db_url, JobSpec("hangs", max_attempts=1), JobSpec("slow", max_attempts=1))
    settings = WorkerSettings(concurrency=2, poll_seconds=0.05, lease_seconds=10)
    run_worker(db_url, lambda: _ended(db_url, hung, slow), registry=registry, settings=settings)
    assert _row(db_url, hung) == ("failed", "TimeoutError: hangs timed out after 0.2 s")
    assert _row(db_url, slow) == ("succeeded", None)


def test_a_handler_that_swallows_its_timeout_ends_as_it_returned_and_its_slot_runs_on(
    db_url: str,
) -> None:
    """As under ``asyncio.timeout``: the cancellation is taken back, so the next job on the
    same slot (concurrency 1) is not cancelled by what was meant for the first."""
    seen: list[str] = []

    async def stubborn(job: Job, context: JobContext) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
        await asyncio.sleep(0.05)  # a cancellation still pending would land here

    async def next_job(job: Job, context: JobContext) -> None:
        try:
            await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            seen.append("next cancelled")
            raise
        seen.append("next ran")

    registry = Registry()
    registry.register("stubborn", stubborn, retry=ONCE, timeout_seconds=0.2)
    registry.register("next_job", next_job, retry=ONCE, timeout_seconds=30)
    first, second = _enqueue(
        db_url, JobSpec("stubborn", priority=1, max_attempts=1), JobSpec("next_job", max_attempts=1)
    )
    run_worker(db_url, lambda: _ended(db_url, first, second), registry=registry, settings=SETTINGS)
    assert seen == ["cancelled", "next ran"]
    assert _row(db_url, first) == ("succeeded", None)
    assert _row(db_url, second) == ("succeeded", None)


def test_no_deadline_and_no_sweep_stay_behind_once_jobs_end(db_url: str) -> None:
    async def quick(job: Job, context: JobContext) -> None:
        await asyncio.sleep(0)

    registry = Registry()
    registry.register("quick", quick, timeout_seconds=0.2)  # swept every 10 ms
    ids = _enqueue(db_url, *(JobSpec("quick") for _ in range(20)))
    state: dict[str, object] = {}

    async def during(worker: Worker) -> None:
        while worker.processed < len(ids):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # ten sweep intervals
        state["deadlines"], state["sweep"] = dict(worker._deadlines), worker._sweep

    run_worker(db_url, lambda: _ended(db_url, *ids), registry=registry, during=during)
    assert state == {"deadlines": {}, "sweep": None}


def test_a_timeout_beside_another_cancellation_is_not_taken_back() -> None:
    """A shutdown or a lost lease that cancelled the job too keeps the cancellation: the
    job is then handed back or counted lost, not failed for its timeout."""
    worker = Worker("postgresql://unused", Registry(), SETTINGS)

    async def cancelled(times: int) -> tuple[bool, bool]:
        expired: list[bool] = []

        async def job() -> None:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                worker._timed_out.add(7)  # as the sweep marks the job it cancels
                expired.append(worker._expired(7))
                if not expired[-1]:
                    raise

        task = asyncio.create_task(job())
        await asyncio.sleep(0)
        for _ in range(times):
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert 7 not in worker._timed_out
        return expired[0], task.cancelled()

    assert asyncio.run(cancelled(1)) == (True, False)  # the sweep's alone: taken back
    assert asyncio.run(cancelled(2)) == (False, True)  # another one too: it stands


def test_a_job_the_sweep_did_not_cancel_is_not_expired() -> None:
    worker = Worker("postgresql://unused", Registry(), SETTINGS)

    async def check() -> bool:
        return worker._expired(7)

    assert asyncio.run(check()) is False
