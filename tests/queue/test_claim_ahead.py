"""Claiming ahead: jobs claimed beyond the free slots keep their leases and go back on shutdown."""

from __future__ import annotations

import psycopg
import pytest
from queue_support import run_worker, scalar

from worker.queue.jobs import JobSpec
from worker.queue.manager import enqueue_sync
from worker.runtime.worker import WorkerSettings


def _enqueue(url: str, specs: list[JobSpec]) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return enqueue_sync(conn, specs)


def test_settings_refuse_a_negative_prefetch_and_size_the_claim_batch() -> None:
    with pytest.raises(ValueError, match="prefetch"):
        WorkerSettings(prefetch=-1)
    assert WorkerSettings(concurrency=4, prefetch=16).claim_batch == 20


def test_jobs_claimed_ahead_are_handed_back_at_once_on_shutdown_their_attempt_not_counted(
    probe_db: str,
) -> None:
    quick = _enqueue(probe_db, [JobSpec("probe_effect", priority=10) for _ in range(20)])
    slow = _enqueue(probe_db, [JobSpec("probe_effect", {"sleep": 0.5}) for _ in range(6)])
    settings = WorkerSettings(
        concurrency=1,
        prefetch=4,
        prefetch_below_seconds=0.2,
        poll_seconds=0.1,
        lease_seconds=5,
        shutdown_grace_seconds=5,
    )
    seen_running: list[int] = []

    def a_slow_job_runs_with_others_claimed_ahead() -> bool:
        started = scalar(probe_db, "select count(*) from probe_runs where job_id = any (%s)", (slow,))
        running = int(scalar(probe_db, "select count(*) from jobs where status = 'running'"))
        seen_running.append(running)
        return bool(started) and running >= 2

    run_worker(probe_db, a_slow_job_runs_with_others_claimed_ahead, settings=settings)
    assert max(seen_running) >= 2, "jobs were claimed beyond the one slot"
    with psycopg.connect(probe_db) as conn:
        rows = {
            r[0]: r[1:] for r in conn.execute("select id, status, attempts, lease_owner from jobs").fetchall()
        }
        ran = {r[0] for r in conn.execute("select job_id from probe_runs")}
    assert all(rows[i][:2] == ("succeeded", 1) for i in quick)
    started = [i for i in slow if i in ran]
    assert started, "a slow job had started"
    for job_id in started:
        assert rows[job_id][0] == "succeeded", "the running job finished within the grace period"
    not_started = [i for i in slow if i not in ran]
    assert not_started, "some slow jobs were still waiting"
    for job_id in not_started:
        assert rows[job_id] == ("queued", 0, None), "handed back, lease released, attempt not counted"


def test_a_job_waiting_in_the_buffer_longer_than_a_lease_keeps_it_and_runs_once(probe_db: str) -> None:
    first = _enqueue(probe_db, [JobSpec("probe_effect", priority=10) for _ in range(10)])
    slow = _enqueue(probe_db, [JobSpec("probe_effect", {"sleep": 3}, priority=5)])
    behind = _enqueue(probe_db, [JobSpec("probe_effect") for _ in range(6)])
    ids = first + slow + behind
    settings = WorkerSettings(
        concurrency=1,
        prefetch=8,
        prefetch_below_seconds=0.2,
        poll_seconds=0.1,
        lease_seconds=1.5,  # the heartbeat runs every 0.5 s
        rescue_seconds=0.2,  # and a rescue would take any job whose lease ran out
    )
    buffered_while_slow: list[int] = []

    def all_done() -> bool:
        if scalar(probe_db, "select count(*) from probe_runs where job_id = %s and ended_at is null", slow):
            buffered_while_slow.append(
                int(scalar(probe_db, "select count(*) from jobs where status = 'running'")) - 1
            )
        return int(scalar(probe_db, "select count(*) from jobs where status = 'succeeded'")) == len(ids)

    run_worker(probe_db, all_done, settings=settings, timeout=60)
    assert buffered_while_slow and max(buffered_while_slow) >= 1, (
        "jobs waited in the buffer behind the slow one"
    )
    with psycopg.connect(probe_db) as conn:
        jobs = conn.execute("select attempts, last_error from jobs where id = any (%s)", (ids,)).fetchall()
        runs = conn.execute("select count(*), count(distinct job_id) from probe_runs").fetchone()
    assert jobs == [(1, None)] * len(ids), "no lease ran out: nothing was rescued or run twice"
    assert runs == (len(ids), len(ids))
