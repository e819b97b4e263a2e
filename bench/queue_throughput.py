"""Queue throughput: our worker beside procrastinate and a raw-SQL (pgbench) ceiling, in one run.

Every scenario drains the same number of no-op jobs on one private PostgreSQL cluster
(``LocalCluster.ephemeral()``, fsync off, 127.0.0.1 only) and reports:

* enqueue jobs/s: the jobs inserted in batches (``--batch``, default 1000 a statement)
  inside one transaction, timed from the first insert to the commit, no worker running;
* drain jobs/s: after ``vacuum analyze`` of the filled table (so the planner sees the
  queue, as for the ceiling below), the workers start; the clock runs from the first
  claim (the queued count drops) until nothing is queued or running (probes every 10 ms: of
  the job enqueued last by its primary key, and only once it has succeeded of every job
  still queued or running), so neither process start-up nor pool start-up is counted
  (worker processes start behind a lock on the jobs table, lifted once every one of them
  waits on it with its first claim, so none is still starting while the others drain; their
  pools then grow during the drain, which ``--warm-up-jobs N`` moves before the clock: the
  processes first drain N jobs together, are paused while the measured jobs are enqueued
  and analyzed, and resumed together); the connections the workers opened while the clock
  ran are counted (the database's client backends at the end that were not there at its
  start) and printed with each attempt;
  the in-process worker settles its heap as ``python -m worker run`` does (``settle_heap``:
  the heap frozen, young collections once 10,000 containers were made), and that threshold
  stays for procrastinate's run after it in the same process;
* the same two figures for procrastinate (``PsycopgConnector``, its own schema in a
  separate database, a no-op task, ``batch_defer_async`` and its worker at the same
  concurrency and number of processes, pool sized like ours);
* the pgbench ceiling, the best of two raw-SQL runs at the same client count
  (concurrency x processes), each over a table pre-filled with as many queued jobs:
  per job, the bare claim of one job then its finish, two transactions per job; and
  batched, a claim of N jobs then the finish of those N (``finish_jobs``), two
  transactions per N jobs, where N is the number of jobs our worker claimed a statement
  on average in the same attempt, rounded up (in-process from the worker, in processes
  from their "worker stopped" lines; ``--ceiling-batch`` overrides it). Both are reported
  as jobs/s. When our claims averaged more than the slots away from REFERENCE_BATCH (32, the
  worker's claim size until 4 December 2026), the batched ceiling also runs at 32 and the better
  of the two counts: at four clients claims of 127 cost PostgreSQL 0.065 ms a job against
  0.037-0.061 for 32 (BENCHMARKS.md, 4 December 2026), so the worker's claims of 128 would
  otherwise be read against a weaker ceiling.

Every measurement gets a fresh database cloned from a migrated template. ``--long``
adds a drain of two minutes at concurrency 4 that reports jobs/s in the first and last
10 seconds. ``--stale-stats`` analyzes the tables before the enqueue instead (the
statistics a bulk enqueue meets in a table last analyzed while nearly empty). On a shared
machine, ``--repeat N`` runs every measurement N times, interleaved, and reports the best;
each attempt runs our drain, then the batched ceiling, then the per-job one, then
procrastinate, and the summary also gives each attempt's drain over that attempt's ceiling
(measured seconds apart), their median with a 95% interval of it (distribution-free, from
six attempts: target 3 read from every attempt, met, missed or undecided), and the batched
ceiling against itself from one attempt to the next, the noise any single reading carries
(BENCHMARKS.md, "Target 3 read from every attempt"). The CPU table's "other load" column
shows how much else was running.

    .venv/bin/python bench/queue_throughput.py                      # the default suite
    .venv/bin/python bench/queue_throughput.py --jobs 2000 --concurrency 4   # smoke run
    .venv/bin/python bench/queue_throughput.py --long --markdown --repeat 3   # as in BENCHMARKS.md

``--statements`` preloads ``pg_stat_statements`` and prints, after each of our drains, the
server time of each statement the drain ran, a job (stderr): what our claims, finishes and
the harness's own probes cost PostgreSQL.

Progress goes to stderr; the tables go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import cProfile
import dataclasses
import datetime as dt
import io
import itertools
import json
import logging
import math
import os
import platform
import pstats
import re
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg
from arguments import count_between
from psycopg import AsyncConnection, sql
from weekly_run import BenchCluster

from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate_connection
from worker.handlers import default_registry
from worker.log import configure as configure_logging
from worker.queue import manager
from worker.queue.jobs import JobSpec
from worker.runtime.loop import event_loop_from_env
from worker.runtime.loop import run as run_loop
from worker.runtime.worker import Worker, WorkerSettings

try:
    import procrastinate
    from procrastinate import App, PsycopgConnector
except ImportError:  # an optional bench dependency; its columns are left empty without it
    procrastinate = None  # type: ignore[assignment]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.2  # the worker's fallback poll; both systems also LISTEN
PROBE_SECONDS = 0.01  # how often the harness checks whether a drain is over
FALLBACK_AHEAD = 16  # the batched ceiling's N beyond the slots when our claims were not counted
REFERENCE_BATCH = 32  # the worker's claim size until 4 December 2026; see reference_batch
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
PROCRASTINATE_TASK = "bench_noop"
PROCRASTINATE_URL_ENV = "BENCH_PROCRASTINATE_URL"
GATE_APPLICATION = "bench-worker"
OUR_TEMPLATE = "bench_tpl_ours"
PROCRASTINATE_TEMPLATE = "bench_tpl_procrastinate"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WARM_UP_JOBS = 0  # the multi-process scenario starts cold unless --warm-up-jobs says otherwise


@dataclass(frozen=True)
class SystemQueries:
    """How the harness watches one system's jobs table (each an index probe)."""

    table: str
    queued: str  # jobs not yet claimed
    pending: str  # true while any job is queued or running
    succeeded: str
    # Whether the job enqueued last has succeeded: one probe of the primary key. Both
    # systems claim in id order here (one priority, one run_at), so until it has, the
    # drain is not over and the costlier ``pending`` probe is not run.
    last_done: str


OURS = SystemQueries(
    table="jobs",
    queued="select count(*) from public.jobs where status = 'queued'",
    pending=(
        "select exists (select 1 from public.jobs where status = 'queued')"
        " or exists (select 1 from public.jobs where status = 'running')"
    ),
    succeeded="select count(*) from public.jobs where status = 'succeeded'",
    last_done="select status = 'succeeded' from public.jobs order by id desc limit 1",
)
PROCRASTINATE = SystemQueries(
    table="procrastinate_jobs",
    queued="select count(*) from procrastinate_jobs where status = 'todo'",
    pending=(
        "select exists (select 1 from procrastinate_jobs"
        " where status = any (array['todo', 'doing']::procrastinate_job_status[]))"
    ),
    succeeded="select count(*) from procrastinate_jobs where status = 'succeeded'",
    last_done="select status = 'succeeded' from procrastinate_jobs order by id desc limit 1",
)

# The claim as claim_jobs in worker/queue/queries.sql does it: the kinds that have queued
# jobs found by skipping through jobs_next_by_kind_idx, each kind's range walked in claim
# order with skip locked, the heads merged; {limit} jobs.
PGBENCH_CLAIM = """\
with recursive queued_kinds(kind) as (
  (select q.kind from public.jobs q where q.status = 'queued' order by q.kind limit 1)
  union all
  select (select q.kind from public.jobs q where q.status = 'queued' and q.kind > k.kind order by q.kind limit 1)
    from queued_kinds k where k.kind is not null
), next as (
  select c.id from queued_kinds k
   cross join lateral (
     select q.id, q.priority, q.run_at from public.jobs q
      where q.status = 'queued' and q.kind = k.kind and q.run_at <= now()
      order by q.priority desc, q.run_at, q.id
      limit {limit}
        for update skip locked) c
   where k.kind is not null
   order by c.priority desc, c.run_at, c.id
   limit {limit}
)"""

# The bare claim and finish of one job, as two autocommit transactions: the claim above
# with limit 1, the finish as finish_job.
PGBENCH_SCRIPT = (
    PGBENCH_CLAIM.format(limit=1)
    + """
update public.jobs j
   set status = 'running', attempts = j.attempts + 1, lease_owner = 'pgbench',
       lease_expires_at = now() + interval '60 seconds', updated_at = now()
  from next where j.id = next.id
returning j.id \\gset
update public.jobs
   set status = 'succeeded', finished_at = now(), updated_at = now(),
       lease_expires_at = null, last_error = null
 where id = :id and lease_owner = 'pgbench' and attempts = 1 and status = 'running';
"""
)


