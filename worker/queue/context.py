"""What a handler gets besides its job: connections, and the one way to commit effects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from worker.log import get_logger
from worker.queue import manager
from worker.queue.jobs import LEASE_LOST_SQLSTATE, Job, JobFinish

T = TypeVar("T")

log = get_logger("worker.queue")

# SQLSTATEs of a database that went away or is not back yet: the connection failed (08),
# the server is shutting down or starting (57P01-57P03).
_GONE_STATES = frozenset({"57P01", "57P02", "57P03"})
OUTAGE_PATIENCE_SECONDS = 330.0
_OUTAGE_POLL_SECONDS = 0.25


class LeaseLostError(Exception):
    """The attempt's lease expired and the job was rescued: its effects were rolled back."""


def is_connection_error(exc: BaseException) -> bool:
    """The database could not be reached (or went away mid-statement): not the job's fault."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in _GONE_STATES
    if isinstance(exc, psycopg.InterfaceError):
        return "closed" in str(exc)
    return False


class JobContext:
    """Per-attempt context.

    A handler reads through :meth:`connection` and writes through :meth:`complete`, whose
    transaction also marks the job succeeded, so the effects and the completion commit
    together or not at all. A handler that writes nothing simply returns, and the
    runtime completes the job (in batches).

    :meth:`outlast_outage` runs a step that touches the database again, unchanged, when
    the database was unreachable (for up to ``OUTAGE_PATIENCE_SECONDS``): an outage then
    costs the job neither an attempt nor the work it had already done, such as a model's
    answers waiting to be stored. Each step it runs must be one transaction or read-only.
    """

    def __init__(
        self,
        job: Job,
        pool: AsyncConnectionPool[Any],
        owner: str,
        *,
        outage_patience_seconds: float = OUTAGE_PATIENCE_SECONDS,
    ) -> None:
        self.job = job
        self.owner = owner
        self._pool = pool
        self.completed = False
        self.outage_patience_seconds = outage_patience_seconds

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """An autocommit connection for reads (or writes that need not be atomic)."""
        async with self._pool.connection() as conn:
            yield conn

    @asynccontextmanager
    async def complete(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A transaction for the job's effects that ends by finishing the job.

        Raises :class:`LeaseLostError` (after rolling everything back) when this worker
        no longer holds the attempt.
        """
        if self.completed:
            raise RuntimeError(f"job {self.job.id} is already complete")
        async with self._pool.connection() as conn, conn.transaction():
            yield conn
            if not await manager.finish_job(conn, self.job, owner=self.owner):
                raise LeaseLostError(f"job {self.job.id} attempt {self.job.attempt}: lease lost")
        self.completed = True

    @asynccontextmanager
    async def complete_in_statement(self) -> AsyncIterator[tuple[AsyncConnection[Any], JobFinish]]:
        """An autocommit connection and the job's :class:`JobFinish`, for a handler whose
        effects are one statement that also finishes the job (``finish.params()`` into its
        call of ``proxima_private.finish_job_in_statement``, as ``store_week`` does).

        A statement is atomic by itself: the effects and the completion still commit
        together, in one round trip instead of four (BEGIN, the effects, ``finish_job``,
        COMMIT). The handler must finish the job in that statement and say so
        (:meth:`mark_finished`); a lost lease raises :class:`LeaseLostError`, nothing written.
        """
        if self.completed:
            raise RuntimeError(f"job {self.job.id} is already complete")
        async with self._pool.connection() as conn:
            try:
                yield conn, JobFinish(self.job.id, self.owner, self.job.attempt)
            except psycopg.Error as exc:
                if exc.sqlstate == LEASE_LOST_SQLSTATE:
                    raise LeaseLostError(
                        f"job {self.job.id} attempt {self.job.attempt}: lease lost"
                    ) from None
                raise
        if not self.completed:
            raise RuntimeError(f"job {self.job.id}: the statement did not say it finished the job")

    def mark_finished(self) -> None:
        """The handler's statement finished the job (see :meth:`complete_in_statement`)."""
        self.completed = True

    async def outlast_outage(self, step: Callable[[], Awaitable[T]]) -> T:
        """``step()``, run again while the database is unreachable, until it answers."""
        return await outlast_outage(step, job_id=self.job.id, patience_seconds=self.outage_patience_seconds)


async def outlast_outage(
    step: Callable[[], Awaitable[T]], *, job_id: int, patience_seconds: float = OUTAGE_PATIENCE_SECONDS
) -> T:
    """Run ``step()``; while it fails because the database is unreachable, wait a quarter
    second and run it again, for up to ``patience_seconds``. Any other error, or the
    outage outlasting the patience, is raised."""
    deadline = time.monotonic() + patience_seconds
    waited = False
    while True:
        try:
            result = await step()
        except Exception as exc:
            if not is_connection_error(exc) or time.monotonic() >= deadline:
                raise
            if not waited:
                waited = True
                log.warning("database unreachable; the job waits for it", job_id=job_id)
            await asyncio.sleep(_OUTAGE_POLL_SECONDS)
            continue
        if waited:
            log.info("database back; the job goes on", job_id=job_id)
        return result
