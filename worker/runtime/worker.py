"""The worker loop: claim jobs, run their handlers, complete, retry or fail them.

Guarantees, on top of the queue's (see :mod:`worker.queue`):

* At most ``concurrency`` jobs run at once in a process; several processes on several
  hosts run side by side safely, coordinating only through PostgreSQL.
* While jobs are short (their recent average under ``prefetch_below_seconds``), the
  worker claims ahead of its free slots: it claims again whenever no more jobs are
  buffered or asked for than its slots take during one and a half claim round trips (at
  most four times ``prefetch``), at most ``prefetch`` ahead a claim and four claims at
  once, and keeps them in a local buffer, most urgent first, so a slot that frees takes
  its next job at once instead of waiting for a claim round trip. Buffered jobs are under
  lease like running ones (the heartbeat extends theirs too); a new urgent job overtakes
  them when it is claimed; on shutdown they are handed back at once, their attempt not
  counted. With long jobs nothing is claimed ahead: a slot's claim round trip is then
  negligible, and other workers stay free to take what this one could not start.
* A handler that runs past its kind's timeout is cancelled (its transaction rolls back)
  and the attempt fails with a ``TimeoutError``, retried as any failure. One sweep looks
  for them every twentieth of the shortest timeout (from 10 ms to 1 s), so a handler ends
  at most that much late; no timer is set a job.
* New work is noticed through ``LISTEN`` on a dedicated connection, with polling as a
  fallback, so a lost notification or connection delays a job by at most one poll.
* Leases of running jobs are extended every third of the lease; any worker rescues
  jobs whose lease expired. A running job whose lease the heartbeat finds taken (a rescue
  gave it to another worker) is cancelled here at once: its effects could not commit
  anyway, and it would otherwise keep spending model calls beside its new run.
* A database outage costs nothing: while it lasts the worker asks again every quarter
  second (claims, heartbeats, the pool's reconnects), a job waits to read or to store
  (:meth:`JobContext.outlast_outage`) instead of failing, so no attempt is spent and no
  model answer is asked for twice; leases that ran out meanwhile are renewed as soon as
  the database answers, and no worker rescues anything within ``rescue_grace_seconds``
  of the database's start or of its own last failure to reach it.
* On SIGTERM/SIGINT the worker stops claiming, lets running jobs finish within the
  grace period, then cancels the rest (their transactions roll back) and hands them
  back to the queue without counting the attempt. Jobs that claims under way at the
  signal bring are handed back, never started. The heartbeat renews the leases of running
  jobs until the shutdown is over, so a grace longer than the lease does not let another
  worker rescue (and run again) a job that is still finishing here.
* A claim the database refuses for now without being away (a project turned read-only
  when its disk filled, out of connections or disk) is logged without payloads and asked
  again with backoff, as in an outage. A refusal no wait can lift (a missing table, a
  refused grant) ends the claim loop; whatever ends it, the shutdown above still runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import heapq
import math
import os
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from worker import metrics
from worker.ai.slots import request_priority
from worker.compiled import compiled_modules
from worker.config import MAX_JOB_SLOTS
from worker.log import get_logger
from worker.queue import manager
from worker.queue.context import JobContext, LeaseLostError, outlast_outage
from worker.queue.jobs import DEFAULT_MAX_ATTEMPTS, Job
from worker.queue.registry import Registry
from worker.queue.retry import PermanentError, RetryPolicy, describe, is_retryable, retry_after_of
from worker.runtime.loop import loop_name
from worker.safety import load_guard

log = get_logger("worker.runtime")

# While the database is away the pool tries again every quarter of a second instead of
# doubling its wait from 1 s (after a 20 s outage workers came back 8 s late), for up to
# an hour (``reconnect_timeout`` below). Class-wide in psycopg_pool: every pool here.
AttemptWithBackoff.INITIAL_DELAY = 0.25
AttemptWithBackoff.DELAY_BACKOFF = 1.0
_OUTAGE_RETRY_SECONDS = 0.25
# Claims under way at once while jobs are short (one otherwise). Four rather than two
# since the claim is one prepared statement with nothing to bind (manager.bound_claim):
# no-op drains faster at concurrency 4 in five of six interleaved rounds and at 16 in all
# six (bench/results/queue.md).
_CLAIMS_AT_ONCE = 4
# At most this many times ``prefetch`` jobs are kept claimed ahead (a claim takes at most
# ``prefetch`` of them).
_AHEAD_LIMIT = 4
# Durations (a job's, a claim's round trip, a slot's period) and deadlines are read from
# time.perf_counter(): uvloop's loop.time() moves in whole milliseconds, longer than a
# short job or a claim's round trip.

# A slot running jobs that never wait (no-op jobs) lets the loop's other tasks run at
# least this often; a turn of the loop after every job cost a no-op job about 1 µs of CPU
# more (4.6-4.9 against 3.5-3.7 through one slot: bench/worker_overhead.py --rounds 3 with
# this set to 0, then as it is).
_SLOT_TURN_SECONDS = 0.0005
# The deadline sweep's interval: a twentieth of the shortest timeout, within these.
_SWEEP_FLOOR_SECONDS = 0.01
_SWEEP_CAP_SECONDS = 1.0
# A claim the database refused (it answered: not an outage) is asked again after a wait
# that doubles from the outage's quarter second up to this.
_REFUSED_RETRY_CAP_SECONDS = 5.0
# SQLSTATE classes of a refusal the database may lift by itself while the worker waits:
# 25 invalid transaction state (25006: read-only, as Supabase turns a project whose disk
# filled), 40 transaction rollback, 53 insufficient resources (disk full, too many
# connections), 55 object not in prerequisite state (lock not available), 57 operator
# intervention (a cancelled statement, a server shutting down), 58 system error (I/O),
# XX internal error. Others (a missing table, a refused grant, a syntax error) are a
# mismatch between this worker and the schema: the claim loop raises them.
_REFUSED_FOR_NOW = frozenset({"25", "40", "53", "55", "57", "58", "XX"})


def refused_for_now(exc: psycopg.Error) -> bool:
    """Whether a statement the database answered with ``exc`` may pass if asked again later."""
    return (exc.sqlstate or "")[:2] in _REFUSED_FOR_NOW


def attempt_limit(job: Job, policy: RetryPolicy) -> int:
    """How many attempts ``job`` gets before a retryable failure fails it for good.

    The row's ``max_attempts`` when its enqueuer chose one (anything but the default of 5:
    ``JobSpec(max_attempts=1)``, an operator's update), else the kind's
    ``RetryPolicy.max_attempts`` (``share_notification``: 8), so a kind's policy applies to
    the rows the database's functions insert with the column's default. The rescue of a
    job whose worker was lost applies the same rule (``rescue_expired_jobs``).
    """
    return policy.max_attempts if job.max_attempts == DEFAULT_MAX_ATTEMPTS else job.max_attempts


def deadline_sweep_seconds(registry: Registry) -> float:
    """How often the worker looks for handlers past their kind's timeout: a twentieth of
    the shortest timeout (a handler ends at most 5% late), between 10 ms and 1 s."""
    timeouts = [config.timeout_seconds for kind in registry.kinds() if (config := registry.get(kind))]
    return min(
        _SWEEP_CAP_SECONDS, max(_SWEEP_FLOOR_SECONDS, min(timeouts, default=_SWEEP_CAP_SECONDS * 20) / 20)
    )


# A young collection once this many more containers were made than freed, not Python's
# 700. Jobs make and free containers in bursts (a response's JSON, a week's rows) while
# hundreds of them are in flight: at 700 the collector ran about 400 young collections,
# 35 of the middle generation and 3 full ones for 2,000 person-weeks, walking the live
# state of every job in flight each time, 0.3 ms of CPU a person-week; at 10,000 about
# 7 young ones and no other, 0.05 ms (bench/worker_cpu.py --concurrent 200 --people 2000
# --latency 1 --gc-threshold N). Target 4's run of 2,000 people took 3.27 ms of worker CPU
# a person-week instead of 3.89 (medians of five interleaved rounds, every round lower:
# bench/results/weekly_cpu.md); 50,000 did no better. Garbage in cycles (rare: exceptions
# and the frames they hold) is still collected, after at most this many containers.
_YOUNG_GENERATION_THRESHOLD = 10_000


def settle_heap() -> None:
    """Put what the process holds once it is ready (its modules, the guard's vocabularies:
    dicts of hundreds of thousands of entries) out of the cyclic collector's reach, so that
    its full collections, every few seconds under load, walk only what jobs create.

    Each full collection walked the vocabularies: without this, 6 of them took 0.85-0.89 s
    of the 8.8-9.0 s of CPU that 2,000 person-weeks cost; with it, 0.09-0.1 s
    (``bench/worker_cpu.py --concurrent 200 --people 2000 [--no-settle-heap]``). The
    collector never looks at a frozen object again (reference counting still frees one
    that is not in a cycle), so it runs once, after start-up's objects.

    It then lets the young generation grow to ``_YOUNG_GENERATION_THRESHOLD`` containers
    before a collection, not Python's 700 (see there).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(_YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])


