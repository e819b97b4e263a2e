"""The chaos run: the weekly batch and PDF exports through real worker processes while
workers are SIGKILLed, PostgreSQL restarts and the model and Storage servers misbehave.

Used by ``tests/chaos/test_chaos.py`` (a size that fits ``make test``) and by
``bench/chaos.py`` (full size). One run:

1. a dedicated private cluster (``LocalCluster.ephemeral()``, never the test session's:
   it is restarted) and a database ``proxima_chaos`` holding every migration (pg_cron,
   which runs in ``postgres``, never touches it);
2. ``people`` synthetic people loaded by ``bench/weekly_run.py``'s ``seed_people`` (imported,
   not copied: five weeks each and a story of their own for the current week, so each
   person-week takes exactly two model round trips); ``exports`` of them request a PDF
   of all their stories as themselves (``request_export``: ``request_pdf_export`` under RLS);
3. ``FakeDeepSeek`` and ``FakeStorage`` in this process, each behind a :class:`ChaosProxy`:
   a seeded ``model_fault_rate`` of chat completions answered 429 (``Retry-After: 1``), 500,
   held past ``DEEPSEEK_TIMEOUT`` or 200 with a body that is not JSON; a
   ``storage_fault_rate`` of uploads answered 503 by the "gateway";
4. ``workers`` ``python -m worker run --no-schedule`` processes (``DATABASE_URL``,
   ``DEEPSEEK_API_KEY``, ``DEEPSEEK_BASE_URL`` = the model proxy, ``DEEPSEEK_TIMEOUT``,
   ``SUPABASE_URL`` = the Storage proxy and its key; ``PROXIMA_ENV`` and ``PORT`` unset);
   once all have started, ``select public.enqueue_weekly_analysis()`` (each person's
   due week: the seeded one);
5. until every job has ended (or ``timeout``): every ``kill_every`` seconds a random worker
   that has finished starting is SIGKILLed and a replacement started at once; once, when
   ``restart_at`` of the jobs have ended, PostgreSQL is restarted on the same port after
   ``down_seconds`` of outage;
6. the workers are stopped with SIGTERM and the invariants checked (:func:`check`).

An instrument is added to the run's own database, nothing to the worker: a trigger on
``public.jobs`` writes every change of a job's status or attempt count to
``chaos.job_events`` (server clock), from which come the rescue delays after kills, the
first claims after the restart and the attempts lost by cause.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

PROJECT_ROOT = Path(__file__).resolve().parents[2]
for _folder in (PROJECT_ROOT, PROJECT_ROOT / "tests" / "support"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from chaos_proxy import ChaosProxy, chat_completions, storage_uploads  # noqa: E402
from fake_deepseek import FakeDeepSeek  # noqa: E402
from fake_storage import FakeStorage  # noqa: E402

from bench.weekly_run import seed_people  # noqa: E402 - the project root is on the path now
from worker.config import DatabaseTarget  # noqa: E402
from worker.db.devdb import LocalCluster  # noqa: E402
from worker.db.migrate import migrate  # noqa: E402
from worker.exporting import request_export  # noqa: E402

__all__ = ["ChaosConfig", "ChaosResult", "run_chaos"]

DATABASE = "proxima_chaos"
API_KEY = "sk-chaos-run"  # the fake server checks it; nothing real
SERVICE_KEY = "service-role-key-for-the-chaos-run"
BUCKET = "health-exports"
APPLICATION = "proxima-chaos-worker"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
POLL_S = 0.25
RESUME_WAIT_S = 60.0  # after the restart, kills wait this long at most for the survivors' first claims
ROUND_TRIPS = 2
# Settings a worker must not inherit from the shell that runs the harness.
_INHERITED_OUT = (
    "DATABASE_URL",
    "DEEPSEEK_",
    "SUPABASE_",
    "PROXIMA_ENV",
    "PROXIMA_AI_PROVIDER",
    "PORT",
    "SMTP_",
)

_EVENTS_SQL = """
create schema if not exists chaos;
create table chaos.job_events (
  seq bigserial primary key,
  job_id bigint not null,
  kind text not null,
  old_status text,
  new_status text not null,
  attempts integer not null,
  lease_owner text,
  last_error text,
  at timestamptz not null default clock_timestamp()
);
create function chaos.record_job_event() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' or new.status is distinct from old.status or new.attempts is distinct from old.attempts then
    insert into chaos.job_events (job_id, kind, old_status, new_status, attempts, lease_owner, last_error)
    values (new.id, new.kind, case when tg_op = 'UPDATE' then old.status end, new.status, new.attempts,
            new.lease_owner, new.last_error);
  end if;
  return null;
end
$$;
create trigger chaos_job_events after insert or update on public.jobs
  for each row execute function chaos.record_job_event();
