"""Real worker processes racing, killed and stopped: the queue's guarantees hold."""

from __future__ import annotations

import signal
from collections.abc import Callable

import psycopg
import pytest
from queue_support import WorkerProcess, scalar, wait_for

from worker.queue.jobs import JobSpec
from worker.queue.manager import enqueue_sync


def _enqueue(url: str, specs: list[JobSpec]) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return enqueue_sync(conn, specs)


def _unfinished(url: str) -> int:
    return int(scalar(url, "select count(*) from jobs where status in ('queued', 'running')"))


@pytest.mark.parametrize("processes", [2, 8])
def test_racing_workers_run_each_of_2000_jobs_exactly_once(
    probe_db: str, worker_processes: Callable[..., WorkerProcess], processes: int
) -> None:
    workers = [
        worker_processes(probe_db, "--concurrency", "4", "--poll", "0.2", "--lease", "3")
        for _ in range(processes)
    ]
    for worker in workers:
        worker.wait_started()
    ids = _enqueue(probe_db, [JobSpec("probe_effect") for _ in range(2000)])
    assert len(ids) == 2000
    wait_for(lambda: _unfinished(probe_db) == 0, timeout=120, what="the queue to drain")
    for worker in workers:
        worker.signal(signal.SIGTERM)
    assert [worker.wait() for worker in workers] == [0] * processes

    with psycopg.connect(probe_db) as conn:
        statuses = conn.execute("select status, count(*) from jobs group by status").fetchall()
        effects = conn.execute(
            "select count(*), count(distinct job_id), count(distinct worker) from probe_effects"
        ).fetchone()
        runs = conn.execute("select count(*), count(distinct job_id) from probe_runs").fetchone()
        overlapping = conn.execute(
            """
            select count(*) from probe_runs a join probe_runs b
              on a.job_id = b.job_id and a.ctid < b.ctid
             and tstzrange(a.started_at, a.ended_at) && tstzrange(b.started_at, b.ended_at)
            """
        ).fetchone()
    assert statuses == [("succeeded", 2000)]
    assert effects is not None
    assert effects[:2] == (2000, 2000), "every job has exactly one effect"
    assert effects[2] >= 2, "the work was shared between processes"
    assert runs == (2000, 2000), "no job ran twice"
    assert overlapping == (0,)
    warnings = [e for worker in workers for e in worker.events() if e.get("event") == "leases lost"]
    assert warnings == [], "heartbeats never mistake a committed job for a lost lease"


def test_a_worker_killed_mid_job_is_rescued_and_the_job_completes_once(
    probe_db: str, worker_processes: Callable[..., WorkerProcess]
) -> None:
    first = worker_processes(probe_db, "--lease", "2", "--poll", "0.2")
    first.wait_started()
    [job_id] = _enqueue(probe_db, [JobSpec("probe_block")])
    # The first attempt writes its effect, then blocks inside its open transaction.
    wait_for(lambda: scalar(probe_db, "select count(*) from probe_runs") == 1, what="the first attempt")
    wait_for(
        lambda: (
            scalar(probe_db, "select count(*) from pg_stat_activity where state = 'idle in transaction'") >= 1
        ),
        what="the first attempt's transaction",
    )
    first.signal(signal.SIGKILL)
    first.wait()

    second = worker_processes(probe_db, "--lease", "2", "--poll", "0.2")
    second.wait_started()
    wait_for(
        lambda: scalar(probe_db, "select status from jobs where id = %s", (job_id,)) == "succeeded",
        what="the rescued job to succeed",
    )
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    with psycopg.connect(probe_db) as conn:
        effects = conn.execute("select attempt from probe_effects where job_id = %s", (job_id,)).fetchall()
        attempts = conn.execute("select attempts from jobs where id = %s", (job_id,)).fetchone()
    assert effects == [(2,)], "only the rescued attempt's effect exists; the killed one left none"
    assert attempts == (2,)


def test_sigterm_lets_running_jobs_finish_and_hands_back_the_rest(
    probe_db: str, worker_processes: Callable[..., WorkerProcess]
) -> None:
    worker = worker_processes(probe_db, "--grace", "2", "--poll", "0.2")
    worker.wait_started()
    quick, slow = _enqueue(
        probe_db, [JobSpec("probe_effect", {"sleep": 0.5}), JobSpec("probe_effect", {"sleep": 120})]
    )
    wait_for(lambda: scalar(probe_db, "select count(*) from probe_runs") == 2, what="both jobs to start")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0

    with psycopg.connect(probe_db) as conn:
        rows = dict(
            (row[0], row[1:])
            for row in conn.execute("select id, status, attempts, lease_owner from jobs").fetchall()
        )
        effects = conn.execute("select job_id from probe_effects").fetchall()
    assert rows[quick][0] == "succeeded"
    assert rows[slow] == ("queued", 0, None), "handed back, lease released, attempt not counted"
    assert effects == [(quick,)]
    assert any(e.get("event") == "handed unfinished jobs back" for e in worker.events())


def test_a_second_worker_picks_up_what_a_stopped_worker_handed_back(
    probe_db: str, worker_processes: Callable[..., WorkerProcess]
) -> None:
    first = worker_processes(probe_db, "--grace", "0", "--poll", "0.2")
    first.wait_started()
    [job_id] = _enqueue(probe_db, [JobSpec("probe_effect", {"sleep": 1})])
    wait_for(lambda: scalar(probe_db, "select count(*) from probe_runs") == 1, what="the job to start")
    first.signal(signal.SIGINT)
    assert first.wait() == 0
    assert scalar(probe_db, "select status from jobs where id = %s", (job_id,)) == "queued"

    second = worker_processes(probe_db, "--poll", "0.2")
    second.wait_started()
    wait_for(
        lambda: scalar(probe_db, "select status from jobs where id = %s", (job_id,)) == "succeeded",
        what="the handed-back job to succeed",
    )
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    assert scalar(probe_db, "select count(*) from probe_effects") == 1


def test_logs_are_json_with_job_context_and_never_payload_contents(
    probe_db: str, worker_processes: Callable[..., WorkerProcess]
) -> None:
    worker = worker_processes(probe_db, "--poll", "0.2")
    worker.wait_started()
    secret = "my migraine diary entry"
    [job_id] = _enqueue(probe_db, [JobSpec("probe_permanent", {"story_text": secret})])
    wait_for(lambda: scalar(probe_db, "select status from jobs where id = %s", (job_id,)) == "failed")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0
    failure = [e for e in worker.events() if e.get("event") == "job failed for good"]
    assert len(failure) == 1
    assert failure[0]["job_id"] == job_id
    assert failure[0]["kind"] == "probe_permanent"
    assert failure[0]["attempt"] == 1
    assert failure[0]["level"] == "error"
    assert secret not in "".join(worker.log_lines)
