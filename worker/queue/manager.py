"""Every database operation on jobs, each one named query from ``queries.sql``.

Functions take an open connection; whoever calls them decides the transaction. Those
that end an attempt (``finish_job``, ``retry_job``, ``fail_job``) return whether this
worker still held the attempt: ``False`` means the lease was lost and the job belongs to
someone else now.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection, Connection, sql
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from worker.db.queries import load_queries
from worker.queue.jobs import DEFAULT_MAX_ATTEMPTS, LEASE_LOST_SQLSTATE, Job, JobSpec

CHANNEL = "proxima_jobs"


def query(name: str) -> sql.SQL:
    return load_queries("worker.queue", "queries.sql")[name]


def _enqueue_params(specs: Sequence[JobSpec]) -> dict[str, Any]:
    return {
        "kinds": [s.kind for s in specs],
        "user_ids": [s.user_id for s in specs],
        "payloads": [Jsonb(s.payload) for s in specs],
        "priorities": [s.priority for s in specs],
        "run_ats": [s.run_at for s in specs],
        "max_attempts": [s.max_attempts for s in specs],
        "dedupe_keys": [s.dedupe_key for s in specs],
    }


async def enqueue(conn: AsyncConnection[Any], specs: Sequence[JobSpec]) -> list[int]:
    """Insert jobs in one statement; returns the ids of those not deduplicated away."""
    if not specs:
        return []
    cur = await conn.execute(query("enqueue_jobs"), _enqueue_params(specs))
    return [int(row[0]) for row in await cur.fetchall()]


def enqueue_sync(conn: Connection[Any], specs: Sequence[JobSpec]) -> list[int]:
    """The same for synchronous callers (the command line, tests)."""
    if not specs:
        return []
    cur = conn.execute(query("enqueue_jobs"), _enqueue_params(specs))
    return [int(row[0]) for row in cur.fetchall()]


def claim_statement(
    *, owner: str, limit: int, lease_seconds: float, kinds: Sequence[str] | None = None
) -> tuple[sql.Composed, dict[str, Any]]:
    """The claim statement and its parameters: all kinds, or only ``kinds`` (deduplicated)."""
    params: dict[str, Any] = {"owner": owner, "lease_seconds": lease_seconds, "kinds": None}
    name = "claim_jobs"
    if kinds:
        params["kinds"] = sorted(set(kinds))
        name = "claim_jobs_of_kinds"
    return query(name).format(limit=sql.Literal(int(limit))), params


@functools.lru_cache(maxsize=1024)
def bound_claim(*, owner: str, limit: int, lease_seconds: float, kinds: tuple[str, ...] | None) -> bytes:
    """:func:`claim_statement` with its values written in as literals (quoted by psycopg), as
    the bytes the driver sends.

    A worker's claims differ only by their limit, so each one is the same text for the
    driver to prepare once and for PostgreSQL to plan once, sent with nothing to bind: the
    statement's formatting and its parameters' adaptation were a sixth of the client's CPU
    for a claim of 16 (206 against 173 µs, ``bench/worker_overhead.py``), and PostgreSQL's
    CPU a job of a no-op drain fell 25-32% with it (bench/results/queue.md). Cached per
    value; a worker uses a few dozen limits."""
    statement, params = claim_statement(owner=owner, limit=limit, lease_seconds=lease_seconds, kinds=kinds)
    text = statement.as_bytes(None)
    for name, value in params.items():
        text = text.replace(f"%({name})s".encode(), sql.Literal(value).as_bytes(None))
    if b"%" in text:  # a placeholder left, or a percent sign the driver would no longer unescape
        raise ValueError("the claim statement holds a percent sign that is not one of its parameters")
    return text


async def claim_jobs(
    conn: AsyncConnection[Any],
    *,
    owner: str,
    limit: int,
    lease_seconds: float,
    kinds: Sequence[str] | None = None,
    ordered: bool = True,
) -> list[Job]:
    """Claim up to ``limit`` due jobs (most urgent first) under a lease for ``owner``.

    With ``kinds``, only jobs of those kinds, each kind read from its own index range
    (``claim_jobs_of_kinds``), so queued jobs of other kinds cost nothing. The statement
    returns its rows in no particular order; ``ordered=False`` leaves them so, for a caller
    that orders them itself (the worker keeps claimed jobs in a heap).
    """
    statement = bound_claim(
        owner=owner,
        limit=int(limit),
        lease_seconds=float(lease_seconds),
        kinds=tuple(kinds) if kinds else None,
    )
    async with conn.cursor(row_factory=tuple_row) as cur:
        await cur.execute(statement)
        jobs = [Job.from_claim(row) for row in await cur.fetchall()]
    if ordered:
        jobs.sort(key=lambda j: (-j.priority, j.run_at, j.id))
    return jobs


async def extend_leases(
    conn: AsyncConnection[Any], *, owner: str, ids: Sequence[int], lease_seconds: float
) -> set[int]:
    """Extend this worker's leases; returns the ids whose lease was lost to a rescue."""
    if not ids:
        return set()
    cur = await conn.execute(
        query("extend_leases"), {"owner": owner, "ids": list(ids), "lease_seconds": lease_seconds}
    )
    return {int(row[0]) for row in await cur.fetchall()}


