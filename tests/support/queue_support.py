"""Helpers for queue tests: real worker processes, in-process workers, polling."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg

from worker.handlers import default_registry, load_plugin
from worker.queue.registry import Registry
from worker.runtime.loop import run as run_loop
from worker.runtime.worker import Worker, WorkerSettings

SUPPORT = Path(__file__).resolve().parent
PROJECT = SUPPORT.parents[1]


def probe_registry() -> Registry:
    registry = default_registry()
    load_plugin(registry, "queue_probe")
    return registry


def scalar(url: str, query: str, params: Any = None) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query.encode(), params).fetchone()  # type: ignore[call-overload]
    return row[0] if row else None


def wait_for(check: Callable[[], bool], *, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


class WorkerProcess:
    """``python -m worker run`` in a process of its own, with the probe handlers."""

    def __init__(self, db_url: str, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(SUPPORT), "DATABASE_URL": db_url}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "worker", "run", "--plugin", "queue_probe", "--no-schedule", *args],
            cwd=PROJECT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log_lines: list[str] = []

    def wait_started(self, timeout: float = 30.0) -> None:
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                raise AssertionError(f"worker exited early: {''.join(self.log_lines)}")
            self.log_lines.append(line)
            if "worker started" in line:
                return
        raise AssertionError("worker did not start")

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        _, err = self.process.communicate(timeout=timeout)
        self.log_lines.extend(err.splitlines(keepends=True))
        return self.process.returncode

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate(timeout=30)


def run_worker(
    db_url: str,
    until: Callable[[], bool],
    *,
    settings: WorkerSettings | None = None,
    registry: Registry | None = None,
    timeout: float = 30.0,
    during: Callable[[Worker], Awaitable[None]] | None = None,
) -> Worker:
    """Run an in-process worker until ``until()`` holds, then stop it, on the event loop
    ``python -m worker run`` uses (``PROXIMA_EVENT_LOOP``: uvloop unless set otherwise)."""
    worker = Worker(
        db_url,
        registry or probe_registry(),
        settings or WorkerSettings(concurrency=4, poll_seconds=0.1, rescue_seconds=0.5, lease_seconds=5),
    )

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        deadline = time.monotonic() + timeout
        try:
            if during is not None:
                await during(worker)
            while not await asyncio.to_thread(until):
                if task.done():
                    task.result()
                if time.monotonic() > deadline:
                    raise AssertionError(f"worker did not reach the expected state in {timeout:g} s")
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)

    run_loop(main())
    return worker
