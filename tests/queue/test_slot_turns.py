"""A slot running jobs that never wait still lets the loop's other tasks run."""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq

from worker.handlers import default_registry
from worker.queue.jobs import Job
from worker.runtime.loop import run as run_loop
from worker.runtime.worker import Worker, WorkerSettings

JOBS = 20_000


def test_other_tasks_run_while_one_slot_works_through_jobs_that_never_wait() -> None:
    """20,000 no-op jobs through one slot (no database: a no-op job never asks for a
    connection and its completion is only queued): the slot turns the loop at least every
    half millisecond, so a task beside it (a claim, a heartbeat) runs again and again
    before the buffer is empty, not once at the end."""
    worker = Worker("postgresql://unused", default_registry(), WorkerSettings(concurrency=1, kinds=("noop",)))
    worker._pool = object()  # type: ignore[assignment]
    now = dt.datetime.now(dt.UTC)
    for i in range(JOBS):
        heapq.heappush(worker._buffer, (0, now, i, Job(i, "noop", None, {}, 0, 1, 5, now)))

    async def main() -> tuple[int, int]:
        turns_while_buffered = 0

        async def beside() -> None:
            nonlocal turns_while_buffered
            while worker._buffer:
                turns_while_buffered += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(beside())
        await asyncio.sleep(0)  # the task beside starts first
        worker._dispatch()
        while worker._inflight or worker._buffer:
            await asyncio.sleep(0.001)
        await task
        return turns_while_buffered, worker.processed

    turns, processed = run_loop(main())
    assert processed == JOBS
    # At about 4 µs a job the slot runs for tens of milliseconds: dozens of turns at the least.
    assert turns >= 10, turns
    # And it does not turn the loop after every job either.
    assert turns < JOBS // 2, turns
