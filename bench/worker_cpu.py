"""The worker's CPU per person-week outside the model call, by phase.

    .venv/bin/python bench/worker_cpu.py                      # 500 people, one at a time
    .venv/bin/python bench/worker_cpu.py --people 300 --cprofile 25
    .venv/bin/python bench/worker_cpu.py --concurrent 200     # the real Worker, 200 jobs at once

A private PostgreSQL cluster with ``--people`` synthetic people (the people of
``bench/weekly_run.py``: five weeks of activity and a story of their own, so two model round
trips a person-week), and the fake DeepSeek server of ``tests/support/fake_deepseek.py`` in a
separate process answering after 1 ms (``--latency``): its CPU is not this process's.

Sequential mode (the default) runs the real ``run_weekly_analysis`` with the ``deepseek``
provider for each person in turn, on one connection; the store runs in a transaction that
is rolled back (so every pass sees the same data). Every phase's functions are wrapped and
their CPU time (``time.process_time``, so the machine's other load barely moves it) is
summed per phase, each phase without the time of the phases nested in it; "other" is the
rest of ``run_weekly_analysis`` (awaits, the event loop, httpx request building above the
wrapped calls). ``--warmup`` people run first and are not counted. In a copy whose hot
modules are compiled (``scripts/compile.py``) this mode is refused: compiled code calls the
functions of its own modules directly, past the wrappers; ``--concurrent`` and ``--idle`` run.

``--idle S`` starts the real ``Worker`` (``--concurrent`` slots, 200 unless given) with no job
to run and reports the CPU it uses over S seconds once it is listening: what a worker costs
between Mondays, and what it adds to a run for every second the run lasts.

``--concurrent N`` instead runs the real ``Worker`` with N job slots and N request slots
over every person (enqueued with ``enqueue_weekly_analysis``) and reports this process's
CPU per person-week: everything, claims, heartbeats, completions and the event loop with
N jobs in flight included. ``--cprofile K`` prints the K functions with the most own time.

Output is Markdown on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import functools
import gc
import io
import os
import pstats
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
import weekly_run
from psycopg import AsyncConnection

from worker import pipeline
from worker import report as report_module
from worker.ai import deepseek, prompts
from worker.ai.deepseek import DeepSeekProvider
from worker.analysis import analytics, store
from worker.compiled import compiled_modules
from worker.config import AISettings
from worker.db.migrate import migrate_connection
from worker.handlers import default_registry
from worker.log import configure as configure_logging
from worker.queue.context import JobContext
from worker.queue.jobs import NO_JOB, JobFinish
from worker.runtime.loop import run as run_loop
from worker.runtime.worker import Worker, WorkerSettings
from worker.safety import load_guard

PHASE_ORDER = (
    "gather: statements + row decoding",
    "analytics (without patterns)",
    "patterns",
    "input hash",
    "last report (statement; since 2026-11-30 read with the profile)",
    "prompt building",
    "HTTP request and response",
    "response JSON",
    "answer JSON extraction",
    "answer validation (pydantic, without the guard)",
    "medical-claim guard",
    "store: rows (CPU)",
    "store: statement",
    "other (pipeline glue, awaits, event loop)",
)


class Phases:
    """CPU time per phase; a phase's own time excludes the phases nested in it."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._stack: list[list[Any]] = []
        self.enabled = False

    def _enter(self, phase: str) -> None:
        self._stack.append([phase, time.process_time(), 0.0])

    def _leave(self) -> None:
        phase, started, children = self._stack.pop()
        elapsed = time.process_time() - started
        if self.enabled:
            self.totals[phase] += elapsed - children
        if self._stack:
            self._stack[-1][2] += elapsed

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._enter(name)
        try:
            yield
        finally:
            self._leave()

    def wrap(self, owner: Any, attribute: str, phase: str) -> None:
        original = getattr(owner, attribute)
        if asyncio.iscoroutinefunction(original):

            @functools.wraps(original)
            async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
                self._enter(phase)
                try:
                    return await original(*args, **kwargs)
                finally:
                    self._leave()

            setattr(owner, attribute, wrapped_async)
        else:

            @functools.wraps(original)
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                self._enter(phase)
                try:
                    return original(*args, **kwargs)
                finally:
                    self._leave()

            setattr(owner, attribute, wrapped)


