"""Request slots: how many model requests a process has open at once, and who goes next.

A worker keeps more jobs running than it has request slots (a job also gathers, checks
and stores), so on a Monday a few hundred batch jobs can be waiting for a slot. A person
who asked for a refresh (job priority 10) should not wait behind them: a freed slot goes
to the waiting request of the highest job priority, first come first served within one
priority. The priority is the running job's, which the worker sets in
:data:`request_priority` for each job (0 outside a job).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from contextvars import ContextVar
from types import TracebackType

# The priority of the job a request is made for (``public.jobs.priority``, higher first).
request_priority: ContextVar[int] = ContextVar("request_priority", default=0)


class RequestSlots:
    """At most ``size`` holders at once (``async with slots:``); a freed slot is handed to
    the waiter of the highest :data:`request_priority`, the earliest of that priority."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("request slots need a size of at least 1")
        self._free = size
        # (-priority, arrival, future): a heap, so the next waiter is at [0]. A waiter that
        # was cancelled stays until it reaches the top, then is skipped.
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot (cancelled ones not yet skipped included)."""
        return len(self._waiting)

    async def __aenter__(self) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-request_priority.get(), next(self._arrivals), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # The slot was handed over just as the waiter was cancelled: pass it on.
                self._release()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        # Handed straight to the next waiter (the count of free slots does not move), so no
        # request that arrives meanwhile can take it first.
        while self._waiting:
            future = heapq.heappop(self._waiting)[2]
            if not future.done():
                future.set_result(None)
                return
        self._free += 1