# The batched ceiling: claim N jobs in one transaction (the claim above with limit N; the
# ids come back as one array), then finish those N in one transaction, each found by its
# primary key as finish_jobs does (every attempt here is the first: no map of attempts).
PGBENCH_BATCH_SCRIPT = (
    PGBENCH_CLAIM.replace("{limit}", "{batch}")
    + """, claimed as (
  update public.jobs j
     set status = 'running', attempts = j.attempts + 1, lease_owner = 'pgbench',
         lease_expires_at = now() + interval '60 seconds', updated_at = now()
    from next where j.id = next.id
  returning j.id
)
select array_agg(id) as ids from claimed \\gset
update public.jobs j
   set status = 'succeeded', finished_at = now(), updated_at = now(),
       lease_expires_at = null, last_error = null
 where j.id = any(:ids::bigint[]) and j.lease_owner = 'pgbench' and j.attempts = 1
   and (j.status = 'running') is true;
"""
)


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- measurements --------------------------------------------------------------------------


@dataclass(frozen=True)
class Drain:
    """One enqueue-then-drain of ``jobs`` jobs by one system."""

    jobs: int
    enqueue_s: float
    drain_s: float
    cpu: CpuSplit  # over the drain
    claims: int | None = None  # claim statements that returned jobs (our worker only)
    claim_s: float | None = None  # their round trips, summed (our in-process worker only)
    warm_jobs: int = 0  # jobs the processes drained before, to warm up (see Subprocesses.warm_up)
    # Connections to the database opened while the clock ran (backends that were not there
    # when it started): a pool that grows during the drain pays for them there, where
    # pgbench opens its own before its clock.
    opened: int | None = None
    clock: tuple[float, float] | None = None  # the clock's start and end (time.perf_counter)

    @property
    def mean_claim(self) -> float | None:
        """Jobs per claim statement, over the whole run (start-up and warm-up included)."""
        return (self.jobs + self.warm_jobs) / self.claims if self.claims else None

    @property
    def enqueue_rate(self) -> float:
        return self.jobs / self.enqueue_s

    @property
    def drain_rate(self) -> float:
        return self.jobs / self.drain_s


@dataclass(frozen=True)
class Ceiling:
    clients: int
    jobs: int
    tps: float  # jobs/s: pgbench's transactions/s (script runs) times jobs per run
    seconds: float  # the whole pgbench run, connections included
    cpu: CpuSplit
    batch: int = 1  # jobs claimed and finished per script run


@dataclass
class Row:
    scenario: str
    concurrency: int
    processes: int
    ours: Drain
    procrastinate: Drain | None
    per_job: Ceiling | None
    batched: Ceiling | None = None
    # Each attempt's drain over the best ceiling of the same attempt, measured back to back
    # (see paired_ratios): a phase of the machine then weighs on both sides of one ratio.
    paired: tuple[float, ...] = ()
    # Each attempt's batched ceiling, jobs/s, in attempt order (see ceiling_drift).
    batched_by_attempt: tuple[float, ...] = ()
    # The connections our workers opened during each attempt's drain (Drain.opened).
    opened_by_attempt: tuple[int | None, ...] = ()

    @property
    def ceiling(self) -> Ceiling | None:
        """The best of the per-job and the batched raw-SQL runs."""
        runs = [c for c in (self.per_job, self.batched) if c is not None]
        return max(runs, key=lambda c: c.tps) if runs else None

    @property
    def vs_procrastinate(self) -> float | None:
        return self.ours.drain_rate / self.procrastinate.drain_rate if self.procrastinate else None

    @property
    def vs_ceiling(self) -> float | None:
        return self.ours.drain_rate / self.ceiling.tps if self.ceiling else None


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free interval for the median of what ``values`` sample (the order
    statistics x(k) and x(n-k+1) with the largest k whose binomial tails leave at least
    ``confidence`` between them); None with too few values for one (fewer than 6 at 95%).
    Nothing is assumed of the noise's shape: on a shared machine a reading's noise is
    skewed by the slow seconds that hit one side of a ratio."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    n = len(values)
    tail = (1 - confidence) / 2
    k, below = 0, 0.0  # below: P(Binomial(n, 1/2) <= k - 1)
    while k < n // 2 and below + math.comb(n, k) / 2**n <= tail:
        below += math.comb(n, k) / 2**n
        k += 1
    if k == 0:
        return None
    ordered = sorted(values)
    return ordered[k - 1], ordered[n - k]


def ceiling_drift(tps: Sequence[float]) -> tuple[float, ...]:
    """The batched ceiling against itself: each attempt's over the attempt before, seconds to
    a minute apart on the same machine. Their spread is a single reading's noise, which any
    one drain-over-ceiling ratio carries as well."""
    return tuple(now / before for before, now in itertools.pairwise(tps))


def paired_ratios(ours: Sequence[Drain], ceilings: Sequence[float]) -> tuple[float, ...]:
    """Attempt by attempt, our drain over the best ceiling of the same attempt (jobs/s: the
    better of its per-job and batched runs, or the per-job run alone when no batched one
    ran), in attempt order. The best-of figures compare the best drain with the best
    ceiling, which may come from different attempts; on a machine whose speed drifts over
    minutes these ratios, each taken seconds apart, do not."""
    if len(ceilings) != len(ours):
        raise ValueError("one ceiling per attempt is needed to pair them")
    return tuple(drain.drain_rate / tps for drain, tps in zip(ours, ceilings, strict=True))


@dataclass(frozen=True)
class Sample:
    """One second of the long run."""

    elapsed: float
    processed: int  # jobs the worker has run so far
    autovacuums: int  # autovacuums of public.jobs finished so far
    dead_rows: int  # n_dead_tup of public.jobs
    busy_cores: float  # machine-wide, over the second before
    other_cores: float  # of which processes outside this benchmark


