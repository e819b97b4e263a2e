"""What a handler gets besides its job: connections, and the one way to commit effects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from worker.queue import manager
from worker.queue.jobs import Job


class LeaseLostError(Exception):
    """The attempt's lease expired and the job was rescued: its effects were rolled back."""


class JobContext:
    """Per-attempt context.

    A handler reads through :meth:`connection` and writes through :meth:`complete`, whose
    transaction also marks the job succeeded, so the effects and the completion commit
    together or not at all. A handler that writes nothing simply returns, and the
    runtime completes the job (in batches).
    """

    def __init__(self, job: Job, pool: AsyncConnectionPool[Any], owner: str) -> None:
        self.job = job
        self.owner = owner
        self._pool = pool
        self.completed = False

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
