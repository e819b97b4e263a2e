"""Handlers for queue tests, loaded into real worker processes with ``--plugin queue_probe``
(``tests/support`` on ``PYTHONPATH``).

Each run is logged in ``probe_runs`` (outside the job's transaction, so even a killed
attempt leaves its trace) and each effect in ``probe_effects`` (inside it, so only a
completed attempt leaves one). ``probe_tables`` creates both.
"""

from __future__ import annotations

import asyncio
from typing import Any

from worker.queue.context import JobContext
from worker.queue.jobs import Job
from worker.queue.registry import Registry
from worker.queue.retry import PermanentError, RetryableError, RetryPolicy

PROBE_TABLES = """
create table probe_runs (
  job_id bigint not null,
  attempt integer not null,
  worker text not null,
  started_at timestamptz not null default clock_timestamp(),
  ended_at timestamptz
);
create table probe_effects (
  job_id bigint not null,
  attempt integer not null,
  worker text not null,
  created_at timestamptz not null default clock_timestamp()
);
"""


async def _log_start(job: Job, context: JobContext) -> None:
    async with context.connection() as conn:
        await conn.execute(
            "insert into probe_runs (job_id, attempt, worker) values (%s, %s, %s)",
            (job.id, job.attempt, context.owner),
        )


async def _log_end(job: Job, context: JobContext) -> None:
    async with context.connection() as conn:
        await conn.execute(
            "update probe_runs set ended_at = clock_timestamp() "
            "where job_id = %s and attempt = %s and worker = %s",
            (job.id, job.attempt, context.owner),
        )


async def _effect(conn: Any, job: Job, context: JobContext) -> None:
    await conn.execute(
        "insert into probe_effects (job_id, attempt, worker) values (%s, %s, %s)",
        (job.id, job.attempt, context.owner),
    )


async def handle_effect(job: Job, context: JobContext) -> None:
    """Writes one effect atomically with its completion; sleeps ``sleep`` seconds first."""
    await _log_start(job, context)
    await asyncio.sleep(float(job.payload.get("sleep", 0)))
    async with context.complete() as conn:
        await _effect(conn, job, context)
    await _log_end(job, context)


async def handle_block(job: Job, context: JobContext) -> None:
    """On its first attempt writes its effect, then blocks inside the open transaction."""
    await _log_start(job, context)
    async with context.complete() as conn:
        await _effect(conn, job, context)
        if job.attempt == 1:
            await asyncio.sleep(3600)
    await _log_end(job, context)


async def handle_flaky(job: Job, context: JobContext) -> None:
    """Fails (retryably) until attempt ``succeed_on``, then succeeds with an effect."""
    await _log_start(job, context)
    if job.attempt < int(job.payload["succeed_on"]):
        raise RetryableError(f"flaky failure on attempt {job.attempt}")
    async with context.complete() as conn:
        await _effect(conn, job, context)


async def handle_always_fails(job: Job, context: JobContext) -> None:
    await _log_start(job, context)
    raise RetryableError("the peer is still down")


async def handle_permanent(job: Job, context: JobContext) -> None:
    await _log_start(job, context)
    raise PermanentError("DeepSeek: insufficient balance (402)")


async def handle_raises(job: Job, context: JobContext) -> None:
    await _log_start(job, context)
    raise RuntimeError("handler bug")


async def handle_needs_payload(job: Job, context: JobContext) -> None:
    await _log_start(job, context)
    count = int(job.payload["count"])  # KeyError / ValueError on a malformed payload
    async with context.complete() as conn:
        for _ in range(count):
            await _effect(conn, job, context)


async def handle_rate_limited(job: Job, context: JobContext) -> None:
    await _log_start(job, context)
    raise RetryableError("429 from the model", retry_after=float(job.payload["retry_after"]))


async def handle_hangs(job: Job, context: JobContext) -> None:
    await _log_start(job, context)
    await asyncio.sleep(3600)


FAST_RETRY = RetryPolicy(max_attempts=5, base_seconds=0.2, cap_seconds=1.0)


def register(registry: Registry) -> None:
    registry.register("probe_effect", handle_effect)
    registry.register("probe_block", handle_block)
    registry.register("probe_flaky", handle_flaky, retry=FAST_RETRY)
    registry.register("probe_always_fails", handle_always_fails, retry=FAST_RETRY)
    registry.register("probe_permanent", handle_permanent, retry=FAST_RETRY)
    registry.register("probe_raises", handle_raises, retry=FAST_RETRY)
    registry.register("probe_needs_payload", handle_needs_payload, retry=FAST_RETRY)
    registry.register("probe_rate_limited", handle_rate_limited, retry=FAST_RETRY)
    registry.register("probe_hangs", handle_hangs, retry=FAST_RETRY, timeout_seconds=0.5)