@dataclass
class LongRun:
    concurrency: int
    jobs: int
    enqueue_s: float
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    left_queued: int = 0
    table_stats: dict[str, Any] = field(default_factory=dict)

    def _at(self, t: float) -> Sample:
        return min(self.samples, key=lambda s: abs(s.elapsed - t))

    def rate_between(self, start: float, end: float) -> float:
        a, b = self._at(start), self._at(end)
        return (b.processed - a.processed) / (b.elapsed - a.elapsed) if b.elapsed > a.elapsed else 0.0

    @property
    def elapsed(self) -> float:
        return self.samples[-1].elapsed if self.samples else 0.0

    @property
    def first_10s(self) -> float:
        return self.rate_between(0.0, 10.0)

    @property
    def last_10s(self) -> float:
        return self.rate_between(self.elapsed - 10.0, self.elapsed)

    @property
    def overall(self) -> float:
        return self.samples[-1].processed / self.elapsed if self.elapsed else 0.0

    def intervals(self, width: float = 10.0) -> list[tuple[float, int, int, float, float]]:
        """Per ``width`` s: (jobs/s, autovacuums finished, dead rows at the end, busy cores, other load)."""
        out = []
        for i in range(int(self.elapsed // width)):
            inside = [s for s in self.samples if i * width < s.elapsed <= (i + 1) * width + 0.5]
            before = self._at(i * width)
            out.append(
                (
                    self.rate_between(i * width, (i + 1) * width),
                    (inside[-1].autovacuums - before.autovacuums) if inside else 0,
                    inside[-1].dead_rows if inside else 0,
                    sum(s.busy_cores for s in inside) / len(inside) if inside else 0.0,
                    sum(s.other_cores for s in inside) / len(inside) if inside else 0.0,
                )
            )
        return out


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat. Busy is what this
    machine ran (user, nice, system, irq, softirq); idle, I/O wait and steal (the time the
    hypervisor gave to other machines) count in the total only."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    busy = sum(fields[i] for i in (0, 1, 2, 5, 6) if i < len(fields))
    return busy, sum(fields[:8])


def busy_cores_between(before: tuple[int, int], after: tuple[int, int]) -> float:
    busy, total = after[0] - before[0], after[1] - before[1]
    return (os.cpu_count() or 1) * busy / total if total else 0.0


@dataclass(frozen=True)
class CpuSnapshot:
    """Machine ticks and the CPU seconds of every process, from /proc; with each process's
    time spent runnable but waiting for a core (its main thread's run-queue wait, from
    ``/proc/<pid>/schedstat``; absent where the kernel does not keep it)."""

    ticks: tuple[int, int]
    at: float
    processes: dict[int, tuple[int, str, int, float]]  # pid: (parent pid, command, start time, CPU seconds)
    waits: dict[int, float] = field(default_factory=dict)  # pid: seconds waited for a core

    @classmethod
    def take(cls) -> CpuSnapshot:
        processes: dict[int, tuple[int, str, int, float]] = {}
        waits: dict[int, float] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    stat = f.read()
            except OSError:
                continue  # gone meanwhile
            head, _, tail = stat.rpartition(")")
            fields = tail.split()
            comm = head.partition("(")[2]
            cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
            processes[int(entry.name)] = (int(fields[1]), comm, int(fields[19]), cpu)
            with (
                contextlib.suppress(OSError, ValueError, IndexError),
                open(f"/proc/{entry.name}/schedstat") as f,
            ):
                waits[int(entry.name)] = int(f.read().split()[1]) / 1e9
        return cls(machine_ticks(), time.perf_counter(), processes, waits)


@dataclass(frozen=True)
class CpuSplit:
    """Where the CPU went between two snapshots, in seconds (``busy_cores`` averages the machine)."""

    seconds: float
    busy_cores: float
    postgres_s: float  # our cluster's server processes
    bench_s: float  # this process and its other children: the workers under test, or pgbench
    other_s: float  # every other process on the machine (other people's load)
    # Seconds the bench's processes and our cluster's spent runnable but waiting for a core
    # (None where processes ended in between, as pgbench's: their waits are gone with them).
    bench_wait_s: float | None = None
    postgres_wait_s: float | None = None

    @classmethod
    def between(cls, a: CpuSnapshot, b: CpuSnapshot, *, extra_bench_s: float = 0.0) -> CpuSplit:
        ours = {os.getpid()}
        grew = True
        while grew:  # descendants of this process: the cluster, worker processes, pgbench
            grew = False
            for pid, (ppid, *_) in b.processes.items():
                if ppid in ours and pid not in ours:
                    ours.add(pid)
                    grew = True
        postgres = bench = other = 0.0
        waited = {"postgres": 0.0, "bench": 0.0}
        for pid, (_, comm, started, cpu) in b.processes.items():
            before = a.processes.get(pid)
            same = before is not None and before[2] == started
            delta = cpu - before[3] if before and same else cpu
            side = "other" if pid not in ours else "postgres" if comm == "postgres" else "bench"
            if side == "other":
                other += delta
            elif side == "postgres":
                postgres += delta
            else:
                bench += delta
            if side != "other" and pid in b.waits:
                waited[side] += b.waits[pid] - (a.waits.get(pid, 0.0) if same else 0.0)
        seconds = b.at - a.at
        busy = busy_cores_between(a.ticks, b.ticks)
        if extra_bench_s:  # processes that ended in between (pgbench and its backends): infer PostgreSQL
            bench += extra_bench_s
            postgres = max(0.0, busy * seconds - bench - other)
        # Waits are known only when every process was there to read (none ended in between)
        # and the kernel keeps schedstat.
        known = b.waits and not extra_bench_s
        waits = (waited["bench"], waited["postgres"]) if known else (None, None)
        return cls(seconds, busy, postgres, bench, other, *waits)

    @property
    def other_cores(self) -> float:
        return self.other_s / self.seconds if self.seconds else 0.0

    def waiting(self) -> str:
        """How many of the bench's processes, then of PostgreSQL's, were on average runnable
        but waiting for a core: a worker that shares two cores with the backends it wakes
        waits behind them."""
        if self.bench_wait_s is None or self.postgres_wait_s is None or not self.seconds:
            return "n/a"
        return f"{self.bench_wait_s / self.seconds:.2f}, {self.postgres_wait_s / self.seconds:.2f}"


# -- the cluster and its databases -----------------------------------------------------------


class Bench:
    """The cluster, the migrated templates, and fresh databases cloned from them."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.cluster.url("postgres"), autocommit=True)

    def server_version(self) -> str:
        with self.admin() as conn:
            row = conn.execute("show server_version").fetchone()
        return str(row[0]) if row else "?"

    def prepare_templates(self, with_procrastinate: bool) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(OUR_TEMPLATE)))
        with psycopg.connect(self.cluster.url(OUR_TEMPLATE), autocommit=True) as conn:
            migrate_connection(conn)
        if with_procrastinate:
            with self.admin() as conn:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(PROCRASTINATE_TEMPLATE)))
            app = procrastinate_app(self.cluster.url(PROCRASTINATE_TEMPLATE), max_size=2)[0]
            with app.open():
                app.schema_manager.apply_schema()

    def fresh(self, template: str, label: str) -> str:
        name = f"bench_{label}_{secrets.token_hex(3)}"
        with self.admin() as conn:
            conn.execute(
                sql.SQL("create database {} template {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        return name

    def drop(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))

    def url(self, name: str) -> str:
        return self.cluster.url(name)


def vacuum_analyze(url: str, table: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("vacuum analyze {}").format(sql.Identifier(table)))


# -- workers under test ------------------------------------------------------------------------


class WorkerGroup(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class OurWorkerInProcess:
    """``Worker.run`` as a task of this process's event loop."""

    def __init__(self, url: str, concurrency: int, *, settle_heap: bool = True) -> None:
        settings = WorkerSettings(concurrency=concurrency, kinds=("noop",), poll_seconds=POLL_SECONDS)
        # Its heap settled as `python -m worker run` settles its own (``settle_heap``); a test
        # process leaves its own heap alone.
        self.worker = Worker(url, default_registry(), settings, settle_heap=settle_heap)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.worker.run(self._stop), name="bench-worker")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, STOP_TIMEOUT_S)


