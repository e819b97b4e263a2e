"""Fixtures for queue tests: a database with the probe tables, real worker processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from queue_probe import PROBE_TABLES
from queue_support import WorkerProcess


@pytest.fixture
def probe_db(db_url: str) -> str:
    """A migrated database with the probe tables."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(PROBE_TABLES.encode())  # type: ignore[call-overload]
    return db_url


@pytest.fixture
def worker_processes() -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(db_url: str, *args: str) -> WorkerProcess:
        worker = WorkerProcess(db_url, *args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