@dataclass(frozen=True)
class WorkerSettings:
    """How one worker process behaves; validated on construction."""

    concurrency: int = 8
    kinds: tuple[str, ...] | None = None
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    rescue_seconds: float = 15.0
    # No rescue for this long after the database (re)started or this worker last failed to
    # reach it: live workers first renew the leases that ran out during the outage.
    rescue_grace_seconds: float = 10.0
    shutdown_grace_seconds: float = 30.0
    completion_batch: int = 500
    completion_flush_seconds: float = 0.005
    # At most this many short jobs ahead a claim. A claim costs the worker about 0.2 ms of
    # CPU whatever it brings (mostly its waited round trip), and a drain of no-op jobs is
    # bound by two cores that the worker shares with PostgreSQL: 128 (32 before 4 December
    # 2026, 16 before 3 December) shares that cost among four times the jobs. Side by side,
    # the suite twice each way, interleaved, each drain read against the better of the
    # batched pgbench ceiling at its own claim size and at 32: 133.5 / 92.5 / 104.5 / 101.5%
    # of the ceiling at 1 / 4 / 16 / 2 x 4 (medians of 12 attempts) against 129 / 83 / 103.5 /
    # 89% with 32 (bench/results/queue.md, 4 December 2026). Only jobs of a fraction of a
    # millisecond are claimed this many at once: for longer ones ``_ahead`` asks for fewer.
    prefetch: int = 128
    prefetch_below_seconds: float = 0.05

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= MAX_JOB_SLOTS:
            raise ValueError(f"concurrency must be between 1 and {MAX_JOB_SLOTS}, not {self.concurrency}")
        if not 0 <= self.prefetch <= 1000:
            raise ValueError(f"prefetch must be between 0 and 1000, not {self.prefetch}")
        if self.prefetch_below_seconds < 0:
            raise ValueError("prefetch_below_seconds cannot be negative")
        if self.lease_seconds < 1:
            raise ValueError("the lease must be at least 1 second")
        if self.poll_seconds <= 0 or self.rescue_seconds <= 0:
            raise ValueError("poll and rescue intervals must be positive")
        if self.shutdown_grace_seconds < 0:
            raise ValueError("the shutdown grace period cannot be negative")
        if self.kinds is not None and not self.kinds:
            raise ValueError("kinds, when given, must name at least one kind")

    @property
    def heartbeat_seconds(self) -> float:
        return self.lease_seconds / 3


