"""What a no-op job costs the worker's own Python, apart from PostgreSQL.

Ten figures, each the median of ``--rounds`` rounds, in µs of this process's CPU (one of the
whole machine's):

* the slot path a job: ``--jobs`` no-op jobs put in a worker's buffer and run by one slot
  (``Worker._dispatch`` and ``_run_slot``: the deadline of its kind's timeout, metrics, the completion
  queued for a batched finish), with no database at all;
* of which the job's metrics (``metrics.job_started`` and ``job_ended``), timed alone;
* a claimed row (as the driver returns it) made a ``Job`` (``Job.from_claim``), and the
  same row made a frozen dataclass of the same fields, for comparison;
* one statement's round trip over psycopg's async connection (``select 1``), on a private
  cluster (``LocalCluster.ephemeral()``, 127.0.0.1), and the same with its answer at least
  a millisecond later (``select pg_sleep(0.001)``, its round trip's wall time printed beside
  it, as a claim's answer comes under load; no rows to read), ``--statements`` / 4 of them a
  round;
* a new connection (opened with the cluster's SCRAM password exchange, one ``select 1``,
  closed), what a pool pays each time it grows: in this process, and on the whole machine
  (this process, PostgreSQL's fork of a backend and the backend's start: ``/proc/stat``, so
  run it on a quiet machine), ``--statements`` / 20 of them a round;
* one claim of ``--claim`` jobs (``manager.claim_jobs`` with a kinds filter, in autocommit,
  as a worker limited to ``noop`` sends it, its jobs left in the statement's order for the
  worker's heap), in a queue of no-op jobs, and the same claim sorted in claim order
  (``claim_jobs``' default for other callers).

They bound what the queue's drain can reach on the machine: ``bench/queue_throughput.py``
prints what 80% of the pgbench ceiling would leave the workers a job.

    flock /tmp/proxima-bench.lock .venv/bin/python bench/worker_overhead.py
    .venv/bin/python bench/worker_overhead.py --jobs 5000 --rounds 2     # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import heapq
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection
from queue_throughput import machine_ticks  # the machine's busy ticks, as the queue bench reads them

from worker import metrics
from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate_connection
from worker.handlers import default_registry
from worker.log import configure
from worker.queue import manager
from worker.queue.jobs import Job, JobSpec
from worker.runtime.loop import run as run_loop
from worker.runtime.worker import Worker, WorkerSettings

PUT_BACK = (
    "update public.jobs set status = 'queued', attempts = 0, lease_owner = null,"
    " lease_expires_at = null where id = any (%s)"
)


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def slot_path(jobs: int) -> float:
    """µs of CPU a no-op job through one slot, no database."""
    worker = Worker("postgresql://unused", default_registry(), WorkerSettings(concurrency=1, kinds=("noop",)))
    worker._pool = object()  # type: ignore[assignment]  # a no-op job never asks for a connection
    now = dt.datetime.now(dt.UTC)
    for i in range(jobs):
        heapq.heappush(worker._buffer, (0, now, i, Job(i, "noop", None, {}, 0, 1, 5, now)))
    started = time.process_time()
    worker._dispatch()
    while worker._inflight or worker._buffer:
        await asyncio.sleep(0.001)
    spent = time.process_time() - started
    if worker.processed != jobs:
        raise RuntimeError(f"{worker.processed} of {jobs} jobs ran")
    return 1e6 * spent / jobs


@dataclass(frozen=True)
class FrozenJob:
    """The claimed job as a frozen dataclass (what ``Job`` was), for comparison only."""

    id: int
    kind: str
    user_id: Any
    payload: dict[str, Any]
    priority: int
    attempt: int
    max_attempts: int
    run_at: dt.datetime


def rows_made_jobs(jobs: int) -> tuple[float, float]:
    """µs of CPU a claim's row (as the driver returns it) made a ``Job`` by
    ``Job.from_claim``, and the same row made a frozen dataclass of the same fields."""
    now = dt.datetime.now(dt.UTC)
    row = (1, "noop", None, "{}", 0, 1, 5, now)
    started = time.process_time()
    for _ in range(jobs):
        Job.from_claim(row)
    job = 1e6 * (time.process_time() - started) / jobs
    started = time.process_time()
    for _ in range(jobs):
        FrozenJob(*row[:3], {}, *row[4:])
    return job, 1e6 * (time.process_time() - started) / jobs


def job_metrics(jobs: int) -> float:
    """µs of CPU the metrics of one job take (``metrics.job_started`` and ``job_ended``)."""
    started = time.process_time()
    for _ in range(jobs):
        metrics.job_started()
        metrics.job_ended("noop", "succeeded", 0.0001)
    return 1e6 * (time.process_time() - started) / jobs


async def round_trips(url: str, count: int, statement: str = "select 1") -> tuple[float, float]:
    """µs of CPU a ``statement`` (``select 1`` unless told) over an async connection, and
    µs of wall time a round trip."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        started, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            cur = await conn.execute(statement.encode())
            await cur.fetchall()
        return 1e6 * (time.process_time() - started) / count, 1e6 * (time.perf_counter() - wall) / count


