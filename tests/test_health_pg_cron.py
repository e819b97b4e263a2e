"""/health of the real worker on a database where pg_cron schedules the weekly jobs.

That is production (Supabase has pg_cron; railway.toml checks /health): the schedule loop
has nothing to do there and must stay alive, idle, or /health would report it stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg
from cron_support import require_pg_cron

from worker.db.devdb import CRON_DATABASE, LocalCluster, free_port
from worker.db.migrate import migrate_connection

ROOT = Path(__file__).resolve().parents[1]


def _cron_url(cluster: LocalCluster) -> str:
    """The cron database with every migration applied (idempotent, as test_pg_cron does)."""
    require_pg_cron(cluster)
    url = cluster.url(CRON_DATABASE)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate_connection(conn)
    return url


def _health(port: int) -> tuple[int, dict[str, Any]] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())
    except OSError:
        return None  # not serving yet


def test_the_worker_is_healthy_with_pg_cron(cluster: LocalCluster) -> None:
    url = _cron_url(cluster)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PORT": str(port),
        "PROXIMA_HEALTH_HOST": "127.0.0.1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "run", "--poll", "0.2"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen: tuple[int, dict[str, Any]] | None = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = _health(port)
            if seen is not None and seen[1]["loops"].get("worker") == "running":
                break
            time.sleep(0.2)
        time.sleep(2.0)  # the pg_cron check has long answered: the schedule loop went idle
        seen = _health(port)
        assert seen is not None
        status, body = seen
        assert body["loops"].get("schedule") == "running", body
        assert status == 200, body
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-2000:]
    assert "pg_cron schedules the weekly jobs" in err