def new_owner_id() -> str:
    """``host:pid:random``: unique per worker process, readable in ``jobs.lease_owner``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """One worker process's loop. Call :meth:`run` with an event that asks it to stop."""

    def __init__(
        self,
        conninfo: str,
        registry: Registry,
        settings: WorkerSettings | None = None,
        *,
        owner: str | None = None,
        settle_heap: bool = False,
    ) -> None:
        self.conninfo = conninfo
        # Whether run() freezes what the process holds once ready (settle_heap below):
        # `python -m worker run` does; a process that runs workers again and again does not.
        self._settle_heap = settle_heap
        self.registry = registry
        self.settings = settings or WorkerSettings()
        self.owner = owner or new_owner_id()
        self._inflight: dict[int, tuple[Job, asyncio.Task[None]]] = {}
        # Claimed ahead, not started: a heap in claim order (priority desc, run_at, id).
        self._buffer: list[tuple[int, dt.datetime, int, Job]] = []
        self._job_seconds: float | None = None  # moving average of recent job durations
        # Moving averages that size the claim-ahead buffer (_ahead): a claim's round trip,
        # and the time between two jobs a slot takes from the buffer one after the other.
        self._claim_round_trip: float | None = None
        self._slot_period: float | None = None
        self._claiming = 0  # jobs asked for by claims under way
        self._dry = False  # the last claim found fewer jobs than it asked for
        self._claim_failures = 0  # claims in a row the database did not answer
        self._claim_refusals = 0  # claims in a row the database refused (it answered)
        self._claim_retry_at = 0.0  # loop time before which no claim is started (an outage)
        self._claim_error: BaseException | None = None
        self._stopping = False
        # Running jobs the heartbeat cancelled because their lease was taken.
        self._lease_lost: set[int] = set()
        # When (time.perf_counter) each running handler must end by its kind's timeout, read
        # by a sweep every _sweep_seconds while handlers run; the handlers it cancelled.
        self._deadlines: dict[int, float] = {}
        self._timed_out: set[int] = set()
        self._sweep: asyncio.TimerHandle | None = None
        self._sweep_seconds = _SWEEP_CAP_SECONDS  # from the registry when run() starts
        self._db_trouble_at: float | None = None  # loop time this worker last failed to reach the database
        self._pending_completion: list[Job] = []
        # Set when a finished job waits for its batch's completion: the batcher sleeps
        # until then.
        self._completion_waiting = asyncio.Event()
        # Set when the batch is full: it is completed at once.
        self._completion_due = asyncio.Event()
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._pool: AsyncConnectionPool[Any] | None = None
        self._log = log.bind(worker=self.owner)
        self.processed = 0
        self.claims = 0  # claim statements that returned jobs
        self.claim_seconds = 0.0  # their round trips, summed
        self.completion_rounds = 0  # times the batcher woke to complete finished jobs

    @property
    def pool(self) -> AsyncConnectionPool[Any]:
        assert self._pool is not None, "the worker is not running"
        return self._pool

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        self._pool = AsyncConnectionPool(
            self.conninfo,
            min_size=2,
            # A job holds a connection only to gather and to store, never across a model
            # call: a small fixed pool serves any number of jobs in flight.
            max_size=min(settings.concurrency + 4, 16),
            kwargs={"autocommit": True},
            open=False,
            name="worker",
            reconnect_timeout=3600,
        )
        await self._pool.open(wait=True, timeout=30)
        self._sweep_seconds = deadline_sweep_seconds(self.registry)
        # The medical-claim guard's vocabularies and patterns take seconds to build: once,
        # off the event loop, before the first answer is validated; not at all in a worker
        # whose kinds never validate one (a PDF worker).
        if self.registry.checks_answers(settings.kinds):
            await asyncio.to_thread(load_guard)
        if self._settle_heap:
            settle_heap()
        # Set once the shutdown is over: until then the heartbeat renews the leases of jobs
        # that run on during the grace period (``stop`` is set long before).
        shut_down = asyncio.Event()
        helpers = [
            asyncio.create_task(self._listen(stop), name="listen"),
            asyncio.create_task(self._heartbeat(shut_down), name="heartbeat"),
            asyncio.create_task(self._rescue(stop), name="rescue"),
            asyncio.create_task(self._complete_batches(stop), name="complete"),
        ]
        self._log.info(
            "worker started",
            concurrency=settings.concurrency,
            kinds=settings.kinds,
            event_loop=loop_name(),
            frozen_objects=gc.get_freeze_count(),
            young_collection_threshold=gc.get_threshold()[0],
            compiled_modules=compiled_modules(),
        )
        try:
            try:
                await self._claim_loop(stop)
            finally:
                # Also when the claim loop failed: running jobs get their grace and the
                # rest are handed back instead of waiting for their leases to expire.
                await self._shut_down()
        finally:
            shut_down.set()
            if self._sweep is not None:
                self._sweep.cancel()
                self._sweep = None
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await self._flush_completions()
            await self.registry.aclose()
            await self._pool.close()
            self._pool = None
            self._log.info("worker stopped", processed=self.processed, claims=self.claims)

    async def _claim_loop(self, stop: asyncio.Event) -> None:
        """Start claims while there is room: one at a time, or up to four at once while jobs
        are short (a claim's round trip then takes longer than the slots take to run what one
        claim brings). Claims are never cancelled: once the loop stops, those under way
        finish and their jobs reach the buffer, to be handed back."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        claims: set[asyncio.Task[None]] = set()
        # The stop also ends a wait for a free slot, so that wait is on one event.
        stop_watch = asyncio.create_task(self._free_slot_on(stop), name="claim-stop")
        try:
            while not stop.is_set():
                if self._claim_error is not None:
                    raise self._claim_error
                wait = self._claim_retry_at - loop.time()
                if wait > 0:  # the database was away: ask again shortly
                    await _wait_first(stop, timeout=wait)
                    continue
                room = self._claim_room()
                if room <= 0 or len(claims) >= (_CLAIMS_AT_ONCE if self._short() else 1):
                    await self._wait_for_slot(settings.poll_seconds)
                    continue
                if self._dry:
                    if claims:  # the queue looked empty: no second claim beside one under way
                        await self._wait_for_slot(settings.poll_seconds)
                        continue
                    self._dry = False
                    await _wait_first(self._wake, stop, timeout=settings.poll_seconds)
                    continue
                # Cleared before claiming, so a notification that arrives during the claim
                # is not lost: the wait above then returns at once.
                self._wake.clear()
                self._claiming += room
                task = asyncio.create_task(self._claim(room), name="claim")
                claims.add(task)
                task.add_done_callback(claims.discard)
        finally:
            stop_watch.cancel()
            # No job is started once the loop ends: what claims under way bring stays in
            # the buffer, to be handed back by the shutdown.
            self._stopping = True
            if claims:
                await asyncio.gather(*claims, return_exceptions=True)
        if self._claim_error is not None:  # a claim that ended while the loop was stopping
            raise self._claim_error

    async def _free_slot_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._slot_freed.set()

    async def _wait_for_slot(self, timeout: float) -> None:
        """Until a slot frees, a claim ends or the stop comes (each sets ``_slot_freed``),
        or ``timeout`` seconds: one event and one timer, where ``_wait_first`` starts a task
        an event and waits for the first (their cost in a profiled drain of 40,000 no-op
        jobs: bench/results/queue.md, 3 December 2026)."""
        self._slot_freed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._slot_freed.wait()

    async def _claim(self, room: int) -> None:
        """One claim of up to ``room`` jobs into the buffer, then their start in free slots."""
        loop = asyncio.get_running_loop()
        sent = time.perf_counter()
        try:
            async with self.pool.connection() as conn:
                jobs = await manager.claim_jobs(
                    conn,
                    owner=self.owner,
                    limit=room,
                    lease_seconds=self.settings.lease_seconds,
                    kinds=self.settings.kinds,
                    ordered=False,  # the buffer is a heap in claim order
                )
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            # The database is away: ask again every quarter second, so claiming resumes
            # within a second of its return. Logged once per outage.
            self._claim_failures += 1
            self._trouble()
            if self._claim_failures == 1:
                self._log.warning("claim failed; retrying until the database answers", error=describe(exc))
            self._claim_retry_at = loop.time() + _OUTAGE_RETRY_SECONDS
            return
        except psycopg.Error as exc:
            if not refused_for_now(exc):
                self._claim_error = exc  # the schema or the role is not what this worker needs
                return
            # The database answered but refused the claim for now (read-only after a full
            # disk, out of connections): a restart would not help, so wait as in an outage,
            # backing off, and log it once per streak (its SQLSTATE and message, no values).
            self._claim_refusals += 1
            self._trouble()
            if self._claim_refusals == 1:
                self._log.error("claim refused by the database; retrying with backoff", error=describe(exc))
            delay = min(
                _OUTAGE_RETRY_SECONDS * 2 ** min(self._claim_refusals - 1, 10), _REFUSED_RETRY_CAP_SECONDS
            )
            self._claim_retry_at = loop.time() + delay
            return
        except Exception as exc:  # a fault of the worker's own: the claim loop raises it
            self._claim_error = exc
            return
        finally:
            self._claiming -= room
            self._slot_freed.set()  # the claim loop may start the next claim
        if self._claim_refusals:
            self._log.info("claims taken again after refusals", refused_claims=self._claim_refusals)
        self._claim_failures = self._claim_refusals = 0
        took, average = time.perf_counter() - sent, self._claim_round_trip
        self._claim_round_trip = took if average is None else average + 0.2 * (took - average)
        if jobs:
            self.claims += 1
            self.claim_seconds += took
            kinds = {job.kind for job in jobs}
            if len(kinds) == 1:  # most claims: no count by kind needed
                metrics.job_claimed(jobs[0].kind, len(jobs))
            else:
                for kind, count in Counter(job.kind for job in jobs).items():
                    metrics.job_claimed(kind, count)
        for job in jobs:
            heapq.heappush(self._buffer, (-job.priority, job.run_at, job.id, job))
        if len(jobs) < room:
            self._dry = True  # wait for a notification (or the poll) before claiming again
        self._dispatch()

    def _short(self) -> bool:
        """Whether recent jobs were short enough to claim ahead."""
        average = self._job_seconds
        return average is not None and average <= self.settings.prefetch_below_seconds

    def _claim_room(self) -> int:
        """How many jobs to claim now; 0 while the slots and the buffer have enough.

        A slot that would otherwise go idle always asks for a claim. Beyond that, while
        jobs are short, the worker claims again whenever no more than ``_ahead()`` jobs
        are buffered, at most ``prefetch`` ahead a claim: claims of a moderate size, back
        to back while the slots take jobs faster than one claim brings them.
        """
        settings = self.settings
        free = settings.concurrency - len(self._inflight)
        ahead = self._ahead() if self._short() else 0
        buffered = len(self._buffer) + self._claiming  # what claims under way bring counts
        if buffered < free or (ahead and buffered <= ahead):
            return max(0, free - buffered) + min(settings.prefetch, ahead)
        return 0

    def _ahead(self) -> int:
        """How many short jobs to keep claimed ahead: as many as the slots take during one
        and a half claim round trips (all of them busy, each taking a job every
        ``_slot_period`` seconds), at least 1, at most four times ``prefetch``;
        ``prefetch`` until both have been measured (0 with ``prefetch`` 0: never ahead).

        A fixed number either ran dry (no-op jobs, 16 ahead: every claim found the slot
        idle, its round trip longer than the jobs left) or, for jobs of tens of
        milliseconds, held more jobs under this worker's lease than it needed.
        """
        prefetch = self.settings.prefetch
        claim, period = self._claim_round_trip, self._slot_period
        if claim is None or not period or not prefetch:
            return prefetch
        taken = 1.5 * claim * self.settings.concurrency / period
        return max(1, min(_AHEAD_LIMIT * prefetch, math.ceil(taken)))

    def _dispatch(self) -> None:
        """Start buffered jobs, most urgent first, in every free slot."""
        while self._buffer and not self._stopping and len(self._inflight) < self.settings.concurrency:
            job = heapq.heappop(self._buffer)[3]
            task = asyncio.create_task(self._run_slot(job), name=f"slot-{job.id}")
            self._inflight[job.id] = (job, task)

    async def _run_slot(self, job: Job) -> None:
        """Run ``job``, then buffered jobs one after another while there are any.

        A slot that finds the next job in the buffer runs it in the same task, with no
        claim round trip and no new task per job; cancelling the task (shutdown) cancels
        the job it is running.
        """
        task = asyncio.current_task()
        assert task is not None
        began = yielded = time.perf_counter()
        while True:
            await self._execute(job)
            # Claims, completions and heartbeats run between jobs: the slot lets them once
            # _SLOT_TURN_SECONDS have passed since it last did (a job that waited on
            # anything let them too), not after every job.
            if time.perf_counter() - yielded >= _SLOT_TURN_SECONDS:
                await asyncio.sleep(0)
                yielded = time.perf_counter()
            if self._stopping or not self._buffer or len(self._inflight) >= self.settings.concurrency:
                return
            job = heapq.heappop(self._buffer)[3]
            self._inflight[job.id] = (job, task)
            now = time.perf_counter()
            period, average, began = now - began, self._slot_period, now
            self._slot_period = period if average is None else average + 0.1 * (period - average)

    async def _shut_down(self) -> None:
        self._stopping = True
        buffered = [entry[2] for entry in self._buffer]
        self._buffer.clear()
        if buffered:
            await self._release(buffered, "handed claimed-ahead jobs back")
        tasks = [task for _, task in self._inflight.values()]
        if tasks:
            self._log.info("stopping: waiting for running jobs", running=len(tasks))
            await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_seconds)
        left = {job_id: task for job_id, (_, task) in self._inflight.items() if not task.done()}
        if not left:
            return
        for task in left.values():
            task.cancel()
        await asyncio.gather(*left.values(), return_exceptions=True)
        await self._release(list(left), "handed unfinished jobs back")

    async def _release(self, ids: list[int], event: str) -> None:
        try:
            async with self.pool.connection() as conn:
                released = await manager.release_jobs(conn, owner=self.owner, ids=ids)
            self._log.info(event, released=len(released))
        except psycopg.Error as exc:
            self._log.warning("could not hand jobs back; their leases will expire", error=describe(exc))

    # -- one job ---------------------------------------------------------------------------

    def _job_log(self, job: Job) -> Any:
        """The worker's logger bound to ``job``: made only when there is something to say."""
        return self._log.bind(job_id=job.id, kind=job.kind, attempt=job.attempt)

    async def _execute(self, job: Job) -> None:
        started = time.perf_counter()
        metrics.job_started()
        outcome = "failed"
        # Model requests made for this job wait for a slot by its priority (a slot task
        # runs its jobs one after another, each setting its own).
        request_priority.set(job.priority)
        config = self.registry.get(job.kind)
        context = JobContext(job, self.pool, self.owner)
        try:
            if config is None:
                raise PermanentError(f"no handler for job kind {job.kind!r}")
            # The kind's timeout: a deadline the sweep reads (_sweep_deadlines), not a timer
            # set and cancelled a job (asyncio.timeout's, the largest part of a no-op job's
            # own path: bench/results/queue.md, 3 December 2026).
            self._deadlines[job.id] = started + config.timeout_seconds
            if self._sweep is None:
                self._sweep = asyncio.get_running_loop().call_later(
                    self._sweep_seconds, self._sweep_deadlines
                )
            try:
                await config.handler(job, context)
            except asyncio.CancelledError:
                if not self._expired(job.id):
                    raise
                raise TimeoutError(f"{job.kind} timed out after {config.timeout_seconds:g} s") from None
            else:
                # A handler that caught the sweep's cancellation and returned ends as it
                # returned (as under asyncio.timeout): the cancellation is taken back.
                self._expired(job.id)
            finally:
                self._deadlines.pop(job.id, None)  # the sweep took it out if it expired
        except LeaseLostError:
            outcome = "lost"
            self._job_log(job).warning("lease lost; this attempt's effects were rolled back")
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if job.id in self._lease_lost:
                self._lease_lost.discard(job.id)
                outcome = "lost"
                self._job_log(job).warning(
                    "lease lost; the attempt was cancelled and its effects rolled back"
                )
                # The slot goes on with its next job, unless a shutdown cancelled it too.
                if task is None or task.uncancel() > 0:
                    raise
            else:
                outcome = "released"
                self._job_log(job).info("cancelled during shutdown")
                raise
        except Exception as exc:
            outcome = await self._record_failure(
                job, config.retry if config else RetryPolicy(), exc, self._job_log(job)
            )
        else:
            outcome = "succeeded"
            if not context.completed:
                self._pending_completion.append(job)
                self._completion_waiting.set()
                if len(self._pending_completion) >= self.settings.completion_batch:
                    self._completion_due.set()
            self.processed += 1
        finally:
            self._inflight.pop(job.id, None)
            seconds = time.perf_counter() - started
            metrics.job_ended(job.kind, outcome, seconds)
            average = self._job_seconds
            self._job_seconds = seconds if average is None else average + 0.1 * (seconds - average)
            # Once woken, the claim loop works out the room itself: a job that ends before
            # it has run does not ask again.
            if not self._slot_freed.is_set() and self._claim_room() > 0:
                self._slot_freed.set()

    def _expired(self, job_id: int) -> bool:
        """Whether the sweep cancelled ``job_id``'s handler for its timeout and nothing else
        cancelled it too (a shutdown, a lost lease): that cancellation is then taken back,
        as ``asyncio.timeout`` takes back its own."""
        if job_id not in self._timed_out:
            return False
        self._timed_out.discard(job_id)
        task = asyncio.current_task()
        return task is not None and task.uncancel() == 0

    def _sweep_deadlines(self) -> None:
        """Cancel every running handler past its deadline (``_execute`` turns that
        cancellation into a ``TimeoutError``, a failure retried as any other), then look
        again in ``_sweep_seconds`` while any handler runs."""
        self._sweep = None
        deadlines = self._deadlines
        if not deadlines:
            return
        now = time.perf_counter()
        for job_id in [job_id for job_id, deadline in deadlines.items() if deadline <= now]:
            del deadlines[job_id]
            running = self._inflight.get(job_id)  # always there: a deadline goes before its job
            if running is not None:
                self._timed_out.add(job_id)
                running[1].cancel()
        self._sweep = asyncio.get_running_loop().call_later(self._sweep_seconds, self._sweep_deadlines)

    async def _record_failure(self, job: Job, policy: RetryPolicy, exc: BaseException, job_log: Any) -> str:
        """Queue the job again or fail it for good; returns ``retried``, ``failed`` or
        ``lost`` (the failure could not be recorded: the lease will expire)."""
        error = describe(exc)
        # The whole cause, traceback and all, for an operator's post-mortem: only at DEBUG
        # (`--log-level DEBUG`, off by default), because it may quote health text.
        job_log.debug("job failure detail", exc_info=exc)
        retryable = is_retryable(exc)
        limit = attempt_limit(job, policy)

        async def record() -> str:
            async with self.pool.connection() as conn:
                if retryable and job.attempt < limit:
                    delay = policy.delay(job.attempt, retry_after=retry_after_of(exc))
                    await manager.retry_job(conn, job, owner=self.owner, delay_seconds=delay, error=error)
                    job_log.warning("job failed; will retry", error=error, delay=round(delay, 3))
                    return "retried"
                reason = "permanent error" if not retryable else f"gave up after {job.attempt} attempts"
                await manager.fail_job(conn, job, owner=self.owner, error=error)
                job_log.error("job failed for good", error=error, reason=reason)
                return "failed"

        try:
            # While the database is away the failure waits to be recorded, as a store does:
            # otherwise the job would sit until its lease ran out and be counted as lost.
            return await outlast_outage(record, job_id=job.id)
        except (psycopg.Error, PoolTimeout) as db_exc:
            job_log.error("could not record the failure; the lease will expire", error=describe(db_exc))
            return "lost"

    # -- helpers running beside the loop -----------------------------------------------------

    async def _complete_batches(self, stop: asyncio.Event) -> None:
        """Complete finished jobs in batches: a batch is completed once it is full, or
        ``completion_flush_seconds`` after its first job finished. With no job waiting the
        batcher sleeps: it does not wake on a timer (waking every 5 ms cost an idle worker
        0.07 of a core, `bench/worker_cpu.py --idle 20`)."""
        while True:
            await self._completion_waiting.wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.completion_flush_seconds):
                    await self._completion_due.wait()
            # Cleared before the batch is taken (no await in between): a job that finishes
            # while this batch is being completed sets the event again for the next one.
            self._completion_waiting.clear()
            self._completion_due.clear()
            self.completion_rounds += 1
            await self._flush_completions()

    async def _flush_completions(self) -> None:
        if not self._pending_completion or self._pool is None:
            return
        batch, self._pending_completion = self._pending_completion, []
        try:
            async with self._pool.connection() as conn:
                await manager.finish_jobs(conn, batch, owner=self.owner)
        except psycopg.Error as exc:
            # Not lost: the jobs stay running until their leases expire, then run again.
            self._log.warning("batched completion failed", jobs=len(batch), error=describe(exc))

    def _trouble(self) -> None:
        self._db_trouble_at = asyncio.get_running_loop().time()

    def _in_grace(self) -> bool:
        """Whether this worker failed to reach the database within the rescue grace."""
        at = self._db_trouble_at
        return at is not None and asyncio.get_running_loop().time() - at < self.settings.rescue_grace_seconds

    async def _heartbeat(self, shut_down: asyncio.Event) -> None:
        """Renew the leases of running, buffered and finished-but-not-completed jobs every
        third of the lease, until ``shut_down`` (the end of the shutdown, not the stop
        signal: jobs finishing within the grace period keep their leases)."""
        stop = shut_down
        failing = False
        while not stop.is_set():
            # After a failure, renew as soon as the database answers again: leases that ran
            # out during an outage are renewed before any rescue may take them.
            await _wait_first(
                stop, timeout=_OUTAGE_RETRY_SECONDS * 2 if failing else self.settings.heartbeat_seconds
            )
            # A job that finished meanwhile is simply not extended: the query reports only
            # leases another worker or a rescue took.
            ids = [
                *self._inflight,
                *(entry[2] for entry in self._buffer),
                *(job.id for job in self._pending_completion),
            ]
            if not ids:
                continue
            try:
                async with self.pool.connection() as conn:
                    lost = await manager.extend_leases(
                        conn, owner=self.owner, ids=ids, lease_seconds=self.settings.lease_seconds
                    )
                if failing:
                    self._log.info("leases renewed after the database came back", jobs=len(ids))
                failing = False
                if lost:
                    self._log.warning("leases lost", jobs=sorted(lost))
                    # A running job whose lease was taken is cancelled: another worker runs it.
                    for job_id in lost & self._inflight.keys():
                        self._lease_lost.add(job_id)
                        self._inflight[job_id][1].cancel()
                    # A buffered job whose lease was taken is someone else's now: not started here.
                    if any(entry[2] in lost for entry in self._buffer):
                        self._buffer = [entry for entry in self._buffer if entry[2] not in lost]
                        heapq.heapify(self._buffer)
            except (psycopg.Error, PoolTimeout) as exc:
                self._trouble()
                if not failing:
                    self._log.warning("heartbeat failed", error=describe(exc))
                failing = True

    async def _rescue(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self._in_grace():
                await _wait_first(stop, timeout=self.settings.rescue_grace_seconds / 2)
                continue
            try:
                async with self.pool.connection() as conn:
                    rescued = await manager.rescue_expired_jobs(
                        conn,
                        grace_seconds=self.settings.rescue_grace_seconds,
                        attempt_limits={
                            kind: config.retry.max_attempts
                            for kind in self.registry.kinds()
                            if (config := self.registry.get(kind)) is not None
                        },
                    )
                if rescued:
                    self._log.warning(
                        "rescued jobs whose worker was lost",
                        requeued=sum(r.status == "queued" for r in rescued),
                        failed=sum(r.status == "failed" for r in rescued),
                    )
                    self._wake.set()
            except (psycopg.Error, PoolTimeout) as exc:
                self._trouble()
                self._log.warning("rescue failed", error=describe(exc))
            await _wait_first(stop, timeout=self.settings.rescue_seconds)

    async def _listen(self, stop: asyncio.Event) -> None:
        kinds = set(self.settings.kinds) if self.settings.kinds else None
        lost = False
        while not stop.is_set():
            try:
                conn = await AsyncConnection.connect(self.conninfo, autocommit=True)
                async with conn:
                    await conn.execute(manager.query("listen_jobs"))
                    lost = False
                    self._wake.set()  # catch up on anything inserted before we listened
                    async for notify in conn.notifies():
                        if kinds is None or kinds.intersection(notify.payload.split(",")):
                            self._wake.set()
            except psycopg.Error as exc:
                self._trouble()
                if not lost:  # once per outage, not once a second
                    self._log.warning("listen connection lost; polling meanwhile", error=describe(exc))
                lost = True
                await _wait_first(stop, timeout=min(self.settings.poll_seconds, 1.0))


async def _wait_first(*events: asyncio.Event, timeout: float) -> None:
    """Return when any event is set or ``timeout`` seconds have passed."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