async def new_connections(url: str, count: int) -> tuple[float, float]:
    """µs of CPU a new connection costs (opened, one ``select 1``, closed): this process's,
    and the whole machine's."""
    started, machine = time.process_time(), machine_ticks()[0]
    for _ in range(count):
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("select 1")
    own = 1e6 * (time.process_time() - started) / count
    return own, 1e6 * (machine_ticks()[0] - machine) / os.sysconf("SC_CLK_TCK") / count


async def claims(url: str, count: int, size: int, *, ordered: bool = False) -> float:
    """µs of CPU a claim of ``size`` no-op jobs in autocommit, as the worker claims (each put
    back in the queue by an untimed statement, so the queue stays as it is); ``ordered``
    sorts its jobs in claim order, as ``claim_jobs`` does unless told not to."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        spent = 0.0
        for _ in range(count):
            started = time.process_time()
            jobs = await manager.claim_jobs(
                conn, owner="bench", limit=size, lease_seconds=60, kinds=("noop",), ordered=ordered
            )
            spent += time.process_time() - started
            if len(jobs) != size:
                raise RuntimeError(f"claimed {len(jobs)} of {size}")
            await conn.execute(PUT_BACK, ([job.id for job in jobs],))
        return 1e6 * spent / count


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=50_000, help="no-op jobs through the slot a round")
    parser.add_argument("--statements", type=int, default=2_000, help="round trips and claims a round")
    parser.add_argument("--claim", type=int, default=16, help="jobs a claim takes (default 16)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is reported")
    args = parser.parse_args()
    for name in ("jobs", "statements", "claim", "rounds"):
        if not 1 <= getattr(args, name) <= 1_000_000:
            parser.error(f"--{name} must be between 1 and 1000000")
    configure("WARNING")
    results: dict[str, list[float]] = {
        "slot": [],
        "metrics": [],
        "row": [],
        "frozen row": [],
        "select 1": [],
        "select after 1 ms": [],
        "its round trip": [],
        "connection": [],
        "connection, machine": [],
        "claim": [],
        "ordered claim": [],
    }
    with LocalCluster.ephemeral() as cluster:
        url = cluster.url()
        with psycopg.connect(url, autocommit=True) as conn:
            migrate_connection(conn)
            manager.enqueue_sync(conn, [JobSpec("noop") for _ in range(args.claim * 4)])
            conn.execute("vacuum analyze public.jobs")

        async def one_round(number: int) -> None:
            results["slot"].append(await slot_path(args.jobs))
            results["metrics"].append(job_metrics(args.jobs))
            made, frozen = rows_made_jobs(args.jobs)
            results["row"].append(made)
            results["frozen row"].append(frozen)
            results["select 1"].append((await round_trips(url, args.statements))[0])
            waited, wall = await round_trips(url, max(1, args.statements // 4), "select pg_sleep(0.001)")
            results["select after 1 ms"].append(waited)
            results["its round trip"].append(wall)
            own, machine = await new_connections(url, max(1, args.statements // 20))
            results["connection"].append(own)
            results["connection, machine"].append(machine)
            # The two claims take turns at going first, round by round.
            for ordered in (False, True) if number % 2 else (True, False):
                spent = await claims(url, args.statements, args.claim, ordered=ordered)
                results["ordered claim" if ordered else "claim"].append(spent)

        for number in range(1, args.rounds + 1):
            note(f"round {number}/{args.rounds}")
            run_loop(one_round(number))
    print(
        f"worker overhead, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"{platform.machine()}, Python {platform.python_version()}, median of {args.rounds} rounds"
    )
    print("command: bench/worker_overhead.py " + " ".join(sys.argv[1:]))
    rows: list[tuple[str, Any]] = [
        ("a no-op job through one slot, no database (µs CPU a job)", statistics.median(results["slot"])),
        ("of which its metrics, started and ended (µs CPU a job)", statistics.median(results["metrics"])),
        ("a claimed row made a Job (µs CPU a job)", statistics.median(results["row"])),
        ("the same row made a frozen dataclass (µs CPU a job)", statistics.median(results["frozen row"])),
        (
            "select 1 over psycopg's async connection (µs CPU a statement)",
            statistics.median(results["select 1"]),
        ),
        (
            "the same round trip, its answer a millisecond or more later (select pg_sleep(0.001); µs CPU a statement; "
            f"{statistics.median(results['its round trip']) / 1000:.1f} ms a round trip)",
            statistics.median(results["select after 1 ms"]),
        ),
        (
            "a new connection, opened, one select 1, closed (µs CPU in this process)",
            statistics.median(results["connection"]),
        ),
        (
            "the same, the whole machine's CPU (µs a connection)",
            statistics.median(results["connection, machine"]),
        ),
        (
            f"a claim of {args.claim} jobs, kinds filter (µs CPU a claim; a job: "
            f"{statistics.median(results['claim']) / args.claim:.1f})",
            statistics.median(results["claim"]),
        ),
        (
            "the same claim, its jobs sorted in claim order (µs CPU a claim)",
            statistics.median(results["ordered claim"]),
        ),
    ]
    for label, value in rows:
        print(f"| {label} | {value:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