async def finish_job(conn: AsyncConnection[Any], job: Job, *, owner: str) -> bool:
    """Mark the attempt succeeded; False when it no longer holds the lease (inside a
    transaction, that transaction is then aborted: roll it back)."""
    try:
        await conn.execute(query("finish_job"), {"id": job.id, "owner": owner, "attempt": job.attempt})
    except psycopg.Error as exc:
        if exc.sqlstate == LEASE_LOST_SQLSTATE:
            return False
        raise
    return True


async def finish_jobs(conn: AsyncConnection[Any], jobs: Sequence[Job], *, owner: str) -> set[int]:
    if not jobs:
        return set()
    cur = await conn.execute(
        query("finish_jobs"),
        {
            "ids": [j.id for j in jobs],
            "attempts": Jsonb({str(j.id): j.attempt for j in jobs}),
            "owner": owner,
        },
    )
    return {int(row[0]) for row in await cur.fetchall()}


async def retry_job(
    conn: AsyncConnection[Any], job: Job, *, owner: str, delay_seconds: float, error: str
) -> bool:
    cur = await conn.execute(
        query("retry_job"),
        {
            "id": job.id,
            "owner": owner,
            "attempt": job.attempt,
            "delay_seconds": delay_seconds,
            "error": error,
        },
    )
    return cur.rowcount == 1


async def fail_job(conn: AsyncConnection[Any], job: Job, *, owner: str, error: str) -> bool:
    cur = await conn.execute(
        query("fail_job"), {"id": job.id, "owner": owner, "attempt": job.attempt, "error": error}
    )
    return cur.rowcount == 1


async def release_jobs(conn: AsyncConnection[Any], *, owner: str, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    cur = await conn.execute(query("release_jobs"), {"owner": owner, "ids": list(ids)})
    return {int(row[0]) for row in await cur.fetchall()}


@dataclass(frozen=True)
class Rescued:
    id: int
    kind: str
    status: str


async def rescue_expired_jobs(
    conn: AsyncConnection[Any],
    *,
    limit: int = 1000,
    grace_seconds: float = 0.0,
    attempt_limits: Mapping[str, int] | None = None,
) -> list[Rescued]:
    """Requeue (or fail) jobs whose lease ran out; none within ``grace_seconds`` of the
    database's start, when live workers are still renewing the leases an outage let lapse.
    ``attempt_limits``: each kind's attempt policy, for rows left at the column's default."""
    params = {
        "limit": limit,
        "grace_seconds": grace_seconds,
        "limits": Jsonb(dict(attempt_limits or {})),
        "default_attempts": DEFAULT_MAX_ATTEMPTS,
    }
    cur = await conn.execute(query("rescue_expired_jobs"), params)
    return [Rescued(int(r[0]), str(r[1]), str(r[2])) for r in await cur.fetchall()]


def cancel_jobs(conn: Connection[Any], *, ids: Sequence[int] = (), kind: str | None = None) -> list[int]:
    cur = conn.execute(query("cancel_jobs"), {"ids": list(ids), "kind": kind})
    return [int(row[0]) for row in cur.fetchall()]


def retry_failed_jobs(
    conn: Connection[Any], *, kind: str | None = None, ids: Sequence[int] | None = None
) -> list[int]:
    """Failed jobs back to the queue (of one kind, or these ids), in one transaction that
    first waits for a running weekly enqueue: a failed person-week's job is either revived
    here or added again there, never both."""
    with conn.transaction():
        conn.execute(query("wait_for_weekly_enqueue"))
        cur = conn.execute(query("retry_failed_jobs"), {"kind": kind, "ids": list(ids) if ids else None})
        return [int(row[0]) for row in cur.fetchall()]


@dataclass(frozen=True)
class Depth:
    kind: str
    status: str
    jobs: int
    oldest_due_seconds: float | None


@dataclass(frozen=True)
class Failure:
    id: int
    kind: str
    attempts: int
    max_attempts: int
    last_error: str | None
    updated_at: dt.datetime


def queue_depth(conn: Connection[Any]) -> list[Depth]:
    rows = conn.execute(query("queue_depth")).fetchall()
    return [Depth(r[0], r[1], int(r[2]), float(r[3]) if r[3] is not None else None) for r in rows]


def recent_failures(conn: Connection[Any], *, limit: int = 10) -> list[Failure]:
    rows = conn.execute(query("recent_failures"), {"limit": limit}).fetchall()
    return [Failure(int(r[0]), r[1], int(r[2]), int(r[3]), r[4], r[5]) for r in rows]


def get_job(conn: Connection[Any], job_id: int) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query("get_job"), {"id": job_id})
        return cur.fetchone()
