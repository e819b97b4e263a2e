"""A kind's RetryPolicy.max_attempts decides how often its jobs are tried, unless the job's
row chose its own limit: rows the database's functions insert carry the column's
default (5), which is no choice, so ``share_notification`` gets its policy's 8."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import psycopg
from queue_support import probe_registry, run_worker, scalar

from worker.errors import RetryableError
from worker.handlers import default_registry
from worker.queue import manager
from worker.queue.context import JobContext
from worker.queue.jobs import DEFAULT_MAX_ATTEMPTS, Job, JobSpec
from worker.queue.retry import RetryPolicy
from worker.runtime.worker import WorkerSettings, attempt_limit

FAST_EIGHT = RetryPolicy(max_attempts=8, base_seconds=0.02, cap_seconds=0.05)
SETTINGS = WorkerSettings(concurrency=2, poll_seconds=0.05, rescue_seconds=0.5, lease_seconds=5)


async def _mail_server_down(job: Job, context: JobContext) -> None:
    raise RetryableError("the mail server could not be reached (ConnectionRefusedError)")


def _failed_after(url: str, spec: JobSpec) -> int:
    registry = probe_registry()
    registry.register("mail_like", _mail_server_down, retry=FAST_EIGHT)
    with psycopg.connect(url, autocommit=True) as conn:
        [job_id] = manager.enqueue_sync(conn, [spec])
    run_worker(
        url,
        lambda: scalar(url, "select status from jobs where id = %s", (job_id,)) == "failed",
        registry=registry,
        settings=SETTINGS,
        timeout=30,
    )
    last_error = scalar(url, "select last_error from jobs where id = %s", (job_id,))
    assert last_error == "the mail server could not be reached (ConnectionRefusedError)"
    return int(scalar(url, "select attempts from jobs where id = %s", (job_id,)))


def test_a_row_at_the_default_gets_its_kind_s_eight_attempts(probe_db: str) -> None:
    assert _failed_after(probe_db, JobSpec(kind="mail_like")) == 8


def test_a_row_that_chose_fewer_attempts_keeps_its_choice(probe_db: str) -> None:
    assert _failed_after(probe_db, JobSpec(kind="mail_like", max_attempts=3)) == 3


def test_the_default_is_the_column_s_and_jobspec_s(conn: psycopg.Connection) -> None:  # type: ignore[type-arg]
    column_default = conn.execute(
        "select column_default from information_schema.columns"
        " where table_schema = 'public' and table_name = 'jobs' and column_name = 'max_attempts'"
    ).fetchone()
    assert column_default == (str(DEFAULT_MAX_ATTEMPTS),)
    [spec_default] = [f.default for f in dataclasses.fields(JobSpec) if f.name == "max_attempts"]
    assert spec_default == DEFAULT_MAX_ATTEMPTS


def test_the_share_notification_kind_gets_eight_attempts_on_a_default_row() -> None:
    registry = default_registry()
    config = registry.get("share_notification")
    assert config is not None
    now = dt.datetime.now(dt.UTC)
    row = Job(1, "share_notification", None, {}, -5, 1, DEFAULT_MAX_ATTEMPTS, now)
    assert attempt_limit(row, config.retry) == 8
    assert attempt_limit(row._replace(max_attempts=2), config.retry) == 2
    assert attempt_limit(row._replace(max_attempts=12), config.retry) == 12


def _rescued_after_lost_worker(url: str, spec: JobSpec, attempts: int, limits: dict[str, int]) -> str:
    """The status a job whose worker died during attempt ``attempts`` gets from the rescue."""
    with psycopg.connect(url, autocommit=True) as conn:
        [job_id] = manager.enqueue_sync(conn, [spec])
        conn.execute(
            "update jobs set status = 'running', attempts = %s, lease_owner = 'gone',"
            " lease_expires_at = now() - interval '1 second' where id = %s",
            (attempts, job_id),
        )

    async def rescue() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await manager.rescue_expired_jobs(conn, attempt_limits=limits)

    asyncio.run(rescue())
    return str(scalar(url, "select status from jobs where id = %s", (job_id,)))


def test_the_rescue_judges_a_lost_worker_s_job_by_the_same_limit(probe_db: str) -> None:
    eight = {"mail_like": 8}
    # A row at the default: its kind's eight, so the fifth attempt is not the last.
    assert _rescued_after_lost_worker(probe_db, JobSpec(kind="mail_like"), 5, eight) == "queued"
    assert _rescued_after_lost_worker(probe_db, JobSpec(kind="mail_like"), 8, eight) == "failed"
    # A row that chose its own limit keeps it; a kind without a policy keeps the row's.
    assert (
        _rescued_after_lost_worker(probe_db, JobSpec(kind="mail_like", max_attempts=3), 3, eight) == "failed"
    )
    assert _rescued_after_lost_worker(probe_db, JobSpec(kind="other"), 5, eight) == "failed"
    assert _rescued_after_lost_worker(probe_db, JobSpec(kind="mail_like"), 5, {}) == "failed"
