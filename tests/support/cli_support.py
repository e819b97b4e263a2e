"""Running ``python -m worker`` as a person would, against a test database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m worker ARGS`` with ``DATABASE_URL`` set and no other setting of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXIMA_", "DEEPSEEK_"))}
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        cwd=ROOT,
        env=env | {"DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start_worker(
    db_url: str, env_extra: dict[str, str] | None = None, *, cwd: Path = ROOT
) -> subprocess.Popen[str]:
    """`python -m worker run` on ``db_url`` from the project in ``cwd``, without this
    environment's service settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROXIMA_", "DEEPSEEK_", "SUPABASE_", "PORT"))
    }
    return subprocess.Popen(
        [sys.executable, "-m", "worker", "run", "--no-schedule", "--poll", "0.2"],
        cwd=cwd,
        env=env | {"DATABASE_URL": db_url} | (env_extra or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def started_line(
    db_url: str, env_extra: dict[str, str] | None = None, *, cwd: Path = ROOT
) -> dict[str, object]:
    """The "worker started" line of a worker started, then stopped with SIGTERM (exit 0)."""
    process = start_worker(db_url, env_extra, cwd=cwd)
    started: dict[str, object] = {}
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not started:
            line = process.stderr.readline()
            if not line:
                break
            entry = json.loads(line)
            if entry.get("event") == "worker started":
                started = entry
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert started, "no 'worker started' line"
    assert process.returncode == 0
    return started
