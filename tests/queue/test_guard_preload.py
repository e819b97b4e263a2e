"""A worker builds the medical-claim guard (seconds of CPU) before its first
job only when its kinds may validate a model's answers: a worker limited to PDF, share or
housekeeping kinds starts without it."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from queue_support import run_worker

import worker.runtime.worker as runtime
from worker.handlers import default_registry
from worker.queue import manager
from worker.queue.jobs import JobSpec
from worker.runtime.worker import WorkerSettings

ANSWERING = {"weekly_analysis", "weekly_story"}


def test_the_kinds_that_validate_model_answers_are_marked() -> None:
    registry = default_registry()
    marked = {kind for kind in registry.kinds() if registry.checks_answers([kind])}
    assert marked == ANSWERING
    assert registry.checks_answers(None), "a worker of every kind needs the guard"
    others = [kind for kind in registry.kinds() if kind not in ANSWERING]
    assert others and not registry.checks_answers([*others, "no_such_kind"])
    assert registry.checks_answers([*others, "weekly_story"])


@pytest.mark.parametrize(
    ("kinds", "builds"),
    [(("noop",), False), (("noop", "export_pdf"), False), (("noop", "weekly_analysis"), True), (None, True)],
)
def test_a_worker_builds_the_guard_only_for_kinds_that_need_it(
    db_url: str, monkeypatch: pytest.MonkeyPatch, kinds: tuple[str, ...] | None, builds: bool
) -> None:
    built: list[bool] = []
    monkeypatch.setattr(runtime, "load_guard", lambda: built.append(True))
    with psycopg.connect(db_url, autocommit=True) as conn:
        (job_id,) = manager.enqueue_sync(conn, [JobSpec("noop")])

    def done() -> bool:
        with psycopg.connect(db_url, autocommit=True) as conn:
            row: Any = conn.execute("select status from public.jobs where id = %s", (job_id,)).fetchone()
        return bool(row and row[0] == "succeeded")

    run_worker(
        db_url,
        done,
        settings=WorkerSettings(concurrency=1, kinds=kinds, poll_seconds=0.05),
        registry=default_registry(),
    )
    assert built == ([True] if builds else [])
