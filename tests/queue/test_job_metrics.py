"""The worker counts what happens to each job in its Prometheus metrics."""

from __future__ import annotations

import psycopg
from queue_support import run_worker, scalar

from worker.metrics import REGISTRY
from worker.queue.jobs import JobSpec
from worker.queue.manager import enqueue_sync


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_claims_outcomes_durations_and_in_flight_are_counted(probe_db: str) -> None:
    before = {
        "claimed": _value("proxima_jobs_claimed_total", kind="noop"),
        "flaky_claimed": _value("proxima_jobs_claimed_total", kind="probe_flaky"),
        "permanent_claimed": _value("proxima_jobs_claimed_total", kind="probe_permanent"),
        "succeeded": _value("proxima_jobs_succeeded_total", kind="noop"),
        "retried": _value("proxima_jobs_retried_total", kind="probe_flaky"),
        "flaky_ok": _value("proxima_jobs_succeeded_total", kind="probe_flaky"),
        "failed": _value("proxima_jobs_failed_total", kind="probe_permanent"),
        "durations": _value("proxima_job_duration_seconds_count", kind="noop", outcome="succeeded"),
    }
    with psycopg.connect(probe_db, autocommit=True) as conn:
        ids = enqueue_sync(
            conn,
            [JobSpec("noop", {}) for _ in range(5)]
            + [JobSpec("probe_flaky", {"succeed_on": 2}), JobSpec("probe_permanent")],
        )
    done = "select count(*) from jobs where status in ('succeeded', 'failed') and id = any(%s)"
    run_worker(probe_db, lambda: scalar(probe_db, done, (ids,)) == len(ids))
    # Claims of several kinds count each kind's jobs; a claim of one kind (the flaky job's
    # second attempt, alone in the queue) counts its own.
    assert _value("proxima_jobs_claimed_total", kind="noop") - before["claimed"] == 5
    assert _value("proxima_jobs_claimed_total", kind="probe_flaky") - before["flaky_claimed"] == 2
    assert _value("proxima_jobs_claimed_total", kind="probe_permanent") - before["permanent_claimed"] == 1
    assert _value("proxima_jobs_succeeded_total", kind="noop") - before["succeeded"] == 5
    assert (
        _value("proxima_job_duration_seconds_count", kind="noop", outcome="succeeded") - before["durations"]
        == 5
    )
    assert _value("proxima_jobs_retried_total", kind="probe_flaky") - before["retried"] == 1
    assert _value("proxima_jobs_succeeded_total", kind="probe_flaky") - before["flaky_ok"] == 1
    assert _value("proxima_jobs_failed_total", kind="probe_permanent") - before["failed"] == 1
    assert _value("proxima_jobs_in_flight") == 0