def instrument(phases: Phases) -> None:
    phases.wrap(pipeline, "gather_week", "gather: statements + row decoding")
    phases.wrap(analytics, "analyse", "analytics (without patterns)")
    phases.wrap(analytics, "find_patterns", "patterns")
    phases.wrap(analytics.PatternInput, "from_raw_week", "patterns")
    phases.wrap(analytics, "input_hash", "input hash")
    phases.wrap(store, "last_report", "last report (statement; since 2026-11-30 read with the profile)")
    for name in ("story_messages", "analysis_messages", "moves_messages"):
        phases.wrap(prompts, name, "prompt building")
    phases.wrap(DeepSeekProvider, "_request", "HTTP request and response")
    phases.wrap(DeepSeekProvider, "_completion", "response JSON")
    phases.wrap(deepseek, "parse_answer", "answer validation (pydantic, without the guard)")
    phases.wrap(deepseek, "cap_confidence", "answer validation (pydantic, without the guard)")
    phases.wrap(deepseek, "extract_json_object", "answer JSON extraction")
    phases.wrap(report_module, "check_text", "medical-claim guard")
    phases.wrap(store, "store_report", "store: statement")
    phases.wrap(store, "report_rows", "store: rows (CPU)")


T = TypeVar("T")


class _RolledBackContext:
    """A JobContext stand-in on one connection whose ``complete`` rolls the effects back."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn
        self.completed = False

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        yield self.conn

    @contextlib.asynccontextmanager
    async def complete(self) -> AsyncIterator[AsyncConnection[Any]]:
        async with self.conn.transaction(force_rollback=True):
            yield self.conn

    @contextlib.asynccontextmanager
    async def complete_in_statement(self) -> AsyncIterator[tuple[AsyncConnection[Any], JobFinish]]:
        async with self.conn.transaction(force_rollback=True):
            yield self.conn, NO_JOB  # no job row here: the statement finishes none

    def mark_finished(self) -> None:
        self.completed = True

    async def outlast_outage(self, step: Callable[[], Awaitable[T]]) -> T:
        return await step()


def _settings(url: str, concurrency: int) -> AISettings:
    return AISettings(
        provider="deepseek",
        api_key=weekly_run.BENCH_API_KEY,
        base_url=url,
        model=weekly_run.MODEL,
        max_concurrency=concurrency,
    )


async def sequential(
    url: str, fake_url: str, user_ids: list[Any], warmup: int, profiler: cProfile.Profile | None
) -> tuple[Phases, int, float]:
    phases = Phases()
    instrument(phases)
    provider = DeepSeekProvider(_settings(fake_url, 16))
    counted = 0
    total = 0.0
    try:
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            weeks = []
            for user_id in user_ids:
                cur = await conn.execute("select public.user_week_of(%s)", [user_id])
                row = await cur.fetchone()
                assert row is not None
                weeks.append((user_id, row[0]))
            context = cast(JobContext, _RolledBackContext(conn))
            for index, (user_id, week_of) in enumerate(weeks):
                measuring = index >= warmup
                phases.enabled = measuring
                if measuring and profiler is not None:
                    profiler.enable()
                started = time.process_time()
                with phases.phase("other (pipeline glue, awaits, event loop)"):
                    outcome = await pipeline.run_weekly_analysis(
                        context, provider, user_id, pipeline.WeeklyPayload(week_of=week_of)
                    )
                if measuring:
                    total += time.process_time() - started
                    counted += 1
                    if profiler is not None:
                        profiler.disable()
                if outcome.status != "stored":
                    raise RuntimeError(f"person-week {index}: {outcome.status}")
    finally:
        await provider.aclose()
    return phases, counted, total


class GcMeter:
    """The cyclic collector's collections and their CPU time by generation, while on."""

    def __init__(self) -> None:
        self.on = False
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started: dict[int, float] = {}
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        generation = info["generation"]
        if phase == "start":
            self._started[generation] = time.process_time()
        elif self.on and generation in self._started:
            self.counts[generation] += 1
            self.seconds[generation] += time.process_time() - self._started.pop(generation)

    def summary(self) -> str:
        return ", ".join(
            f"generation {g}: {self.counts[g]} in {self.seconds[g] * 1000:.0f} ms" for g in range(3)
        )


@dataclass(frozen=True)
class ConcurrentRun:
    """A run of the real Worker: CPU seconds of this process (and of them, in user code and in
    the kernel), wall seconds, and how often the process went to sleep waiting (voluntary
    context switches)."""

    cpu: float
    wall: float
    user: float
    kernel: float
    sleeps: int