"""


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] chaos: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ChaosConfig:
    people: int = 60
    exports: int = 10
    workers: int = 3
    kill_every: float = 2.0  # seconds between SIGKILLs (of a worker that has started)
    # Only a worker up (started) at least this long is killed: with kills faster than workers
    # start and warm up, the one started worker always holds the last jobs and is always the
    # one killed, and the run never ends (a livelock of the harness, not of the queue).
    min_up: float = 0.0
    # At most this many kills (None: no limit), and never the last started worker: on a slow
    # machine replacements take long to start, and the run must still make progress.
    max_kills: int | None = None
    restart_at: float = 0.4  # the share of jobs ended when PostgreSQL restarts (once)
    # ... and not before this many kills: on a fast machine 40% of the jobs can end before
    # the first kill, and after a restart kills wait for every survivor's first claim.
    kills_before_restart: int = 0
    down_seconds: float = 2.0  # the outage between the shutdown and the new start
    model_fault_rate: float = 0.3
    storage_fault_rate: float = 0.2
    latency: float = 0.1  # seconds per model answer (the fake server)
    deepseek_timeout: float = 3.0
    deepseek_max_attempts: int = 3  # requests per model call (DEEPSEEK_MAX_ATTEMPTS; the worker's default)
    job_max_attempts: int | None = None  # set on every job after the enqueue; None keeps the 5 enqueued
    worker_concurrency: int = 8  # job slots per process (DEEPSEEK_MAX_CONCURRENCY too)
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    timeout: float = 600.0  # bound on the run, enqueue to the last job's end
    seed: int = 1
    log_dir: Path | None = None
    # A folder holding another copy of the ``worker`` package (``git archive HEAD worker``) for the
    # worker processes to run instead of this checkout's: to measure a commit while the tree changes.
    worker_tree: Path | None = None


# -- the result -------------------------------------------------------------------------------------


@dataclass
class KillRecord:
    at: dt.datetime  # server clock, just after the process was gone
    pid: int
    jobs: list[int]  # the jobs it held (status running under its lease) when it died


@dataclass
class RestartRecord:
    down_at: dt.datetime  # server clock just before the shutdown
    up_at: dt.datetime  # server clock at the first query after the new start
    seconds: float  # harness clock: shutdown + outage + start
    running: dict[int, int]  # job id -> its attempt, running when the server went down
    done_before: int
    workers: list[int]  # pids of the workers that had started, at the restart


@dataclass
class ChaosResult:
    config: ChaosConfig
    person_weeks: int = 0
    exports: int = 0
    jobs_by_status: dict[str, dict[str, int]] = field(default_factory=dict)
    finished: bool = False
    wall_s: float = 0.0  # server clock: just before the enqueue -> the last job's finished_at
    harness_s: float = 0.0  # the whole run, setup included
    setup_s: float = 0.0
    kills: list[KillRecord] = field(default_factory=list)
    restarts: list[RestartRecord] = field(default_factory=list)
    unexpected_exits: list[int] = field(default_factory=list)  # exit codes of workers that died on their own
    worker_starts_s: list[float] = field(default_factory=list)  # spawn -> "worker started"
    retries: int = 0  # sum over jobs of attempts - 1
    attempts_lost_by_cause: dict[str, int] = field(default_factory=dict)
    failed_by_cause: dict[str, list[str]] = field(default_factory=dict)
    model_faults: dict[str, Any] = field(default_factory=dict)
    storage_faults: dict[str, Any] = field(default_factory=dict)
    model_answers: int = 0  # answers the fake model server sent (faults excluded)
    uploads_stored: int = 0  # upload requests the fake Storage accepted
    reuploads: int = 0  # objects written more than once (a retried export)
    failed_generations: int = 0
    rescue_delays_s: list[float] = field(default_factory=list)  # kill -> the orphan queued again
    reclaim_delays_s: list[float] = field(default_factory=list)  # kill -> the orphan claimed again
    orphan_outcomes: dict[str, int] = field(default_factory=dict)
    restart_findings: dict[str, Any] = field(default_factory=dict)
    worker_events: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    log_dir: Path | None = None

    @property
    def orphans(self) -> int:
        return sum(len(k.jobs) for k in self.kills)

    def summary(self, command: str | None = None) -> str:
        return render(self, command)


# -- worker processes -------------------------------------------------------------------------------


class WorkerProcess:
    def __init__(
        self, number: int, cmd: list[str], env: dict[str, str], log_path: Path, cwd: Path = PROJECT_ROOT
    ) -> None:
        self.number = number
        self.log_path = log_path
        self.spawned = time.monotonic()
        self.started_after: float | None = None
        self.killed = False
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def up_for(self) -> float:
        """Seconds since it logged "worker started" (0 before)."""
        if not self.ready() or self.started_after is None:
            return 0.0
        return time.monotonic() - self.spawned - self.started_after

    def ready(self) -> bool:
        """Whether it has logged "worker started" (its pool open, its loops running)."""
        if self.started_after is None and self.proc.poll() is None:
            with contextlib.suppress(FileNotFoundError), open(self.log_path, "rb") as log:
                if b'"worker started"' in log.read():
                    self.started_after = time.monotonic() - self.spawned
        return self.started_after is not None and self.proc.poll() is None

    def kill(self) -> None:
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


class Fleet:
    def __init__(
        self, config: ChaosConfig, url: str, model_url: str, storage_url: str, log_dir: Path
    ) -> None:
        self.config = config
        self.log_dir = log_dir
        env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_OUT)}
        env.update(
            {
                "DATABASE_URL": f"{url}?application_name={APPLICATION}",
                "DEEPSEEK_API_KEY": API_KEY,
                "DEEPSEEK_BASE_URL": model_url,
                "DEEPSEEK_TIMEOUT": f"{config.deepseek_timeout:g}",
                "DEEPSEEK_MAX_ATTEMPTS": str(config.deepseek_max_attempts),
                "DEEPSEEK_MAX_CONCURRENCY": str(config.worker_concurrency),
                "SUPABASE_URL": storage_url,
                "SUPABASE_SERVICE_ROLE_KEY": SERVICE_KEY,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if config.worker_tree is not None:
            env["PYTHONPATH"] = str(config.worker_tree)
        self.cwd = config.worker_tree or PROJECT_ROOT
        self.env = env
        self.cmd = [
            sys.executable,
            "-m",
            "worker",
            "run",
            "--no-schedule",
            "--concurrency",
            str(config.worker_concurrency),
            "--lease",
            f"{config.lease_seconds:g}",
            "--poll",
            f"{config.poll_seconds:g}",
            "--log-level",
            "INFO",
        ]
        self.live: list[WorkerProcess] = []
        self.gone: list[WorkerProcess] = []
        self._numbers = 0

    def spawn(self) -> WorkerProcess:
        worker = WorkerProcess(
            self._numbers, self.cmd, self.env, self.log_dir / f"worker-{self._numbers:03d}.log", self.cwd
        )
        self._numbers += 1
        self.live.append(worker)
        return worker

    def retire(self, worker: WorkerProcess) -> None:
        self.live.remove(worker)
        self.gone.append(worker)

    def all(self) -> list[WorkerProcess]:
        return [*self.gone, *self.live]

    def stop(self) -> None:
        for worker in self.live:
            if worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in self.live:
            try:
                worker.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                worker.proc.wait(5)


# -- the database side --------------------------------------------------------------------------------


class Monitor:
    """A harness connection that reconnects across the restart."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None

    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=3)
        return self._conn

    def rows(
        self, query: str | sql.Composed, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        for tries in (1, 2, 3):
            try:
                return self.conn().execute(query, params).fetchall()
            except psycopg.OperationalError:
                self.close()
                if tries == 3:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def one(self, query: str | sql.Composed, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        return self.rows(query, params)[0][0]

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None


def _pid_of(owner: str | None) -> int | None:
    parts = (owner or "").split(":")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


def cause_of(error: str | None) -> str:
    text = error or ""
    if text.startswith("worker lost"):
        return "worker lost (lease expired)"
    if "DeepSeek" in text:
        return "model"
    if "Storage" in text or "storage" in text:
        return "storage"
    if "SQLSTATE" in text or "connection" in text.lower() or "psycopg" in text:
        return "database"
    return "other" if text else "(no error)"


# -- the run ------------------------------------------------------------------------------------------


def run_chaos(config: ChaosConfig) -> ChaosResult:
    result = ChaosResult(config)
    started = time.monotonic()
    log_dir = config.log_dir or Path(tempfile.mkdtemp(prefix="proxima-chaos-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    result.log_dir = log_dir
    rng = random.Random(config.seed)
    cluster = LocalCluster.ephemeral()
    with contextlib.ExitStack() as stack:
        note("starting PostgreSQL")
        cluster.start()
        stack.callback(cluster.stop)
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
        url = cluster.url(DATABASE)
        migrate(DatabaseTarget(url))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(_EVENTS_SQL)
        note(f"loading {config.people} people")
        now = dt.datetime.now(dt.UTC)
        seeded = seed_people(url, config.people, config.seed, now, keep_tz_check=False)
        fake = stack.enter_context(
            FakeDeepSeek(api_key=API_KEY, latency=config.latency, max_recorded=config.people * 20 + 1000)
        )
        storage = stack.enter_context(FakeStorage(service_key=SERVICE_KEY, buckets=(BUCKET,)))
        model_proxy = stack.enter_context(
            ChaosProxy(
                fake.url,
                rate=config.model_fault_rate,
                seed=config.seed,
                kinds=("429", "500", "timeout", "garbage"),
                eligible=chat_completions,
                retry_after=1.0,
                hold_seconds=config.deepseek_timeout + 2.0,
            )
        )
        storage_proxy = stack.enter_context(
            ChaosProxy(
                storage.url,
                rate=config.storage_fault_rate,
                seed=config.seed + 1,
                kinds=("503",),
                eligible=storage_uploads,
                gateway_text=True,
            )
        )
        fleet = Fleet(config, url, model_proxy.url, storage_proxy.url, log_dir)
        stack.callback(fleet.stop)
        note(f"starting {config.workers} workers (logs in {log_dir})")
        for _ in range(config.workers):
            fleet.spawn()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(w.ready() for w in fleet.live):
            for worker in fleet.live:
                if worker.proc.poll() is not None:
                    raise RuntimeError(f"a worker exited during start-up with code {worker.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the workers did not start within {READY_TIMEOUT_S:.0f} s")
            time.sleep(0.2)
        note(f"workers started in {', '.join(f'{w.started_after:.1f}' for w in fleet.live)} s")

        export_users = seeded.user_ids[: config.exports]
        export_ids = [
            request_export(url, user, None, include_analysis=True, include_notes=True)
            for user in export_users
        ]
        monitor = Monitor(url)
        stack.callback(monitor.close)
        t0: dt.datetime = monitor.one("select clock_timestamp()")
        enqueued = int(monitor.one("select public.enqueue_weekly_analysis()"))
        if enqueued != config.people:
            raise RuntimeError(f"enqueued {enqueued} weekly jobs for {config.people} people")
        total = enqueued + len(export_ids)
        if config.job_max_attempts is not None:
            monitor.rows("update public.jobs set max_attempts = %s returning id", [config.job_max_attempts])
        result.setup_s = time.monotonic() - started
        note(f"enqueued {enqueued} weekly jobs and {len(export_ids)} exports")

        _drive(config, result, cluster, fleet, monitor, rng, total)
        note("stopping the workers")
        fleet.stop()
        result.wall_s = (
            float(
                monitor.one("select extract(epoch from max(finished_at) - %s) from public.jobs", [t0]) or 0.0
            )
            if result.finished
            else 0.0
        )
        result.person_weeks = enqueued
        result.exports = len(export_ids)
        result.model_faults = model_proxy.stats()
        result.storage_faults = storage_proxy.stats()
        result.model_answers = len(fake.requests)
        uploads = [r for r in storage.requests if storage_uploads(r.method, r.path)]
        result.uploads_stored = len(uploads)  # the proxy answered the refused ones itself
        check(result, monitor, storage, export_ids)
        _measure(result, monitor, fleet)
        result.worker_starts_s = [w.started_after for w in fleet.all() if w.started_after is not None]
        result.harness_s = time.monotonic() - started
    return result


def _drive(
    config: ChaosConfig,
    result: ChaosResult,
    cluster: LocalCluster,
    fleet: Fleet,
    monitor: Monitor,
    rng: random.Random,
    total: int,
) -> None:
    started = time.monotonic()
    next_kill = started + config.kill_every
    shown = started
    resumed_by = started
    while True:
        now = time.monotonic()
        if now - started > config.timeout:
            note(f"NOT FINISHED within {config.timeout:.0f} s")
            result.problems.append(f"the run did not finish within {config.timeout:.0f} s")
            return
        counts = dict(
            monitor.rows("select status, count(*)::int from public.jobs group by status")  # type: ignore[arg-type]
        )
        done = counts.get("succeeded", 0) + counts.get("failed", 0)
        unfinished = counts.get("queued", 0) + counts.get("running", 0)
        if unfinished == 0:
            result.finished = True
            return
        if now - shown >= 10:
            shown = now
            note(f"{done}/{total} ended after {now - started:.0f} s; {len(result.kills)} kills; {counts}")
        # Workers that ended on their own (not killed here) are replaced too, and counted.
        for worker in list(fleet.live):
            if worker.proc.poll() is not None and not worker.killed:
                result.unexpected_exits.append(worker.proc.returncode)
                note(f"worker {worker.number} exited by itself (code {worker.proc.returncode}); replacing it")
                fleet.retire(worker)
                fleet.spawn()
        if (
            not result.restarts
            and config.restart_at < 1
            and done >= config.restart_at * total
            and len(result.kills) >= config.kills_before_restart
        ):
            _restart(config, result, cluster, monitor, done, [w.pid for w in fleet.live if w.ready()])
            resumed_by = time.monotonic() + RESUME_WAIT_S
            continue
        if result.restarts and not _resumed(result.restarts[-1], monitor, fleet) and now < resumed_by:
            time.sleep(POLL_S)  # no kills until every surviving worker has claimed again
            continue
        room = config.max_kills is None or len(result.kills) < config.max_kills
        if now >= next_kill and room:
            started_workers = [w for w in fleet.live if w.ready()]
            ready = [w for w in started_workers if w.up_for() >= config.min_up]
            if ready and len(started_workers) >= 2:
                # A worker holding jobs when there is one: on a fast machine most of the
                # run can be over by the first kill, and a kill of an idle worker tests
                # nothing of the leases.
                holding = {
                    _pid_of(r[0])
                    for r in monitor.rows(
                        "select distinct lease_owner from public.jobs where status = 'running'"
                    )
                }
                victim = rng.choice([w for w in ready if w.pid in holding] or ready)
                victim.kill()
                at: dt.datetime = monitor.one("select clock_timestamp()")
                held = [
                    int(r[0])
                    for r in monitor.rows(
                        "select id from public.jobs where status = 'running' and lease_owner like %s",
                        [f"%:{victim.pid}:%"],
                    )
                ]
                result.kills.append(KillRecord(at, victim.pid, held))
                fleet.retire(victim)
                fleet.spawn()
                next_kill = time.monotonic() + config.kill_every
        time.sleep(POLL_S)


def _resumed(restart: RestartRecord, monitor: Monitor, fleet: Fleet) -> bool:
    """Whether every worker that was up at the restart, and still is, has claimed a job since."""
    alive = {w.pid for w in fleet.live} & set(restart.workers)
    claimed = {
        _pid_of(r[0])
        for r in monitor.rows(
            "select distinct lease_owner from chaos.job_events where new_status = 'running' and at >= %s",
            [restart.up_at],
        )
    }
    return alive <= claimed


def _restart(
    config: ChaosConfig,
    result: ChaosResult,
    cluster: LocalCluster,
    monitor: Monitor,
    done: int,
    workers: list[int],
) -> None:
    # Jobs under a live worker's lease; those still 'running' under a worker killed earlier
    # (their lease not yet expired) are the kills' doing, not the restart's.
    running = {
        int(r[0]): int(r[1])
        for r in monitor.rows("select id, attempts, lease_owner from public.jobs where status = 'running'")
        if _pid_of(r[2]) in workers
    }
    down_at: dt.datetime = monitor.one("select clock_timestamp()")
    note(f"restarting PostgreSQL ({len(running)} jobs running, {done} ended, {config.down_seconds:g} s down)")
    monitor.close()
    begun = time.monotonic()
    cluster.restart(down_seconds=config.down_seconds)
    seconds = time.monotonic() - begun
    up_at: dt.datetime = monitor.one("select clock_timestamp()")
    result.restarts.append(RestartRecord(down_at, up_at, seconds, running, done, workers))
    note(f"PostgreSQL is back after {seconds:.1f} s")


# -- the invariants -----------------------------------------------------------------------------------


def check(
    result: ChaosResult, monitor: Monitor, storage: FakeStorage, export_ids: Sequence[uuid.UUID]
) -> None:
    """Every person-week one complete set of rows, every export one file, no job lost or doubled."""
    problems = result.problems
    by_status: dict[str, dict[str, int]] = collections.defaultdict(dict)
    for kind, status, count in monitor.rows(
        "select kind, status, count(*)::int from public.jobs group by 1, 2"
    ):
        by_status[kind][status] = count
    result.jobs_by_status = dict(by_status)
    for kind, statuses in by_status.items():
        for status, count in statuses.items():
            if status not in {"succeeded", "failed"}:
                problems.append(f"{count} {kind} jobs ended the run {status}")
    for dedupe_key, count in monitor.rows(
        "select dedupe_key, count(*)::int from public.jobs where dedupe_key is not null group by 1 having count(*) > 1"
    ):
        problems.append(f"{count} jobs share the dedupe key {dedupe_key}")
    unexplained = monitor.one(
        "select count(*) from public.jobs where status = 'failed' and coalesce(btrim(last_error), '') = ''"
    )
    if unexplained:
        problems.append(f"{unexplained} failed jobs have no error")
    if sum(by_status.get("weekly_analysis", {}).values()) != result.person_weeks:
        problems.append(
            f"{sum(by_status.get('weekly_analysis', {}).values())} weekly jobs for {result.person_weeks}"
        )
    if sum(by_status.get("export_pdf", {}).values()) != len(export_ids):
        problems.append(f"{sum(by_status.get('export_pdf', {}).values())} export jobs for {len(export_ids)}")
    others = set(by_status) - {"weekly_analysis", "export_pdf"}
    if others:
        problems.append(f"jobs of unexpected kinds: {sorted(others)}")

    # Person-weeks: the job's outcome against the generations and the four tables.
    jobs = {
        (r[0], r[1]): (str(r[2]), r[3])
        for r in monitor.rows(
            "select user_id, (payload->>'week_of')::date, status, last_error from public.jobs"
            " where kind = 'weekly_analysis'"
        )
    }
    generations: dict[tuple[Any, Any], list[Any]] = collections.defaultdict(list)
    failed_generations = 0
    for user, week, gen_id, status in monitor.rows(
        "select user_id, week_of, id, status from public.analysis_generations where trigger <> 'story'"
    ):
        if status == "succeeded":
            generations[(user, week)].append(gen_id)
        elif status == "failed":
            failed_generations += 1
    result.failed_generations = failed_generations
    tables = {
        "health_insights": (3, 5),
        "health_predictions": (2, 3),
        "strategic_moves": (3, 7),
        "shadow_patterns": (0, 10),
    }
    rows: dict[str, dict[tuple[Any, Any], dict[Any, int]]] = {}
    for table in tables:
        counts: dict[tuple[Any, Any], dict[Any, int]] = collections.defaultdict(dict)
        for user, week, gen_id, count in monitor.rows(
            sql.SQL(
                "select user_id, week_of, generation_id, count(*)::int from public.{} group by 1, 2, 3"
            ).format(sql.Identifier(table))
        ):
            counts[(user, week)][gen_id] = count
        rows[table] = counts
    unknown_weeks = {key for table in rows.values() for key in table} - set(jobs)
    if unknown_weeks:
        problems.append(f"rows of {len(unknown_weeks)} person-weeks that no job wrote")
    for key, (status, _error) in jobs.items():
        gens = generations.get(key, [])
        if status == "succeeded":
            if len(gens) != 1:
                problems.append(f"a succeeded person-week has {len(gens)} succeeded generations")
                continue
            for table, (low, high) in tables.items():
                found = rows[table].get(key, {})
                if set(found) - {gens[0]}:
                    problems.append(f"{table}: rows of another generation beside the week's own")
                if not low <= found.get(gens[0], 0) <= high:
                    problems.append(f"{table}: {found.get(gens[0], 0)} rows, expected {low} to {high}")
        elif status == "failed" and (gens or any(rows[table].get(key) for table in tables)):
            problems.append("a failed person-week has stored rows")
    if sum(len(g) for g in generations.values()) != sum(s == "succeeded" for s, _ in jobs.values()):
        problems.append("succeeded generations and succeeded weekly jobs differ in number")

    # Exports: ready with exactly its file, or failed with its error; nothing else stored.
    objects = storage.objects
    wanted: set[tuple[str, str]] = set()
    exports = monitor.rows(
        "select e.id, e.status, e.storage_path, e.file_size_bytes, e.error, j.status"
        "  from public.export_history e join public.jobs j on j.payload->>'export_id' = e.id::text"
        " where j.kind = 'export_pdf'"
    )
    if sorted(r[0] for r in exports) != sorted(export_ids):
        problems.append(f"{len(exports)} export rows with jobs for {len(export_ids)} exports")
    for _export_id, status, path, size, error, job_status in exports:
        if job_status == "succeeded":
            stored = objects.get((BUCKET, str(path))) if path else None
            wanted.add((BUCKET, str(path)))
            if status != "ready":
                problems.append(f"an export whose job succeeded is {status}")
            elif stored is None:
                problems.append("a ready export has no file in Storage")
            elif len(stored.data) != size or not stored.data.startswith(b"%PDF-"):
                problems.append("a ready export's file is not the PDF it records")
        elif status != "failed" or not error:
            problems.append(f"an export whose job {job_status} is {status} (error given: {bool(error)})")
        elif path:
            wanted.add((BUCKET, str(path)))  # a failed export may have left its file from an attempt
    strays = set(objects) - wanted
    if strays:
        problems.append(f"{len(strays)} objects in Storage belong to no export")
    result.reuploads = sum(1 for o in objects.values() if o.version > 1)


def _measure(result: ChaosResult, monitor: Monitor, fleet: Fleet) -> None:
    """What the worker did under each fault, from chaos.job_events and the workers' logs."""
    result.retries = int(monitor.one("select coalesce(sum(greatest(attempts - 1, 0)), 0) from public.jobs"))
    lost: collections.Counter[str] = collections.Counter()
    for (error,) in monitor.rows(
        "select last_error from chaos.job_events where old_status = 'running' and new_status in ('queued', 'failed')"
    ):
        lost[cause_of(error)] += 1
    result.attempts_lost_by_cause = dict(lost)
    failed: dict[str, list[str]] = collections.defaultdict(list)
    for kind, error in monitor.rows(
        "select kind, last_error from public.jobs where status = 'failed' order by id"
    ):
        failed[cause_of(error)].append(f"{kind}: {(error or '')[:160]}")
    result.failed_by_cause = dict(failed)

    # Kills: how long each orphan waited to be queued again and claimed again, and how it ended.
    outcomes: dict[int, str] = {}
    for kill in result.kills:
        for job_id in kill.jobs:
            events = monitor.rows(
                "select old_status, new_status, at from chaos.job_events where job_id = %s and at >= %s order by seq",
                [job_id, kill.at],
            )
            requeued = next((e[2] for e in events if e[0] == "running"), None)
            reclaimed = next((e[2] for e in events if e[1] == "running"), None)
            if requeued is not None:
                result.rescue_delays_s.append((requeued - kill.at).total_seconds())
            if reclaimed is not None:
                result.reclaim_delays_s.append((reclaimed - kill.at).total_seconds())
            outcomes[job_id] = str(monitor.one("select status from public.jobs where id = %s", [job_id]))
    result.orphan_outcomes = dict(collections.Counter(outcomes.values()))

    # The restart: when claims resumed, what became of the jobs that were running.
    for restart in result.restarts:
        first_claim = monitor.one(
            "select min(at) from chaos.job_events where new_status = 'running' and at >= %s", [restart.up_at]
        )
        resumed: dict[int, float] = {}
        for owner, at in monitor.rows(
            "select lease_owner, min(at) from chaos.job_events where new_status = 'running' and at >= %s group by 1",
            [restart.up_at],
        ):
            pid = _pid_of(owner)
            if pid is not None:
                resumed[pid] = (at - restart.up_at).total_seconds()
        # The workers that were up at the restart: when each claimed again (killed ones may never have).
        survivors = {pid: resumed[pid] for pid in restart.workers if pid in resumed}
        fates: collections.Counter[str] = collections.Counter()
        extra_attempts = 0
        rerun_after_s: list[float] = []
        for job_id, attempt in restart.running.items():
            events = monitor.rows(
                "select old_status, new_status, attempts, last_error, at from chaos.job_events"
                " where job_id = %s and at >= %s order by seq",
                [job_id, restart.down_at],
            )
            ended = next((e for e in events if e[0] == "running"), None)
            killed = ended is not None and any(
                job_id in kill.jobs and restart.down_at <= kill.at <= ended[4] for kill in result.kills
            )
            if ended is None:
                fates["ended just before the shutdown"] += 1
            elif ended[1] == "succeeded" and ended[2] == attempt:
                fates["finished its attempt"] += 1
            elif killed:
                fates["attempt lost: its worker was SIGKILLed after the restart"] += 1
            else:
                fates[f"attempt lost: {cause_of(ended[3])}"] += 1
                next_claim = next((e for e in events if e[1] == "running"), None)
                if next_claim is not None:
                    rerun_after_s.append((next_claim[4] - restart.up_at).total_seconds())
            final = int(monitor.one("select attempts from public.jobs where id = %s", [job_id]))
            extra_attempts += final - attempt
        result.restart_findings = {
            "down_s": (restart.up_at - restart.down_at).total_seconds(),
            "first_claim_after_s": (first_claim - restart.up_at).total_seconds() if first_claim else None,
            "claims_resumed_by_worker_s": sorted(survivors.values()),
            "running_at_restart": len(restart.running),
            "fates": dict(fates),
            "attempts_spent_after": extra_attempts,
            "rerun_after_up_s": sorted(rerun_after_s),
            "done_before": restart.done_before,
        }

    logged: collections.Counter[str] = collections.Counter()
    for worker in fleet.all():
        with contextlib.suppress(FileNotFoundError), open(worker.log_path, "rb") as log:
            for line in log:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict) and entry.get("level") in {"warning", "error", "critical"}:
                    logged[_event_name(entry.get("event"))] += 1
    result.worker_events = dict(logged.most_common())


def _event_name(event: Any) -> str:
    """A logged event's name with addresses, ports and details left out (pool messages carry them)."""
    text = str(event).splitlines()[0]
    text = re.sub(r"0x[0-9a-f]+", "0x..", text)
    text = re.sub(r"port \d+", "port N", text)
    return text.split(": connection failed:")[0][:100]


# -- the summary ----------------------------------------------------------------------------------------


def _spread(values: Sequence[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, math.ceil(0.95 * len(ordered)) - 1))]
    return f"median {statistics.median(ordered):.1f} s, p95 {p95:.1f} s, max {ordered[-1]:.1f} s (n={len(ordered)})"


def render(result: ChaosResult, command: str | None = None) -> str:
    config = result.config
    weekly = result.jobs_by_status.get("weekly_analysis", {})
    exports = result.jobs_by_status.get("export_pdf", {})
    restart = result.restart_findings
    model_faults = result.model_faults.get("faults", {})
    storage_faults = result.storage_faults.get("faults", {})
    minimum = ROUND_TRIPS * weekly.get("succeeded", 0)
    lines = []
    if command:
        lines += [f"`{command}`", ""]
    lines += [
        "| Figure | Value |",
        "|---|---|",
        f"| Person-weeks (weekly jobs): succeeded / failed | {weekly.get('succeeded', 0)} / {weekly.get('failed', 0)} of {result.person_weeks} |",
        f"| Exports: succeeded / failed | {exports.get('succeeded', 0)} / {exports.get('failed', 0)} of {result.exports} |",
        f"| Invariants (one set of rows per person-week, one file per export, nothing lost or doubled) | {'all hold' if not result.problems else '**' + str(len(result.problems)) + ' problems**'} |",
        f"| Wall time, enqueue -> last job ended (server clock) | {result.wall_s:.1f} s{'' if result.finished else ' (**did not finish**)'} |",
        f"| Whole run, setup included | {result.harness_s:.0f} s (setup {result.setup_s:.0f} s) |",
        f"| Worker processes / SIGKILLs survived (every {config.kill_every:g} s, a started worker, one holding jobs when any does) | {config.workers} / {len(result.kills)} |",
        f"| Jobs held by killed workers: orphanings / distinct jobs, how those jobs ended | {result.orphans} / {sum(result.orphan_outcomes.values())}, {result.orphan_outcomes} |",
        f"| Orphan: kill -> queued again by a rescue (lease {config.lease_seconds:g} s) | {_spread(result.rescue_delays_s)} |",
        f"| Orphan: kill -> claimed again | {_spread(result.reclaim_delays_s)} |",
        f"| Worker start (spawn -> 'worker started') | {_spread(result.worker_starts_s)} |",
        f"| Workers that exited by themselves (exit codes) | {result.unexpected_exits or 'none'} |",
        f"| PostgreSQL restarts / outage (shutdown -> accepting) | {len(result.restarts)} / "
        + (f"{restart.get('down_s', 0):.1f} s" if restart else "-")
        + " |",
    ]
    if restart:
        first = restart.get("first_claim_after_s")
        lines += [
            f"| Restart at {restart['done_before']} jobs ended: first claim after the database is back | {'-' if first is None else f'{first:.1f} s'} |",
            f"| Each surviving worker's first claim after the database is back | {', '.join(f'{s:.1f} s' for s in restart['claims_resumed_by_worker_s']) or '-'} |",
            f"| Jobs running at the restart: what became of their attempt | {restart['running_at_restart']}: {restart['fates']} |",
            f"| Attempts those jobs spent after the restart / their re-runs began (after the database was back) | {restart['attempts_spent_after']} / {_spread(restart['rerun_after_up_s'])} |",
        ]
    lines += [
        f"| Retries (sum of attempts - 1 over all jobs) | {result.retries} |",
        f"| Attempts lost, by cause | {result.attempts_lost_by_cause or '-'} |",
        f"| Jobs failed for good, by cause | {({k: len(v) for k, v in result.failed_by_cause.items()}) or 'none'} |",
        f"| Model proxy ({config.model_fault_rate:.0%} of chat completions): requests / faults | {result.model_faults.get('requests', 0)} / {sum(model_faults.values())} {model_faults} |",
        f"| Model answers sent by the fake server / needed ({ROUND_TRIPS} per succeeded person-week) | {result.model_answers} / {minimum} ({result.model_answers - minimum} thrown away with lost attempts) |",
        f"| Failed generations recorded (audit trail) | {result.failed_generations} |",
        f"| Storage proxy ({config.storage_fault_rate:.0%} of uploads): requests / 503s | {result.storage_faults.get('requests', 0)} / {sum(storage_faults.values())} |",
        f"| Uploads stored / files written more than once | {result.uploads_stored} / {result.reuploads} |",
        f"| Worker warnings and errors logged, by event | {result.worker_events or '-'} |",
    ]
    if result.problems:
        lines += ["", "Problems:", ""] + [f"- {p}" for p in result.problems[:30]]
    if result.failed_by_cause:
        lines += ["", "Failed jobs (first of each cause):", ""]
        lines += [
            f"- {cause} ({len(errors)}): `{errors[0]}`" for cause, errors in result.failed_by_cause.items()
        ]
    settings = dataclasses.asdict(config)
    settings.pop("log_dir", None)
    lines += ["", f"Settings: {settings}; logs in {result.log_dir}"]
    return "\n".join(lines)