class Timeline:
    """What an in-process drain of our worker did around its clock (``--timeline``).

    While :meth:`recording`, the queue's ``claim_jobs`` and ``finish_jobs`` (which the worker
    calls through :mod:`worker.queue.manager`) are wrapped: each claim's sending and return, its
    jobs, and how many jobs were buffered and running when it was sent; each batched
    completion's return and its jobs. :func:`measure` records its clock. :meth:`lines` then
    says where the clock started and ended against the first claim and the last completion,
    what was claimed and completed in each tenth of it, and what a claim was sent beside.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        # (sent, returned, jobs, buffered when sent, running when sent), perf_counter seconds
        self.claims: list[tuple[float, float, int, int, int]] = []
        self.completions: list[tuple[float, int]] = []  # (returned, jobs)
        self.clock: tuple[float, float] | None = None

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        claim, finish = manager.claim_jobs, manager.finish_jobs
        worker = self.worker

        async def claim_jobs(*args: Any, **kwargs: Any) -> Any:
            buffered, running = len(worker._buffer), len(worker._inflight)
            sent = time.perf_counter()
            jobs = await claim(*args, **kwargs)
            self.claims.append((sent, time.perf_counter(), len(jobs), buffered, running))
            return jobs

        async def finish_jobs(conn: Any, jobs: Any, **kwargs: Any) -> Any:
            done = await finish(conn, jobs, **kwargs)
            self.completions.append((time.perf_counter(), len(jobs)))
            return done

        manager.claim_jobs, manager.finish_jobs = claim_jobs, finish_jobs  # type: ignore[assignment]
        try:
            yield
        finally:
            manager.claim_jobs, manager.finish_jobs = claim, finish  # type: ignore[assignment]

    def per_tenth(self, events: Sequence[tuple[float, int]]) -> list[int]:
        """Jobs of ``events`` (time, jobs) in each tenth of the clock."""
        assert self.clock is not None
        t0, t1 = self.clock
        tenths = [0] * 10
        for at, jobs in events:
            if t0 <= at < t1:
                tenths[min(9, int(10 * (at - t0) / (t1 - t0)))] += jobs
        return tenths

    def under_way(self) -> list[int]:
        """For each claim, how many other claims were under way when it was sent."""
        sent = sorted(c[0] for c in self.claims)
        returned = sorted(c[1] for c in self.claims)
        return [bisect.bisect_left(sent, c[0]) - bisect.bisect_right(returned, c[0]) for c in self.claims]

    def lines(self) -> list[str]:
        if self.clock is None or not self.claims or not self.completions:
            return ["timeline: nothing recorded"]
        t0, t1 = self.clock
        ms = 1000
        lead = ms * (min(c[0] for c in self.claims) - t0)
        last = max(at for at, _ in self.completions)
        lag = ms * (t1 - last)
        last_claim = max((c[1] for c in self.claims if c[2]), default=last)  # that brought jobs
        tail = ms * (last - last_claim)
        after = sum(n for at, n in self.completions if at > last_claim)
        in_clock = [c for c in self.claims if t0 <= c[0] < t1]
        claimed = self.per_tenth([(c[1], c[2]) for c in self.claims])
        completed = self.per_tenth(self.completions)
        jobs = sum(n for _, n in self.completions)
        out = [
            f"timeline: clock {ms * (t1 - t0):.1f} ms; the first claim was sent {lead:+.1f} ms from its"
            f" start, the last completion returned {lag:.1f} ms before its end",
            "timeline: jobs claimed in each tenth of the clock: " + " / ".join(map(str, claimed)),
            "timeline: jobs completed in each tenth of the clock: " + " / ".join(map(str, completed)),
            f"timeline: {len(self.claims)} claims, {len(self.completions)} completions of"
            f" {jobs / len(self.completions):.0f} jobs on average; the last completion returned"
            f" {tail:.1f} ms after the last claim that brought jobs, with {after} jobs",
        ]
        if in_clock:
            others = self.under_way()
            during = [others[i] for i, c in enumerate(self.claims) if t0 <= c[0] < t1]
            out.append(
                "timeline: when a claim was sent during the clock (medians): "
                f"{statistics.median(c[3] for c in in_clock):g} jobs buffered, "
                f"{statistics.median(c[4] for c in in_clock):g} running, "
                f"{statistics.median(during):g} other claims under way"
            )
        return out


class ProcrastinateInProcess:
    """procrastinate's worker as a task of this process's event loop (its app already open)."""

    def __init__(self, app: Any, concurrency: int) -> None:
        self.app = app
        self.concurrency = concurrency
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(
            self.app.run_worker_async(
                concurrency=self.concurrency,
                wait=True,
                install_signal_handlers=False,
                fetch_job_polling_interval=POLL_SECONDS,
                listen_notify=True,
            ),
            name="bench-procrastinate",
        )

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()  # procrastinate turns this into a graceful stop
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, STOP_TIMEOUT_S)


class Subprocesses:
    """``count`` worker processes, each stopped with SIGTERM.

    They start behind a lock on the jobs table (``table``), lifted once every one of them
    waits on it with its first claim, so they begin the drain together: a process still
    starting while the others drain would count its start-up as drain CPU and take cores
    from them.

    :meth:`warm_up` instead has them drain some jobs first, so that each one's connection
    pool has grown to what a drain needs, as pgbench opens its connections before its clock
    runs; they are then paused (SIGSTOP) until :meth:`start` resumes them all (SIGCONT)."""

    def __init__(
        self, argv: list[str], env: dict[str, str], count: int, log_dir: Path, *, url_env: str, table: str
    ) -> None:
        self.argv = argv
        self.env = env
        self.count = count
        self.log_dir = log_dir
        # The variable holding the database URL: each process's gets an application_name
        # of its own, by which the start gate tells them apart.
        self.url_env = url_env
        self.table = table
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.paused = False

    def application(self, number: int) -> str:
        return f"{GATE_APPLICATION}-{number}"

    async def start(self) -> None:
        if self.paused:
            self._signal(signal.SIGCONT)
            self.paused = False
            return
        await self._start_together()

    async def warm_up(
        self, enqueue: Callable[[], Awaitable[float]], queries: SystemQueries, timeout: float
    ) -> None:
        """Start the processes together on the jobs ``enqueue`` adds, wait until they have run
        them all, then pause them (:meth:`start` resumes them)."""
        try:
            await enqueue()
            await self._start_together()
            async with await AsyncConnection.connect(self.env[self.url_env], autocommit=True) as conn:
                await wait_drained(conn, queries, timeout, self)
        except BaseException:
            await self.stop()
            raise
        self._signal(signal.SIGSTOP)
        self.paused = True

    def _signal(self, number: signal.Signals) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(number)

    async def _start_together(self) -> None:
        url = self.env[self.url_env]
        async with await AsyncConnection.connect(url) as gate:
            await gate.execute(f"lock table {self.table} in access exclusive mode".encode())
            try:
                self._spawn()
                await self._wait_all_waiting(url, READY_TIMEOUT_S)
            except BaseException:
                await self.stop()
                raise
            await gate.commit()

    async def _wait_all_waiting(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with await AsyncConnection.connect(url, autocommit=True) as watch:
            while True:
                cur = await watch.execute(
                    "select count(distinct a.application_name) from pg_locks l"
                    " join pg_stat_activity a on a.pid = l.pid"
                    " where l.relation = %s::regclass and not l.granted and a.application_name = any (%s)",
                    (self.table, [self.application(i) for i in range(self.count)]),
                )
                row = await cur.fetchone()
                if row and int(row[0]) >= self.count:
                    return
                self.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"the worker processes were not all waiting to claim within {timeout:.0f} s"
                    )
                await asyncio.sleep(PROBE_SECONDS)

    def _spawn(self) -> None:
        for i in range(self.count):
            self.logs.append(self.log_dir / f"worker-{i}-{secrets.token_hex(2)}.log")
            url = self.env[self.url_env]
            env = {
                **self.env,
                self.url_env: f"{url}{'&' if '?' in url else '?'}application_name={self.application(i)}",
            }
            log = open(self.logs[-1], "wb")  # noqa: SIM115
            try:
                self.processes.append(
                    subprocess.Popen(
                        self.argv,
                        env=env,
                        cwd=PROJECT_ROOT,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            finally:
                log.close()

    async def stop(self) -> None:
        if self.paused:  # a stopped process acts on SIGTERM only once it runs again
            self._signal(signal.SIGCONT)
            self.paused = False
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                await asyncio.to_thread(process.wait, STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        failed = [p.returncode for p in self.processes if p.returncode not in (0, -signal.SIGTERM)]
        if failed:
            raise RuntimeError(f"worker processes exited with {failed}: {self._log_tail()}")

    def claims(self) -> int | None:
        """The claim statements the processes made, from their "worker stopped" lines."""
        total, found = 0, 0
        for path in self.logs:
            with contextlib.suppress(OSError):
                for line in path.read_text(errors="replace").splitlines():
                    with contextlib.suppress(ValueError):
                        entry = json.loads(line)
                        if isinstance(entry, dict) and entry.get("event") == "worker stopped":
                            total += int(entry.get("claims", 0))
                            found += 1
        return total if found == len(self.logs) and total else None

    def check_alive(self) -> None:
        dead = [p.returncode for p in self.processes if p.poll() is not None]
        if dead:
            raise RuntimeError(f"a worker process exited early ({dead}): {self._log_tail()}")

    def _log_tail(self) -> str:
        tails = []
        for path in self.logs:
            with contextlib.suppress(OSError):
                tails.append(" | ".join(path.read_text(errors="replace").strip().splitlines()[-3:]))
        return " || ".join(tails) or "(no output)"


async def _scalar(conn: AsyncConnection[Any], query: str) -> Any:
    cur = await conn.execute(query.encode())
    row = await cur.fetchone()
    return row[0] if row else None


async def wait_started(
    conn: AsyncConnection[Any], queries: SystemQueries, jobs: int, timeout: float, group: WorkerGroup
) -> None:
    """Return as soon as a worker has claimed a job (fewer than ``jobs`` still queued),
    probing every PROBE_SECONDS over ``conn`` (in autocommit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(await _scalar(conn, queries.queued)) < jobs:
            return
        if isinstance(group, Subprocesses):
            group.check_alive()
        await asyncio.sleep(PROBE_SECONDS)
    raise TimeoutError(f"no job was claimed within {timeout:.0f} s of starting the workers")


# The client backends of the database (the probe's own included), by process id.
BACKENDS = (
    "select coalesce(array_agg(pid), '{}') from pg_stat_activity"
    " where datname = current_database() and backend_type = 'client backend'"
)


async def wait_drained(
    conn: AsyncConnection[Any], queries: SystemQueries, timeout: float, group: WorkerGroup
) -> None:
    """Until nothing is queued or running, probing every PROBE_SECONDS over ``conn`` (in
    autocommit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The pending probe walks the index entries the drain has left dead behind it,
        # PostgreSQL's time that the pgbench ceiling does not spend: it runs only once
        # the last job is done.
        if await _scalar(conn, queries.last_done) and not await _scalar(conn, queries.pending):
            return
        if isinstance(group, Subprocesses):
            group.check_alive()
        await asyncio.sleep(PROBE_SECONDS)
    raise TimeoutError(f"the queue was not drained after {timeout:.0f} s")


async def measure(
    url: str,
    group: WorkerGroup,
    enqueue: Callable[[int], Awaitable[float]],
    queries: SystemQueries,
    *,
    jobs: int,
    timeout: float,
    stale_stats: bool = False,
    profile: cProfile.Profile | None = None,
    before_start: Callable[[], None] | None = None,
    warm_jobs: int = 0,
    timeline: Timeline | None = None,
) -> Drain:
    """Enqueue ``jobs`` (timed, ``enqueue(n)`` adds n), ``vacuum analyze``, start the workers,
    time from first claim to empty queue. With ``warm_jobs``, worker processes first run that
    many (:meth:`Subprocesses.warm_up`); in-process workers are never warmed up."""
    warm = 0
    if warm_jobs and isinstance(group, Subprocesses):
        warm = warm_jobs
        await group.warm_up(lambda: enqueue(warm), queries, timeout)
    try:
        if stale_stats:
            # the statistics of an empty table, as a bulk enqueue meets them
            vacuum_analyze(url, queries.table)
        enqueue_s = await enqueue(jobs)
        if not stale_stats:
            vacuum_analyze(url, queries.table)  # as the pgbench ceiling's pre-filled table
        if before_start is not None:
            before_start()
    except BaseException:
        if warm:  # the warmed-up processes are running (paused): stop them
            await group.stop()
        raise
    with timeline.recording() if timeline is not None else contextlib.nullcontext():
        drain = await _timed_drain(
            url, group, queries, jobs=jobs, timeout=timeout, profile=profile, warm=warm
        )
    drain = dataclasses.replace(drain, enqueue_s=enqueue_s)
    if timeline is not None:
        timeline.clock = drain.clock
    return drain


async def _timed_drain(
    url: str,
    group: WorkerGroup,
    queries: SystemQueries,
    *,
    jobs: int,
    timeout: float,
    profile: cProfile.Profile | None,
    warm: int,
) -> Drain:
    await group.start()
    try:
        # The drain's probe connection is open before the clock starts: the backends seen
        # then and at the end tell the connections the workers opened during the drain.
        async with await AsyncConnection.connect(url, autocommit=True) as watch:
            await wait_started(watch, queries, jobs, READY_TIMEOUT_S, group)
            before = set(await _scalar(watch, BACKENDS))
            snap0, t0 = CpuSnapshot.take(), time.perf_counter()
            if profile is not None:
                profile.enable()
            try:
                await wait_drained(watch, queries, timeout, group)
            finally:
                if profile is not None:
                    profile.disable()
            t1, snap1 = time.perf_counter(), CpuSnapshot.take()
            opened = len(set(await _scalar(watch, BACKENDS)) - before)
    finally:
        await group.stop()
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        done = int(await _scalar(conn, queries.succeeded))
    if done != jobs + warm:
        raise RuntimeError(f"{done - warm} of {jobs} jobs succeeded")
    return Drain(
        jobs, 0.0, t1 - t0, CpuSplit.between(snap0, snap1), warm_jobs=warm, opened=opened, clock=(t0, t1)
    )


# -- our queue -----------------------------------------------------------------------------------


def reset_statements(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create extension if not exists pg_stat_statements")
        conn.execute("select pg_stat_statements_reset()")


def statement_lines(url: str, jobs: int) -> list[str]:
    """This database's statements since the reset, by server time: calls, rows, µs a job."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "select regexp_replace(s.query, '\\s+', ' ', 'g'), s.calls, s.rows, s.total_exec_time"
            "  from pg_stat_statements s join pg_database d on d.oid = s.dbid"
            " where d.datname = current_database() and s.query not like '%pg_stat_statements%'"
            " order by s.total_exec_time desc limit 8"
        ).fetchall()
    lines = ["  statements of the drain, server time (pg_stat_statements):"]
    for text, calls, rows, total_ms in found:
        lines.append(
            f"    {1000 * total_ms / jobs:7.1f} µs a job  {calls:6d} calls  {rows:7d} rows  {str(text)[:90]}"
        )
    return lines


