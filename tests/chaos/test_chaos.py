"""The chaos suite at a size that fits ``make test``: 60 person-weeks and 10 exports through
three worker processes while workers are SIGKILLed, PostgreSQL restarts once, 30% of
model requests and 20% of uploads fail. ``bench/chaos.py`` runs it at full size.

Nothing may be lost or doubled: every job ends succeeded, or failed with its error; a
succeeded person-week has exactly one generation and one set of rows, a failed one none;
a ready export has exactly its file. Kills cost attempts (a killed attempt counts, and the
job waits for its lease), so jobs get 10 attempts here instead of the 5 they are enqueued
with, and each model call 5 requests instead of 3: with the defaults a job that a few
kills in a row hit, or three unlucky model calls, fails for good (with its error), which
the invariants allow but would make the run's length depend on luck.
"""

from __future__ import annotations

import shutil

from tests.chaos.chaos_run import ChaosConfig, run_chaos

CONFIG = ChaosConfig(
    people=60,
    exports=10,
    workers=3,
    kill_every=3.0,
    min_up=3.0,
    max_kills=8,
    restart_at=0.4,
    kills_before_restart=2,
    down_seconds=2.0,
    model_fault_rate=0.3,
    storage_fault_rate=0.2,
    latency=0.2,
    deepseek_timeout=3.0,
    deepseek_max_attempts=5,
    job_max_attempts=10,
    worker_concurrency=8,
    lease_seconds=5.0,
    poll_seconds=0.5,
    timeout=240.0,
    seed=13,
)


def test_kills_a_restart_and_failing_servers_lose_and_double_nothing() -> None:
    result = run_chaos(CONFIG)
    print("\n" + result.summary("pytest tests/chaos/test_chaos.py"))
    assert result.finished, "every job ended within the timeout"
    assert result.problems == []
    weekly = result.jobs_by_status["weekly_analysis"]
    exports = result.jobs_by_status["export_pdf"]
    assert sum(weekly.values()) == 60
    assert sum(exports.values()) == 10
    assert set(weekly) | set(exports) <= {"succeeded", "failed"}
    # The weather really happened.
    assert len(result.kills) >= 2
    assert result.orphans >= 1, "some kill hit a worker holding jobs"
    assert len(result.restarts) == 1
    faults = result.model_faults["faults"]
    assert {"429", "500", "timeout", "garbage"} <= set(faults)
    assert result.storage_faults["faults"].get("503", 0) >= 1
    assert result.retries >= 1
    # With generous attempts nearly everything gets through.
    assert weekly.get("succeeded", 0) >= 55
    assert exports.get("succeeded", 0) >= 8
    if result.log_dir is not None and not result.problems:
        shutil.rmtree(result.log_dir, ignore_errors=True)
