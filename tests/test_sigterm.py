"""SIGTERM at any moment of a worker's life, start-up included, ends it with exit code 0.

From the program's first line (worker/__main__.py installs the handler before any import
of ours); the interpreter's own start, tens of milliseconds before that, is the one
window no program can cover. The earliest delay here falls while settings are read, the
vocabularies load and the database is reached.
"""

from __future__ import annotations

import json
import signal
import time

import pytest
from cli_support import start_worker, started_line


@pytest.mark.parametrize("delay", [0.3, 0.6, 1.0, 2.0, 4.0])
def test_sigterm_after_a_delay_exits_0_with_structured_lines_only(db_url: str, delay: float) -> None:
    process = start_worker(db_url)
    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, (delay, stderr[-2000:])
    for line in stderr.splitlines():
        assert isinstance(json.loads(line), dict), line


def test_the_worker_process_freezes_its_start_up_heap(db_url: str) -> None:
    """`python -m worker run` puts what it holds once ready (modules, the guard's
    vocabularies) out of the cyclic collector's reach (``settle_heap``), and lets the young
    generation grow to 10,000 containers before a collection: its "worker started" line
    counts the objects frozen and gives the threshold."""
    started = started_line(db_url)
    # The vocabularies alone are tens of thousands of containers.
    frozen = started["frozen_objects"]
    assert isinstance(frozen, int) and frozen > 10_000, frozen
    assert started["young_collection_threshold"] == 10_000
    # This tree runs the hot modules as Python (tests/test_compiled.py runs a compiled copy).
    assert started["compiled_modules"] == []


def test_with_deepseek_the_worker_runs_twice_as_many_jobs_as_request_slots(db_url: str) -> None:
    """A job also gathers, checks and stores: job slots beyond the model's request slots keep
    those busy (``worker.config.default_job_slots``); the local provider runs 8."""
    deepseek = {"DEEPSEEK_API_KEY": "sk-test-not-used", "DEEPSEEK_BASE_URL": "http://127.0.0.1:9"}
    assert started_line(db_url, deepseek | {"DEEPSEEK_MAX_CONCURRENCY": "40"})["concurrency"] == 80
    assert started_line(db_url, deepseek | {"DEEPSEEK_MAX_CONCURRENCY": "7"})["concurrency"] == 14
    # The most request slots a process may have: still a worker that starts.
    assert started_line(db_url, deepseek | {"DEEPSEEK_MAX_CONCURRENCY": "1000"})["concurrency"] == 2000
    assert started_line(db_url)["concurrency"] == 8


def test_the_worker_runs_on_uvloop_unless_asked_for_asyncio(db_url: str) -> None:
    """``PROXIMA_EVENT_LOOP``: uvloop by default, the standard loop on request; the
    "worker started" line says which loop runs."""
    assert started_line(db_url)["event_loop"] == "uvloop"
    assert started_line(db_url, {"PROXIMA_EVENT_LOOP": "asyncio"})["event_loop"] == "asyncio"
    assert started_line(db_url, {"PROXIMA_EVENT_LOOP": " UVLoop "})["event_loop"] == "uvloop"