def batches(jobs: int, batch: int) -> list[int]:
    return [min(batch, jobs - start) for start in range(0, jobs, batch)]


async def enqueue_ours(url: str, jobs: int, batch: int) -> float:
    """All jobs in one transaction, ``batch`` per statement; seconds until the commit returned."""
    async with await AsyncConnection.connect(url) as conn:
        t0 = time.perf_counter()
        for size in batches(jobs, batch):
            await manager.enqueue(conn, [JobSpec(kind="noop") for _ in range(size)])
        await conn.commit()
        return time.perf_counter() - t0


async def run_ours(
    bench: Bench,
    args: argparse.Namespace,
    concurrency: int,
    processes: int,
    log_dir: Path,
    *,
    profile: cProfile.Profile | None = None,
) -> Drain:
    db = bench.fresh(OUR_TEMPLATE, "ours")
    try:
        url = bench.url(db)
        group: WorkerGroup
        timeline: Timeline | None = None
        if processes == 1:
            group = OurWorkerInProcess(url, concurrency)
            timeline = Timeline(group.worker) if args.timeline else None
        else:
            argv = [sys.executable, "-m", "worker", "run", "--concurrency", str(concurrency)]
            argv += [
                "--kinds",
                "noop",
                "--no-schedule",
                "--poll",
                str(POLL_SECONDS),
                "--log-level",
                "INFO",  # a handful of lines, the last one with the worker's claim count
            ]
            env = {**os.environ, "DATABASE_URL": url}
            group = Subprocesses(argv, env, processes, log_dir, url_env="DATABASE_URL", table=OURS.table)
        drain = await measure(
            url,
            group,
            lambda count: enqueue_ours(url, count, args.batch),
            OURS,
            jobs=args.jobs,
            timeout=args.timeout,
            stale_stats=args.stale_stats,
            profile=profile,
            before_start=(lambda: reset_statements(url)) if args.statements else None,
            warm_jobs=args.warm_up_jobs,
            timeline=timeline,
        )
        if timeline is not None:
            for line in timeline.lines():
                note(line)
        if args.statements:
            for line in statement_lines(url, args.jobs):
                print(line, file=sys.stderr)
        if isinstance(group, OurWorkerInProcess):
            drain = dataclasses.replace(drain, claims=group.worker.claims, claim_s=group.worker.claim_seconds)
        elif isinstance(group, Subprocesses):
            drain = dataclasses.replace(drain, claims=group.claims())
        return drain
    finally:
        bench.drop(db)


# -- procrastinate ---------------------------------------------------------------------------------


async def _procrastinate_noop() -> None:
    return None


def procrastinate_app(url: str, max_size: int) -> tuple[Any, Any]:
    """An app on ``url`` with the no-op task; the pool is sized like our worker's."""
    assert procrastinate is not None
    app = App(connector=PsycopgConnector(conninfo=url, min_size=2, max_size=max_size))
    task = app.task(name=PROCRASTINATE_TASK)(_procrastinate_noop)
    return app, task


async def enqueue_procrastinate(url: str, task: Any, jobs: int, batch: int) -> float:
    """Like :func:`enqueue_ours`: one transaction, ``batch`` jobs per ``batch_defer_async``."""
    async with await AsyncConnection.connect(url) as conn:
        t0 = time.perf_counter()
        deferrer = task.configure(connection=conn)
        for size in batches(jobs, batch):
            if hasattr(deferrer, "batch_defer_async"):
                await deferrer.batch_defer_async(*({} for _ in range(size)))
            else:  # older releases: one job at a time
                for _ in range(size):
                    await deferrer.defer_async()
        await conn.commit()
        return time.perf_counter() - t0


async def run_procrastinate(
    bench: Bench, args: argparse.Namespace, concurrency: int, processes: int, log_dir: Path
) -> Drain:
    db = bench.fresh(PROCRASTINATE_TEMPLATE, "procrastinate")
    try:
        url = bench.url(db)
        app, task = procrastinate_app(url, max_size=concurrency + 4)
        async with app.open_async():
            group: WorkerGroup
            if processes == 1:
                group = ProcrastinateInProcess(app, concurrency)
            else:
                argv = [sys.executable, str(Path(__file__).resolve()), "--procrastinate-worker"]
                argv += ["--worker-concurrency", str(concurrency)]
                env = {**os.environ, PROCRASTINATE_URL_ENV: url}
                group = Subprocesses(
                    argv, env, processes, log_dir, url_env=PROCRASTINATE_URL_ENV, table=PROCRASTINATE.table
                )
            return await measure(
                url,
                group,
                lambda count: enqueue_procrastinate(url, task, count, args.batch),
                PROCRASTINATE,
                jobs=args.jobs,
                timeout=args.timeout,
                stale_stats=args.stale_stats,
                warm_jobs=args.warm_up_jobs,
            )
    finally:
        bench.drop(db)


async def procrastinate_worker_main(concurrency: int) -> None:
    """The body of one procrastinate worker process (``--procrastinate-worker``)."""
    url = os.environ[PROCRASTINATE_URL_ENV]
    app, _ = procrastinate_app(url, max_size=concurrency + 4)
    async with app.open_async():
        await app.run_worker_async(
            concurrency=concurrency,
            wait=True,
            install_signal_handlers=True,  # SIGTERM: graceful stop
            fetch_job_polling_interval=POLL_SECONDS,
            listen_notify=True,
        )


# -- the pgbench ceiling ---------------------------------------------------------------------------


def reference_batch(batch: int, slots: int, fixed: bool) -> int | None:
    """N of a second batched ceiling: REFERENCE_BATCH when our claims (``batch`` jobs a
    statement, rounded up) were more than ``slots`` (the jobs a claim may add for idle slots)
    away from it, so a worker's larger or smaller claims cannot read it against a weaker
    ceiling; ``None`` when they were that close, or when ``--ceiling-batch`` fixed N."""
    if fixed or abs(batch - REFERENCE_BATCH) <= slots:
        return None
    return REFERENCE_BATCH