async def concurrent(
    url: str,
    fake_url: str,
    people: int,
    concurrency: int,
    profiler: cProfile.Profile | None,
    *,
    settle: bool = True,
    meter: GcMeter | None = None,
    gc_threshold: int = 0,
) -> ConcurrentRun:
    """The real Worker over every person: this process's CPU and the wall time."""
    stop = asyncio.Event()
    task = _start_worker(url, fake_url, concurrency, settle, stop)
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await _until_listening(conn, task)
        if gc_threshold:
            gc.set_threshold(gc_threshold, *gc.get_threshold()[1:])
        cpu0, wall0 = time.process_time(), time.monotonic()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        if meter is not None:
            meter.on = True
        if profiler is not None:
            profiler.enable()
        await conn.execute("select public.enqueue_weekly_analysis()")
        while True:
            cur = await conn.execute(
                "select count(*) filter (where status in ('succeeded', 'failed')),"
                " count(*) filter (where status = 'failed') from public.jobs where kind = 'weekly_analysis'"
            )
            row = await cur.fetchone()
            assert row is not None
            if row[0] >= people:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.2)
        if profiler is not None:
            profiler.disable()
        if meter is not None:
            meter.on = False
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        usage = resource.getrusage(resource.RUSAGE_SELF)
        if row[1]:
            raise RuntimeError(f"{row[1]} jobs failed")
    stop.set()
    await task
    return ConcurrentRun(
        cpu=cpu,
        wall=wall,
        user=usage.ru_utime - usage0.ru_utime,
        kernel=usage.ru_stime - usage0.ru_stime,
        sleeps=usage.ru_nvcsw - usage0.ru_nvcsw,
    )


def _start_worker(
    url: str, fake_url: str, concurrency: int, settle: bool, stop: asyncio.Event
) -> asyncio.Task[None]:
    """The real Worker, running until ``stop`` is set."""
    worker = Worker(
        url,
        default_registry(_settings(fake_url, concurrency)),
        WorkerSettings(concurrency=concurrency, poll_seconds=0.5),
        settle_heap=settle,  # as `python -m worker run` does, unless --no-settle-heap
    )
    return asyncio.create_task(worker.run(stop))


async def _until_listening(conn: AsyncConnection[Any], task: asyncio.Task[None]) -> None:
    """Until the worker has started: its helpers run once its LISTEN connection is open."""
    while True:
        cur = await conn.execute("select count(*) from pg_stat_activity where query ilike 'listen proxima%%'")
        row = await cur.fetchone()
        if row and row[0]:
            return
        if task.done():
            task.result()
        await asyncio.sleep(0.1)


async def idle(
    url: str,
    fake_url: str,
    concurrency: int,
    seconds: float,
    profiler: cProfile.Profile | None,
    *,
    settle: bool = True,
) -> float:
    """The real Worker with nothing to do: CPU seconds of this process over ``seconds``."""
    stop = asyncio.Event()
    task = _start_worker(url, fake_url, concurrency, settle, stop)
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await _until_listening(conn, task)
    await asyncio.sleep(1)  # past the start-up
    cpu0 = time.process_time()
    if profiler is not None:
        profiler.enable()
    await asyncio.sleep(seconds)
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - cpu0
    stop.set()
    await task
    return cpu


