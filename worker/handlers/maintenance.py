"""Handlers that keep the system itself running."""

from __future__ import annotations

from worker.queue.context import JobContext
from worker.queue.jobs import Job


async def handle_noop(job: Job, context: JobContext) -> None:
    """Does nothing: for smoke tests and measuring the queue itself."""
