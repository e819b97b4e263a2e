"""The worker loop in process: retries, permanent failures, bad input, timeouts."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import subprocess
import sys
from typing import Any

import psycopg
from queue_support import PROJECT, probe_registry, run_worker, scalar

from worker.ai.slots import request_priority
from worker.config import AISettings, default_job_slots
from worker.queue.context import JobContext
from worker.queue.jobs import Job, JobSpec
from worker.queue.manager import enqueue_sync
from worker.runtime.worker import Worker, WorkerSettings


def _enqueue(url: str, *specs: JobSpec) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return enqueue_sync(conn, list(specs))


def _job(url: str, job_id: int) -> dict[str, Any]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("select * from jobs where id = %s", (job_id,))
        row = cur.fetchone()
    assert row is not None
    return row


def _status(url: str, job_id: int) -> str:
    return str(scalar(url, "select status from jobs where id = %s", (job_id,)))


def _finished(url: str, *ids: int) -> bool:
    return all(_status(url, i) in {"succeeded", "failed", "cancelled"} for i in ids)


def test_a_flaky_job_is_retried_with_backoff_until_it_succeeds(probe_db: str) -> None:
    [job_id] = _enqueue(probe_db, JobSpec("probe_flaky", {"succeed_on": 3}))
    run_worker(probe_db, lambda: _finished(probe_db, job_id))
    job = _job(probe_db, job_id)
    assert (job["status"], job["attempts"], job["last_error"]) == ("succeeded", 3, None)
    with psycopg.connect(probe_db) as conn:
        starts = [r[0] for r in conn.execute("select started_at from probe_runs order by started_at")]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    # Policy: 0.2 s base, doubling, jitter in the upper half: >= 0.1 s then >= 0.2 s.
    assert gaps[0] >= 0.1
    assert gaps[1] >= 0.2


def test_a_retried_job_waits_in_the_queue_with_its_error(probe_db: str) -> None:
    [job_id] = _enqueue(probe_db, JobSpec("probe_rate_limited", {"retry_after": 30}))
    run_worker(probe_db, lambda: scalar(probe_db, "select count(*) from probe_runs") == 1)
    job = _job(probe_db, job_id)
    assert job["status"] == "queued"
    assert job["attempts"] == 1
    assert job["last_error"] == "429 from the model"
    assert job["lease_owner"] is None
    wait = (job["run_at"] - job["updated_at"]).total_seconds()
    assert 0.99 <= wait <= 1.01, "Retry-After honoured up to the policy's 1 s cap"


def test_a_permanent_error_fails_the_job_at_once_with_its_reason(probe_db: str) -> None:
    [job_id] = _enqueue(probe_db, JobSpec("probe_permanent"))
    run_worker(probe_db, lambda: _finished(probe_db, job_id))
    job = _job(probe_db, job_id)
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert job["last_error"] == "DeepSeek: insufficient balance (402)"
    assert job["finished_at"] is not None


def test_a_job_that_keeps_failing_is_kept_as_failed_after_its_last_attempt(probe_db: str) -> None:
    [job_id] = _enqueue(probe_db, JobSpec("probe_always_fails", max_attempts=3))
    run_worker(probe_db, lambda: _finished(probe_db, job_id))
    job = _job(probe_db, job_id)
    assert (job["status"], job["attempts"], job["last_error"]) == ("failed", 3, "the peer is still down")
    assert scalar(probe_db, "select count(*) from probe_runs") == 3


def test_bad_jobs_fail_readably_while_the_worker_keeps_serving_others(probe_db: str) -> None:
    with psycopg.connect(probe_db, autocommit=True) as conn:
        # A kind no handler knows, written straight into the table.
        unknown = conn.execute("insert into jobs (kind) values ('mystery_kind') returning id").fetchone()
    assert unknown is not None
    malformed, raising, good = _enqueue(
        probe_db,
        JobSpec("probe_needs_payload", {"count": "many"}),
        JobSpec("probe_raises", max_attempts=2),
        JobSpec("probe_effect"),
    )
    ids = [unknown[0], malformed, raising, good]
    run_worker(probe_db, lambda: _finished(probe_db, *ids))
    errors = {i: (_job(probe_db, i)["status"], _job(probe_db, i)["last_error"]) for i in ids}
    assert errors[unknown[0]] == ("failed", "no handler for job kind 'mystery_kind'")
    # The value that failed is data: the stored error says what went wrong, not with what.
    assert errors[malformed] == ("failed", "ValueError: invalid literal for int() with base 10: ...")
    assert errors[raising] == ("failed", "RuntimeError: handler bug")
    assert errors[good] == ("succeeded", None)
    assert _job(probe_db, malformed)["attempts"] == 1, "bad input is not retried"


def test_a_job_past_its_kinds_timeout_is_retried_then_failed_with_the_reason(probe_db: str) -> None:
    [job_id] = _enqueue(probe_db, JobSpec("probe_hangs", max_attempts=2))
    run_worker(probe_db, lambda: _finished(probe_db, job_id))
    job = _job(probe_db, job_id)
    assert (job["status"], job["attempts"]) == ("failed", 2)
    assert job["last_error"] == "TimeoutError: probe_hangs timed out after 0.5 s"


def test_finished_jobs_are_completed_in_batches_and_the_batcher_sleeps_while_none_waits(
    probe_db: str,
) -> None:
    """A job whose handler does not complete it waits at most ``completion_flush_seconds``
    for its batch. With nothing waiting the batcher does not wake: it woke every 5 ms
    before, 0.07 of a core for an idle worker."""
    registry = probe_registry()

    async def plain(job: Job, context: JobContext) -> None:
        return None

    registry.register("probe_plain", plain)
    ids: list[int] = []
    idle_rounds: list[int] = []

    async def during(worker: Worker) -> None:
        listening = (
            "select count(*) from pg_stat_activity"
            " where datname = current_database() and query ilike 'listen proxima%'"
        )
        for _ in range(400):  # until the worker has started (its helpers listen and batch)
            if await asyncio.to_thread(scalar, probe_db, listening):
                break
            await asyncio.sleep(0.05)
        before = worker.completion_rounds
        await asyncio.sleep(0.5)  # nothing to do
        idle_rounds.append(worker.completion_rounds - before)
        ids.extend(await asyncio.to_thread(_enqueue, probe_db, *[JobSpec("probe_plain", {})] * 3))

    worker = run_worker(
        probe_db, lambda: bool(ids) and _finished(probe_db, *ids), registry=registry, during=during
    )
    assert idle_rounds == [0]
    assert [_status(probe_db, i) for i in ids] == ["succeeded"] * 3
    # Completed by the batcher while the worker ran, not by its shutdown.
    assert 1 <= worker.completion_rounds <= 3


def test_a_worker_limited_to_some_kinds_leaves_the_others_queued(probe_db: str) -> None:
    mine, other = _enqueue(probe_db, JobSpec("probe_effect"), JobSpec("noop"))
    settings = WorkerSettings(concurrency=2, poll_seconds=0.1, kinds=("probe_effect",))
    run_worker(probe_db, lambda: _finished(probe_db, mine), settings=settings)
    assert _status(probe_db, other) == "queued"


def test_urgent_jobs_run_before_older_ordinary_ones(probe_db: str) -> None:
    later = dt.datetime.now(dt.UTC)
    ordinary = _enqueue(probe_db, *[JobSpec("probe_effect") for _ in range(5)])
    urgent = _enqueue(probe_db, JobSpec("probe_effect", priority=10, run_at=later))
    settings = WorkerSettings(concurrency=1, poll_seconds=0.1)
    run_worker(probe_db, lambda: _finished(probe_db, *ordinary, *urgent), settings=settings)
    with psycopg.connect(probe_db) as conn:
        order = [r[0] for r in conn.execute("select job_id from probe_effects order by created_at")]
    assert order[0] == urgent[0]


def test_each_job_s_model_requests_wait_for_a_slot_by_the_job_s_priority(probe_db: str) -> None:
    """The worker sets request_priority for each job it runs, one slot task running several
    jobs in turn included; nothing leaks out of the job."""
    seen: dict[int, int] = {}

    async def record(job: Job, context: JobContext) -> None:
        seen[job.id] = request_priority.get()
        await asyncio.sleep(0)

    registry = probe_registry()
    registry.register("priority_probe", record)
    priorities = [10, 0, -5, 10, 3, 0, -100, 100]
    ids = _enqueue(probe_db, *[JobSpec("priority_probe", priority=p) for p in priorities])
    settings = WorkerSettings(concurrency=2, poll_seconds=0.1)
    run_worker(probe_db, lambda: _finished(probe_db, *ids), settings=settings, registry=registry)
    assert seen == dict(zip(ids, priorities, strict=True))
    assert request_priority.get() == 0


def test_a_worker_runs_twice_as_many_jobs_as_deepseek_request_slots() -> None:
    deepseek = AISettings(provider="deepseek", api_key="sk-test", max_concurrency=200)
    assert default_job_slots(deepseek) == 400
    assert default_job_slots(AISettings(provider="deepseek", api_key="sk-test", max_concurrency=1)) == 2
    assert default_job_slots(AISettings(provider="local")) == 8


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_retry_failed_puts_failed_jobs_back_and_status_lists_them(probe_db: str) -> None:
    permanent, other = _enqueue(
        probe_db, JobSpec("probe_permanent"), JobSpec("probe_always_fails", max_attempts=1)
    )
    run_worker(probe_db, lambda: _finished(probe_db, permanent, other))

    status = _cli(probe_db, "status")
    assert status.returncode == 0, status.stderr
    assert "probe_permanent" in status.stdout
    assert "recent failures:" in status.stdout
    assert "DeepSeek: insufficient balance (402)" in status.stdout

    result = _cli(probe_db, "retry-failed", "--kind", "probe_permanent")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "put 1 failed jobs back in the queue"
    job = _job(probe_db, permanent)
    assert (job["status"], job["attempts"]) == ("queued", 0)
    assert _status(probe_db, other) == "failed"

    everything = _cli(probe_db, "retry-failed")
    assert everything.stdout.strip() == "put 1 failed jobs back in the queue"


def test_cancel_cancels_queued_jobs_only(probe_db: str) -> None:
    queued, running = _enqueue(probe_db, JobSpec("probe_effect"), JobSpec("probe_effect"))
    with psycopg.connect(probe_db, autocommit=True) as conn:
        conn.execute(
            "update jobs set status = 'running', lease_owner = 'w', "
            "lease_expires_at = now() + interval '1 h', attempts = 1 where id = %s",
            (running,),
        )
    result = _cli(probe_db, "cancel", "--id", str(queued), "--id", str(running))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cancelled 1 queued jobs"
    assert (_status(probe_db, queued), _status(probe_db, running)) == ("cancelled", "running")
    nothing = _cli(probe_db, "cancel")
    assert nothing.returncode == 1
    assert "name the jobs to cancel" in nothing.stderr


def test_bad_worker_flags_are_refused_before_anything_runs(probe_db: str) -> None:
    for args, message in [
        (["--concurrency", "0"], "must be at least 1"),
        (["--concurrency", "2001"], "must be at most 2000, got 2001"),
        (["--concurrency", "lots"], "expected a whole number"),
        (["--kinds", "Weekly-Analysis"], "is not a job kind"),
        (["--lease", "-3"], "must be from 1 to 86400 seconds"),
        (["--grace", "-1"], "must be from 0 to 86400 seconds"),
    ]:
        result = _cli(probe_db, "run", *args)
        assert result.returncode == 2, args
        assert message in result.stderr
    bad_week = _cli(probe_db, "enqueue-weekly", "--week", "2026-11-25")
    assert bad_week.returncode == 2
    assert "is a Wednesday; a week starts on a Monday" in bad_week.stderr
    bad_plugin = _cli(probe_db, "run", "--plugin", "no_such_module_here")
    assert bad_plugin.returncode == 1
    assert "cannot import handler plugin 'no_such_module_here'" in bad_plugin.stderr