def _profile_text(profiler: cProfile.Profile, top: int, over: str) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return f"cProfile, own time over {over}, top {top}:\n\n```\n{out.getvalue().strip()}\n```"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=500, help="people loaded and run (500)")
    parser.add_argument("--warmup", type=int, default=50, help="people run first, not counted (50)")
    parser.add_argument("--concurrent", type=int, default=0, help="run the real Worker with this many slots")
    parser.add_argument("--latency", type=float, default=0.001, help="the fake server's latency (0.001 s)")
    parser.add_argument("--cprofile", type=int, default=0, help="print the top K functions by own time")
    parser.add_argument(
        "--cprofile-dump", type=Path, default=None, help="also write the profile to this file (pstats)"
    )
    parser.add_argument(
        "--gc-threshold",
        type=int,
        default=0,
        help="with --concurrent: the collector's generation-0 threshold once the worker started "
        "(the worker's own: 10,000 once its heap is settled; Python's default: 700)",
    )
    parser.add_argument(
        "--no-settle-heap",
        action="store_true",
        help="with --concurrent: leave the start-up heap to the collector (the worker before settle_heap)",
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=0,
        help="instead: the CPU of a started Worker with nothing to do over this many seconds",
    )
    weekly_run.add_answers_option(parser)
    args = parser.parse_args(argv)
    if args.gc_threshold < 0:
        parser.error("--gc-threshold must be 0 (unchanged) or more")
    if not 0 <= args.idle <= 3600:
        parser.error("--idle must be between 0 (off) and 3600 seconds")
    compiled = compiled_modules()
    if compiled and not (args.concurrent or args.idle):
        # Compiled code calls the functions of its own modules directly, past the wrappers
        # that time each phase: the table would credit their time to the wrong phases.
        parser.error(
            f"the phases cannot be timed on compiled modules ({', '.join(compiled)}): "
            "use --concurrent N, which measures the whole process"
        )
    configure_logging("WARNING")
    load_guard()
    cluster = weekly_run.BenchCluster.ephemeral()
    log_dir = Path(tempfile.mkdtemp(prefix="worker-cpu-"))
    fake_log = open(log_dir / "fake.log", "wb")  # noqa: SIM115 - closed in the finally
    fake: weekly_run.FakeServerProcess | None = None
    try:
        cluster.start()
        url = cluster.url()
        with psycopg.connect(url, autocommit=True) as conn:
            migrate_connection(conn)
        now = dt.datetime.now(dt.UTC)
        seed = None if args.idle else weekly_run.seed_people(url, args.people, 1, now, keep_tz_check=False)
        concurrency = max(1, args.concurrent or (200 if args.idle else 1))
        fake = weekly_run.FakeServerProcess(
            args.latency, max(16, concurrency), args.people * 3 + 100, fake_log, args.answers
        )
        profiler = cProfile.Profile(time.process_time) if args.cprofile else None
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        print(
            f"`bench/worker_cpu.py {' '.join(sys.argv[1:])}`, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
            f"load average before {load}, {os.cpu_count()} cores\n"
        )
        if args.idle:
            cpu = run_loop(
                idle(url, fake.url, concurrency, args.idle, profiler, settle=not args.no_settle_heap)
            )
            print("| Mode | Seconds | Worker CPU | Cores |\n|---|---|---|---|")
            print(
                f"| real Worker, {concurrency} slots, nothing to do | {args.idle:g} s "
                f"| {cpu * 1000:.0f} ms | {cpu / args.idle:.4f} |"
            )
            if profiler is not None:
                print()
                print(_profile_text(profiler, args.cprofile, f"{args.idle:g} idle seconds"))
            return 0
        if args.concurrent:
            meter = GcMeter()
            run = run_loop(
                concurrent(
                    url,
                    fake.url,
                    args.people,
                    args.concurrent,
                    profiler,
                    settle=not args.no_settle_heap,
                    meter=meter,
                    gc_threshold=args.gc_threshold,
                )
            )
            heap = "start-up heap left to the collector" if args.no_settle_heap else "start-up heap frozen"
            if args.gc_threshold:
                heap += f", generation-0 threshold {args.gc_threshold}"
            elif not args.no_settle_heap:
                heap += f", generation-0 threshold {gc.get_threshold()[0]} (the worker's)"
            print("| Mode | Person-weeks | Wall | Worker CPU per person-week |\n|---|---|---|---|")
            print(
                f"| real Worker, {args.concurrent} in flight, latency {args.latency:g} s, {heap} "
                f"| {args.people:,} | {run.wall:.1f} s | {run.cpu * 1000 / args.people:.2f} ms |"
            )
            print(
                f"\nOf which in user code {run.user * 1000 / args.people:.2f} ms and in the kernel "
                f"{run.kernel * 1000 / args.people:.2f} ms a person-week; the process went to sleep "
                f"{run.sleeps / args.people:.1f} times a person-week (voluntary context switches)."
            )
            print(f"\nCyclic collections during the run: {meter.summary()}.")
            per = args.people
        else:
            assert seed is not None
            ids = seed.user_ids
            phases, counted, total = run_loop(sequential(url, fake.url, ids, args.warmup, profiler))
            print(f"Sequential, {counted} person-weeks after {args.warmup} warm-up ones:\n")
            print("| Phase | CPU ms per person-week | Share |\n|---|---|---|")
            for name in PHASE_ORDER:
                value = phases.totals.get(name, 0.0)
                print(f"| {name} | {value * 1000 / counted:.3f} | {value / total:.1%} |")
            print(f"| **total** | **{total * 1000 / counted:.3f}** | |")
            per = counted
        if profiler is not None:
            print()
            print(_profile_text(profiler, args.cprofile, f"{per} person-weeks"))
            if args.cprofile_dump is not None:
                profiler.dump_stats(args.cprofile_dump)
        return 0
    finally:
        if fake is not None:
            fake.close()
        fake_log.close()
        cluster.stop()


if __name__ == "__main__":
    raise SystemExit(main())