def run_ceiling(
    bench: Bench, jobs: int, clients: int, timeout: float, work_dir: Path, *, batch: int = 1
) -> Ceiling:
    """pgbench at ``clients`` clients: one job per script run, or ``batch`` jobs claimed and finished together."""
    per_client = math.ceil(jobs / (clients * batch))
    total = per_client * clients * batch
    db = bench.fresh(OUR_TEMPLATE, "pgbench")
    try:
        url = bench.url(db)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("insert into public.jobs (kind) select 'noop' from generate_series(1, %s)", (total,))
        vacuum_analyze(url, "jobs")
        script = work_dir / f"claim_finish_{batch}.sql"
        script.write_text(PGBENCH_SCRIPT if batch == 1 else PGBENCH_BATCH_SCRIPT.format(batch=batch))
        cluster = bench.cluster
        argv = [cluster.binaries.program("pgbench"), "-n", "-M", "prepared", "-f", str(script)]
        argv += ["-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)), "-t", str(per_client)]
        argv += ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", db]
        env = {**os.environ, "PGPASSWORD": cluster.password or "", "PGSSLMODE": "disable"}
        before, snap0 = resource.getrusage(resource.RUSAGE_CHILDREN), CpuSnapshot.take()
        out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        after, snap1 = resource.getrusage(resource.RUSAGE_CHILDREN), CpuSnapshot.take()
        if out.returncode != 0:
            raise RuntimeError(f"pgbench failed ({out.returncode}): {out.stderr.strip()[-800:]}")
        match = re.search(r"tps = ([0-9.]+)", out.stdout)
        if not match:
            raise RuntimeError(f"no tps in pgbench's output: {out.stdout[-800:]}")
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(OURS.succeeded.encode()).fetchone()
        if not row or int(row[0]) != total:
            raise RuntimeError(f"pgbench finished {row[0] if row else 0} of {total} jobs")
        client_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        cpu = CpuSplit.between(snap0, snap1, extra_bench_s=client_s)
        return Ceiling(clients, total, float(match.group(1)) * batch, cpu.seconds, cpu, batch)
    finally:
        bench.drop(db)


# -- the long run ------------------------------------------------------------------------------------


async def run_long(bench: Bench, args: argparse.Namespace, jobs: int) -> LongRun:
    db = bench.fresh(OUR_TEMPLATE, "long")
    try:
        url = bench.url(db)
        batch = 10_000
        note(f"long run: enqueueing {jobs:,} jobs in batches of {batch:,}")
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            t0 = time.perf_counter()
            for size in batches(jobs, batch):
                await manager.enqueue(conn, [JobSpec(kind="noop") for _ in range(size)])
            enqueue_s = time.perf_counter() - t0
        vacuum_analyze(url, "jobs")
        result = LongRun(args.long_concurrency, jobs, enqueue_s, args.long_seconds)
        group = OurWorkerInProcess(url, args.long_concurrency)
        note(f"long run: draining at concurrency {args.long_concurrency} for {args.long_seconds:.0f} s")
        probe_sql = "select autovacuum_count, n_dead_tup from pg_stat_user_tables where relid = 'public.jobs'::regclass"
        async with await AsyncConnection.connect(url, autocommit=True) as probe:
            start, snap = time.perf_counter(), CpuSnapshot.take()
            await group.start()
            try:
                cur = await probe.execute(probe_sql.encode())
                row = await cur.fetchone()
                result.samples.append(
                    Sample(0.0, 0, int(row[0]) if row else 0, int(row[1]) if row else 0, 0.0, 0.0)
                )
                for second in range(1, math.ceil(args.long_seconds) + 1):  # bounded: one sample a second
                    await asyncio.sleep(max(0.0, start + second - time.perf_counter()))
                    elapsed, processed = time.perf_counter() - start, group.worker.processed
                    now = CpuSnapshot.take()
                    cur = await probe.execute(probe_sql.encode())
                    row = await cur.fetchone()
                    vacuums, dead = (int(row[0]), int(row[1])) if row else (0, 0)
                    cpu = CpuSplit.between(snap, now)
                    result.samples.append(
                        Sample(elapsed, processed, vacuums, dead, cpu.busy_cores, cpu.other_cores)
                    )
                    snap = now
            finally:
                await group.stop()
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            result.left_queued = int(
                await _scalar(conn, "select count(*) from public.jobs where status = 'queued'")
            )
            cur = await conn.execute(
                "select n_live_tup, n_dead_tup, autovacuum_count, autoanalyze_count,"
                " pg_size_pretty(pg_total_relation_size('public.jobs'))"
                " from pg_stat_user_tables where relid = 'public.jobs'::regclass"
            )
            row = await cur.fetchone()
        if row:
            keys = ("live rows", "dead rows", "autovacuums", "autoanalyzes", "table+indexes")
            result.table_stats = dict(zip(keys, row, strict=True))
        return result
    finally:
        bench.drop(db)


# -- output -------------------------------------------------------------------------------------------

HEADERS = [
    "scenario",
    "concurrency",
    "processes",
    "enqueue jobs/s",
    "drain jobs/s",
    "procrastinate enqueue jobs/s",
    "procrastinate drain jobs/s",
    "ratio vs procrastinate",
    "pgbench per-job jobs/s (clients)",
    "pgbench batched jobs/s (N)",
    "ratio to ceiling (best of both)",
]


def _n(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def table_rows(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    for r in rows:
        p = r.procrastinate
        per_job = f"{r.per_job.tps:,.0f} ({r.per_job.clients})" if r.per_job else "n/a"
        batched = f"{r.batched.tps:,.0f} ({r.batched.batch})" if r.batched else "n/a"
        out.append(
            [
                r.scenario,
                str(r.concurrency),
                str(r.processes),
                _n(r.ours.enqueue_rate),
                _n(r.ours.drain_rate),
                _n(p.enqueue_rate if p else None),
                _n(p.drain_rate if p else None),
                _x(r.vs_procrastinate),
                per_job,
                batched,
                _pct(r.vs_ceiling),
            ]
        )
    return out


def cpu_rows(rows: Sequence[Row]) -> tuple[list[str], list[list[str]]]:
    headers = [
        "scenario",
        "concurrency",
        "system",
        "seconds",
        "busy cores",
        "worker/client CPU ms/job",
        "PostgreSQL CPU ms/job",
        "waiting for a core: worker/client, PostgreSQL (processes)",
        "other load (cores)",
    ]
    out = []
    for r in rows:
        runs: list[tuple[str, int, float, CpuSplit]] = []
        for name, d in (("ours", r.ours), ("procrastinate", r.procrastinate)):
            if d is not None:
                runs.append((name, d.jobs, d.drain_s, d.cpu))
        for c in (r.per_job, r.batched):
            if c is not None:
                name = "pgbench" if c.batch == 1 else f"pgbench N={c.batch}"
                runs.append((name, c.jobs, c.seconds, c.cpu))
        for name, jobs, seconds, cpu in runs:
            out.append(
                [
                    r.scenario,
                    f"{r.concurrency}" if r.processes == 1 else f"{r.concurrency}x{r.processes}",
                    name,
                    f"{seconds:.2f}",
                    f"{cpu.busy_cores:.2f}",
                    f"{1000 * cpu.bench_s / jobs:.3f}",
                    f"{1000 * cpu.postgres_s / jobs:.3f}",
                    cpu.waiting(),
                    f"{cpu.other_cores:.2f}",
                ]
            )
    return headers, out


def plain_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def disturbance(rows: Sequence[Row], long_run: LongRun | None) -> list[str]:
    loads = [d.cpu.other_cores for r in rows for d in (r.ours, r.procrastinate) if d is not None]
    loads += [c.cpu.other_cores for r in rows for c in (r.per_job, r.batched) if c is not None]
    loads += [s.other_cores for s in long_run.samples] if long_run else []
    worst = max(loads, default=0.0)
    if worst <= 0.15:
        return [f"other load during the measurements: at most {worst:.2f} cores (quiet machine)"]
    return [
        f"WARNING: processes outside this benchmark used up to {worst:.2f} cores during the measurements "
        "(see 'other load'): those figures are disturbed"
    ]


def verdicts(rows: Sequence[Row]) -> list[str]:
    lines = []
    for r in rows:
        label = f"{r.scenario} (concurrency {r.concurrency} x {r.processes} process(es))"
        if r.vs_procrastinate is not None:
            met = "met" if r.vs_procrastinate >= 5 else "MISSED"
            lines.append(f"{label}: {r.vs_procrastinate:.2f}x procrastinate (target >= 5x: {met})")
        if r.vs_ceiling is not None and r.ceiling is not None:
            met = "met" if r.vs_ceiling >= 0.8 else "MISSED"
            which = "per job" if r.ceiling.batch == 1 else f"batched, N={r.ceiling.batch}"
            mean = r.ours.mean_claim
            claims = f"; our worker's claims took {mean:.1f} jobs on average" if mean is not None else ""
            if mean is not None and r.ours.claim_s is not None and r.ours.claims:
                claims += f", {1000 * r.ours.claim_s / r.ours.claims:.2f} ms a round trip"
            lines.append(
                f"{label}: {100 * r.vs_ceiling:.0f}% of the pgbench ceiling ({which}) (target >= 80%: {met})"
                + claims
            )
            opened = [n for n in r.opened_by_attempt if n is not None]
            if opened:
                lines.append(
                    f"{label}: connections our workers opened while the clock ran, each attempt: "
                    + " / ".join(str(n) for n in opened)
                    + " (pgbench opens its own before its clock)"
                )
            if len(r.paired) > 1:
                each = " / ".join(f"{100 * ratio:.0f}%" for ratio in r.paired)
                lines.append(
                    f"{label}: attempt by attempt, each drain over its own attempt's ceiling: {each}"
                    f" (median {100 * statistics.median(r.paired):.0f}%)"
                )
                lines.append(f"{label}: {median_verdict(r.paired)}")
            drift = ceiling_drift(r.batched_by_attempt)
            if drift:
                lines.append(
                    f"{label}: the batched ceiling against itself, each attempt over the one before: "
                    f"{100 * min(drift):.0f}% to {100 * max(drift):.0f}% (median "
                    f"{100 * statistics.median(drift):.0f}%), the noise a single reading carries"
                )
            lines.append(f"{label}: {budget_line(r)}")
    return lines


def interval_verdict(low: float, high: float, target: float = 0.8) -> str:
    """Target 3 read from the 95% interval of a median: met when all of it is at or above
    ``target``, missed when all of it is below, undecided when it straddles it."""
    return "met" if low >= target else "MISSED" if high < target else "undecided"


def median_verdict(paired: Sequence[float], target: float = 0.8) -> str:
    """Target 3 read from every attempt rather than from one: met when the 95% interval of the
    median drain-over-ceiling lies at or above ``target``, missed when below it, undecided
    when it straddles it (or when too few attempts give an interval: six at least)."""
    middle = statistics.median(paired)
    interval = median_interval(paired)
    if interval is None:
        return (
            f"by the median of {len(paired)} attempts: {100 * middle:.0f}% (an interval of the median "
            "needs 6 attempts or more: --repeat 6)"
        )
    low, high = interval
    verdict = interval_verdict(low, high, target)
    return (
        f"by the median of {len(paired)} attempts: {100 * middle:.0f}%, 95% interval {100 * low:.0f}% "
        f"to {100 * high:.0f}% (target >= {100 * target:.0f}%: {verdict})"
    )


def budget_line(r: Row) -> str:
    """What draining at 80% of the ceiling would leave the workers on this machine: its cores
    less PostgreSQL's share at that pace (no more a job than in the ceiling's own run), and at
    most one core per worker process (one event loop each), spread over the jobs."""
    ceiling = r.ceiling
    assert ceiling is not None
    cores = os.cpu_count() or 1
    pace = 0.8 * ceiling.tps
    postgres = ceiling.cpu.postgres_s / ceiling.jobs
    room = max(0.0, min(cores - pace * postgres, float(r.processes)))
    ours = r.ours.cpu.bench_s / r.ours.jobs
    return (
        f"80% is {pace:,.0f} jobs/s: PostgreSQL needs {pace * postgres:.2f} of {cores} cores at the "
        f"ceiling's {1000 * postgres:.3f} ms a job, leaving the workers {room:.2f} cores, "
        f"{1000 * room / pace:.3f} ms of CPU a job; ours used {1000 * ours:.3f} ms"
        + (" (within it)" if ours <= room / pace else f" ({ours * pace / room:.1f}x it)" if room else "")
    )


def long_lines(run: LongRun) -> list[str]:
    lines = [
        f"long run: {run.jobs:,} jobs enqueued in {run.enqueue_s:.1f} s "
        f"({run.jobs / run.enqueue_s:,.0f} jobs/s, autocommit batches of 10,000); "
        f"drained at concurrency {run.concurrency} for {run.elapsed:.1f} s",
        f"first 10 s: {run.first_10s:,.0f} jobs/s; last 10 s: {run.last_10s:,.0f} jobs/s; "
        f"overall: {run.overall:,.0f} jobs/s; last/first: {run.last_10s / run.first_10s:.2f}"
        if run.first_10s
        else "first 10 s: no jobs processed",
        "per 10 s, jobs/s [autovacuums of jobs finished, dead rows at the end, busy cores, other load]: "
        + "; ".join(f"{r:,.0f} [{v}, {d:,}, {b:.2f}, {o:.2f}]" for r, v, d, b, o in run.intervals()),
        f"still queued at the stop: {run.left_queued:,}"
        + ("" if run.left_queued else " (THE QUEUE RAN DRY: the last-10-s figure is not a steady state)"),
        "jobs table at the stop: " + ", ".join(f"{k} {v}" for k, v in run.table_stats.items()),
    ]
    return lines


# -- main -------------------------------------------------------------------------------------------------


def _concurrencies(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
    if not values or any(not 1 <= v <= 256 for v in values):
        raise argparse.ArgumentTypeError("each concurrency must be between 1 and 256")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per scenario (default 20000)")
    parser.add_argument(
        "--concurrency",
        type=_concurrencies,
        default=[1, 4, 16],
        help="in-process concurrencies (default 1,4,16)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="worker processes of the multi-process scenario (default 2; 1 skips it)",
    )
    parser.add_argument(
        "--process-concurrency",
        type=int,
        default=4,
        help="concurrency of each process in the multi-process scenario (default 4)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="attempts per measurement, interleaved; the best is reported (default 1)",
    )
    parser.add_argument("--batch", type=int, default=1000, help="jobs per enqueue statement (default 1000)")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="limit per drain in seconds (default 600)"
    )
    parser.add_argument("--long", action="store_true", help="add the 2-minute drain at concurrency 4")
    parser.add_argument(
        "--long-seconds", type=float, default=120.0, help="length of the long drain (default 120)"
    )
    parser.add_argument(
        "--long-concurrency", type=int, default=4, help="concurrency of the long drain (default 4)"
    )
    parser.add_argument(
        "--long-jobs",
        type=int,
        default=300_000,
        help="jobs for the long drain (default 300000; raised to 1.3x what the measured rate needs)",
    )
    parser.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    parser.add_argument(
        "--stale-stats",
        action="store_true",
        help="analyze the jobs tables before the enqueue instead of after it (a bulk enqueue into a table "
        "last analyzed while empty)",
    )
    parser.add_argument(
        "--warm-up-jobs",
        type=count_between(0, 1_000_000),
        default=WARM_UP_JOBS,
        help="in the multi-process scenario, jobs each system's processes drain together before the "
        "measured ones (their connection pools grow, as pgbench connects before its clock runs); then "
        "they are paused while the measured jobs are enqueued and analyzed, and resumed together "
        "(default 0: they start cold, behind the lock)",
    )
    parser.add_argument("--no-procrastinate", action="store_true", help="skip procrastinate")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench ceiling")
    parser.add_argument(
        "--ceiling-batch",
        type=int,
        default=0,
        help="N of the batched pgbench ceiling (default: the jobs our worker claimed a statement on "
        "average in the same attempt, rounded up; 1 skips the batched run)",
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="for each in-process drain: where its clock starts and ends against the first claim and "
        "the last completion, the jobs claimed and completed in each tenth of it, and what a claim "
        "was sent beside (stderr)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the in-process drain at the first concurrency (stderr)",
    )
    parser.add_argument(
        "--profile-sort",
        choices=("tottime", "cumulative"),
        default="tottime",
        help="order of the --profile listing (default tottime)",
    )
    parser.add_argument(
        "--profile-lines", type=int, default=30, help="functions the --profile listing shows (default 30)"
    )
    parser.add_argument(
        "--statements",
        action="store_true",
        help="preload pg_stat_statements and print each of our drains' statements by server time (stderr)",
    )
    parser.add_argument("--procrastinate-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-concurrency", type=int, default=1, help=argparse.SUPPRESS)
    return parser


def best(runs: Sequence[Drain]) -> Drain:
    """The attempt with the fastest drain, credited with the fastest enqueue of all attempts."""
    fastest = max(runs, key=lambda d: d.drain_rate)
    return dataclasses.replace(fastest, enqueue_s=min(d.enqueue_s for d in runs))


async def run_suite(
    bench: Bench, args: argparse.Namespace, work_dir: Path
) -> tuple[list[Row], LongRun | None]:
    scenarios = [("in-process", c, 1) for c in args.concurrency]
    if args.processes > 1:
        scenarios.append((f"{args.processes} processes", args.process_concurrency, args.processes))
    rows: list[Row] = []
    want_procrastinate = procrastinate is not None and not args.no_procrastinate
    for name, concurrency, processes in scenarios:
        ours_runs: list[Drain] = []
        their_runs: list[Drain] = []
        ceilings: list[Ceiling] = []
        batched: list[Ceiling] = []
        references: list[Ceiling] = []  # batched at REFERENCE_BATCH (see reference_batch)
        attempt_ceilings: list[float] = []  # each attempt's best ceiling, jobs/s
        for rep in range(1, args.repeat + 1):  # interleaved, so a burst of other load hits one attempt
            label = f"{name}, concurrency {concurrency}" + (
                f", attempt {rep}/{args.repeat}" if args.repeat > 1 else ""
            )
            profile = (
                cProfile.Profile() if args.profile and not rows and processes == 1 and rep == 1 else None
            )
            note(f"{label}: our worker")
            ours = await run_ours(bench, args, concurrency, processes, work_dir, profile=profile)
            ours_runs.append(ours)
            mean = f", {ours.mean_claim:.1f} jobs a claim" if ours.mean_claim is not None else ""
            if ours.claim_s is not None and ours.claims:
                mean += f" in {1000 * ours.claim_s / ours.claims:.2f} ms"
            if ours.opened is not None:
                mean += f", {ours.opened} connection(s) opened during the drain"
            note(f"  enqueue {ours.enqueue_rate:,.0f} jobs/s, drain {ours.drain_rate:,.0f} jobs/s{mean}")
            if profile is not None:
                buffer = io.StringIO()
                pstats.Stats(profile, stream=buffer).sort_stats(args.profile_sort).print_stats(
                    args.profile_lines
                )
                print(buffer.getvalue(), file=sys.stderr)
            if not args.no_pgbench:
                clients = concurrency * processes
                # The batched ceiling claims as many jobs a statement as our worker did on
                # average in this attempt (rounded up), unless --ceiling-batch says otherwise.
                # It runs first, right after our drain (the ceiling that is nearly always the
                # best, paired with the drain it is measured beside); the per-job one after it.
                batch = args.ceiling_batch or (
                    math.ceil(ours.mean_claim)
                    if ours.mean_claim is not None
                    else concurrency + FALLBACK_AHEAD
                )
                best_tps = 0.0
                if batch > 1:
                    note(f"{label}: pgbench ceiling at {clients} clients, batches of {batch}")
                    batched.append(
                        run_ceiling(bench, args.jobs, clients, args.timeout, work_dir, batch=batch)
                    )
                    note(f"  {batched[-1].tps:,.0f} jobs/s")
                    best_tps = batched[-1].tps
                    other = reference_batch(batch, clients, bool(args.ceiling_batch))
                    if other is not None:
                        note(
                            f"{label}: pgbench ceiling at {clients} clients, batches of {other} (the reference)"
                        )
                        references.append(
                            run_ceiling(bench, args.jobs, clients, args.timeout, work_dir, batch=other)
                        )
                        note(f"  {references[-1].tps:,.0f} jobs/s")
                        best_tps = max(best_tps, references[-1].tps)
                note(f"{label}: pgbench ceiling at {clients} clients, per job")
                ceilings.append(run_ceiling(bench, args.jobs, clients, args.timeout, work_dir))
                note(f"  {ceilings[-1].tps:,.0f} jobs/s")
                attempt_ceilings.append(max(best_tps, ceilings[-1].tps))
            # After the ceilings: our drain and pgbench's run seconds apart, procrastinate's
            # drain (tens of seconds) after both.
            if want_procrastinate:
                note(f"{label}: procrastinate")
                theirs = await run_procrastinate(bench, args, concurrency, processes, work_dir)
                their_runs.append(theirs)
                note(f"  enqueue {theirs.enqueue_rate:,.0f} jobs/s, drain {theirs.drain_rate:,.0f} jobs/s")
        rows.append(
            Row(
                name,
                concurrency,
                processes,
                best(ours_runs),
                best(their_runs) if their_runs else None,
                max(ceilings, key=lambda c: c.tps) if ceilings else None,
                max(batched + references, key=lambda c: c.tps) if batched else None,
                paired_ratios(ours_runs, attempt_ceilings) if attempt_ceilings else (),
                tuple(c.tps for c in batched),
                tuple(d.opened for d in ours_runs),
            )
        )
    long_run = None
    if args.long:
        jobs = args.long_jobs
        c4 = [r for r in rows if r.processes == 1 and r.concurrency == args.long_concurrency]
        if c4:
            jobs = max(jobs, min(3_000_000, math.ceil(1.3 * c4[0].ours.drain_rate * args.long_seconds)))
        long_run = await run_long(bench, args, jobs)
    return rows, long_run


def report(
    rows: Sequence[Row],
    long_run: LongRun | None,
    args: argparse.Namespace,
    pg_version: str,
    started: dt.datetime,
    background: float,
) -> None:
    command = "bench/queue_throughput.py " + " ".join(sys.argv[1:])
    nproc = os.cpu_count() or 1
    print(
        f"\nqueue throughput, {started:%Y-%m-%d %H:%M} UTC: {args.jobs:,} no-op jobs per scenario"
        + (f", best of {args.repeat} interleaved attempts; " if args.repeat > 1 else "; ")
        + f"{nproc} CPUs ({platform.processor() or platform.machine()}); PostgreSQL {pg_version} (fsync off); "
        + f"event loop {event_loop_from_env()} (PROXIMA_EVENT_LOOP)"
    )
    print(f"command: {command}")
    print(
        f"busy cores in the second before the run (other load): {background:.2f}; load average at the end: "
        + " ".join(f"{v:.2f}" for v in os.getloadavg())
        + "\n"
    )
    body = table_rows(rows)
    print(plain_table(HEADERS, body))
    cpu_headers, cpu_body = cpu_rows(rows)
    print(
        "\nCPU during the drains (pgbench: its whole run; PostgreSQL CPU of pgbench is inferred from the "
        "machine total; 'waiting for a core' is the average number of the drain's processes that "
        "could have run and had no core to run on, n/a for pgbench whose processes end with its run; "
        "'other load' is every process outside this benchmark):"
    )
    print(plain_table(cpu_headers, cpu_body))
    for line in disturbance(rows, long_run):
        print(line)
    print()
    for line in verdicts(rows):
        print(line)
    if long_run is not None:
        print()
        for line in long_lines(long_run):
            print(line)
    if args.markdown:
        print("\n<!-- Markdown -->\n")
        print(markdown_table(HEADERS, body))
        print()
        print(markdown_table(cpu_headers, cpu_body))
        print()
        for line in disturbance(rows, long_run):
            print(f"- {line}")
        for line in verdicts(rows):
            print(f"- {line}")
        if long_run is not None:
            print()
            for line in long_lines(long_run):
                print(f"- {line}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.procrastinate_worker:
        logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)
        run_loop(procrastinate_worker_main(args.worker_concurrency))
        return 0
    if min(args.jobs, args.batch, args.processes, args.process_concurrency, args.repeat) < 1:
        raise SystemExit(
            "--jobs, --batch, --processes, --process-concurrency and --repeat must be at least 1"
        )
    if procrastinate is None and not args.no_procrastinate:
        note("procrastinate is not installed (pip install procrastinate): its columns stay empty")
    configure_logging("WARNING")
    # The bench names its procrastinate task explicitly, so the app living in __main__ is harmless.
    logging.getLogger("procrastinate.blueprints").addFilter(
        lambda record: "instantiated in the main" not in record.getMessage()
    )
    started = dt.datetime.now(dt.UTC)
    ticks = machine_ticks()
    time.sleep(1.0)
    background = busy_cores_between(ticks, machine_ticks())
    if background > 0.2:
        note(f"the machine is not idle ({background:.2f} cores busy before the run): expect noisy figures")
    # --statements: the weekly bench's cluster, pg_stat_statements preloaded.
    cluster = (BenchCluster if args.statements else LocalCluster).ephemeral()
    note("starting a private PostgreSQL cluster")
    cluster.start()
    try:
        bench = Bench(cluster)
        pg_version = bench.server_version()
        bench.prepare_templates(with_procrastinate=procrastinate is not None and not args.no_procrastinate)
        with tempfile.TemporaryDirectory(prefix="queue-bench-") as tmp:
            rows, long_run = run_loop(run_suite(bench, args, Path(tmp)))
    finally:
        note("stopping the cluster")
        cluster.stop()
    report(rows, long_run, args, pg_version, started, background)
    return 0


if __name__ == "__main__":
    sys.exit(main())
