"""Running queued work to completion inside a command (the demo, ``python -m worker export``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from worker.queue.registry import Registry
from worker.runtime.loop import run
from worker.runtime.worker import Worker, WorkerSettings


def run_until(
    conninfo: str,
    registry: Registry,
    done: Callable[[], bool],
    *,
    kinds: tuple[str, ...] | None = None,
    concurrency: int = 3,
    timeout: float = 600.0,
    on_tick: Callable[[], None] | None = None,
) -> bool:
    """Run a worker until ``done()`` holds (polled), or ``timeout`` seconds pass.

    Returns whether ``done()`` held. The worker stops gracefully either way.
    """

    async def main() -> bool:
        stop = asyncio.Event()
        worker = Worker(
            conninfo, registry, WorkerSettings(concurrency=concurrency, kinds=kinds, poll_seconds=0.2)
        )
        task = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + timeout
        finished = False
        try:
            while time.monotonic() < deadline:
                if on_tick is not None:
                    await asyncio.to_thread(on_tick)
                if await asyncio.to_thread(done):
                    finished = True
                    break
                if task.done():
                    task.result()
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)
        return finished

    return run(main())  # on the worker's loop (PROXIMA_EVENT_LOOP)
