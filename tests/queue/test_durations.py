"""Durations the worker measures are finer than the event loop's clock.

uvloop's ``loop.time()`` moves in whole milliseconds; a job's duration, a claim's round trip
and a slot's period (which size the claim-ahead buffer and feed the job metrics) are read
from ``time.perf_counter()`` instead. The tests' worker runs on uvloop, as the service does
(``PROXIMA_EVENT_LOOP`` unset), where a loop-clock reading would fail them.
"""

from __future__ import annotations

import time

import psycopg
from queue_support import run_worker, scalar

from worker.queue.context import JobContext
from worker.queue.jobs import Job, JobSpec
from worker.queue.manager import enqueue_sync
from worker.queue.registry import Registry
from worker.runtime.worker import WorkerSettings


def _whole_milliseconds(seconds: float) -> bool:
    milliseconds = seconds * 1000
    return abs(milliseconds - round(milliseconds)) < 1e-6


async def _spin(job: Job, context: JobContext) -> None:
    """0.2 ms of work that never waits, as a short job's validation would be."""
    began = time.perf_counter()
    while time.perf_counter() - began < 0.0002:
        pass


def test_the_clock_check_tells_whole_milliseconds_from_finer_readings() -> None:
    assert _whole_milliseconds(0.0) and _whole_milliseconds(63082.637 - 63082.636)
    assert not _whole_milliseconds(0.000213) and not _whole_milliseconds(0.0014999)


def test_a_short_job_and_its_claim_are_timed_finer_than_a_millisecond(db_url: str) -> None:
    registry = Registry()
    registry.register("spin", _spin)
    with psycopg.connect(db_url, autocommit=True) as conn:
        enqueue_sync(conn, [JobSpec("spin")])
    worker = run_worker(
        db_url,
        lambda: scalar(db_url, "select count(*) from jobs where status = 'succeeded'") == 1,
        registry=registry,
        settings=WorkerSettings(concurrency=1, poll_seconds=0.05),
    )
    job_seconds, claim_seconds = worker._job_seconds, worker._claim_round_trip
    assert job_seconds is not None and claim_seconds is not None
    assert job_seconds >= 0.0002  # the job's own work at least
    assert not _whole_milliseconds(job_seconds)
    assert not _whole_milliseconds(claim_seconds)
