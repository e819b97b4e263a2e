"""/health and /metrics of a running worker, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg

from worker.db.devdb import free_port
from worker.runtime.health import HealthServer

ROOT = Path(__file__).resolve().parents[1]


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def test_health_is_200_while_the_database_and_the_loops_answer(db_url: str) -> None:
    server = HealthServer(db_url, host="127.0.0.1", port=free_port())

    async def scenario() -> list[tuple[int, dict[str, Any]]]:
        seen: list[tuple[int, dict[str, Any]]] = []
        forever = asyncio.create_task(asyncio.Event().wait())
        server.watch("worker", forever)
        server.start(asyncio.get_running_loop())
        status, body = await asyncio.to_thread(_get, server.port, "/health")
        seen.append((status, json.loads(body)))
        forever.cancel()
        await asyncio.sleep(0)
        status, body = await asyncio.to_thread(_get, server.port, "/health")
        seen.append((status, json.loads(body)))
        return seen

    try:
        (ok, ok_body), (stopped, stopped_body) = asyncio.run(scenario())
    finally:
        server.stop()
    assert ok == 200
    assert ok_body == {
        "status": "ok",
        "database": "ok",
        "loops": {"event_loop": "running", "worker": "running"},
    }
    assert stopped == 503
    assert stopped_body["loops"]["worker"] == "stopped"


def _served(conninfo: str, path: str) -> tuple[int, str]:
    """One GET of ``path`` from a health server whose one loop runs."""
    server = HealthServer(conninfo, host="127.0.0.1", port=free_port())

    async def scenario() -> tuple[int, str]:
        server.watch("worker", asyncio.create_task(asyncio.Event().wait()))
        server.start(asyncio.get_running_loop())
        return await asyncio.to_thread(_get, server.port, path)

    try:
        return asyncio.run(scenario())
    finally:
        server.stop()


def test_health_is_503_when_the_database_is_unreachable(db_url: str) -> None:
    unreachable = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/postgres"
    status, body = _served(unreachable, "/health")
    assert status == 503
    assert json.loads(body)["database"] == "unreachable"
    assert "secret" not in body


def test_health_is_503_while_the_event_loop_is_blocked(db_url: str) -> None:
    server = HealthServer(db_url, host="127.0.0.1", port=free_port())
    answers: list[tuple[int, str]] = []

    async def scenario() -> None:
        server.watch("worker", asyncio.create_task(asyncio.Event().wait()))
        server.start(asyncio.get_running_loop())
        asker = threading.Thread(target=lambda: answers.append(_get(server.port, "/health")))
        asker.start()
        time.sleep(3.0)  # a handler that blocks the loop (a bug this check exists to catch)
        await asyncio.to_thread(asker.join, 10)

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
    assert len(answers) == 1
    status, body = answers[0]
    assert status == 503
    assert json.loads(body)["loops"] == {"event_loop": "not answering"}


def test_metrics_show_how_long_ago_the_hourly_enqueue_ran(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("select public.enqueue_weekly_analysis()")
        conn.execute("update proxima_private.weekly_enqueue_marks set ran_at = now() - interval '3 hours'")
    status, text = _served(db_url, "/metrics")
    assert status == 200
    age = next(line for line in text.splitlines() if line.startswith("proxima_hourly_enqueue_age_seconds "))
    assert 3 * 3600 <= float(age.split()[-1]) < 3 * 3600 + 120


def test_a_role_that_may_read_the_queue_but_not_the_marks_still_gets_the_queue_gauges(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    role = f"metrics_probe_{uuid.uuid4().hex[:8]}"
    conn.execute(f"create role {role} login password 'probe' bypassrls")
    conn.execute(f"grant usage on schema public to {role}")
    conn.execute(f"grant select on public.jobs to {role}")
    conn.execute("insert into public.jobs (kind, payload) values ('export_pdf', '{}')")
    conn.execute("select public.enqueue_weekly_analysis()")
    try:
        # Its own login: the collector sets its own connection options.
        status, text = _served(
            psycopg.conninfo.make_conninfo(db_url, user=role, password="probe"), "/metrics"
        )
    finally:
        conn.execute(f"drop owned by {role}")
        conn.execute(f"drop role {role}")
    assert status == 200
    assert 'proxima_queue_jobs{kind="export_pdf",status="queued"} 1.0' in text
    assert "proxima_queue_scrape_ok 1.0" in text
    assert not [line for line in text.splitlines() if line.startswith("proxima_hourly_enqueue_age_seconds")]


def test_metrics_show_the_queue_in_prometheus_format(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.jobs (kind, payload, run_at) select 'export_pdf', '{}', now() - interval '90 seconds'"
            " from generate_series(1, 3)"
        )
    status, text = _served(db_url, "/metrics")
    assert status == 200
    assert 'proxima_queue_jobs{kind="export_pdf",status="queued"} 3.0' in text
    oldest = next(
        line for line in text.splitlines() if line.startswith("proxima_queue_oldest_queued_seconds{")
    )
    assert float(oldest.split()[-1]) >= 90
    assert "proxima_queue_scrape_ok 1.0" in text
    # No hourly enqueue has run in this database: the gauge is absent, not a made-up age.
    assert not [line for line in text.splitlines() if line.startswith("proxima_hourly_enqueue_age_seconds")]
    assert "# HELP proxima_hourly_enqueue_age_seconds " in text
    for family in (
        "proxima_jobs_claimed_total",
        "proxima_job_duration_seconds",
        "proxima_model_requests_total",
    ):
        assert f"# TYPE {family.removesuffix('_total')}" in text


def test_the_worker_process_serves_health_and_metrics_and_stops_cleanly(db_url: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXIMA_", "DEEPSEEK_", "SUPABASE_"))}
    env |= {"DATABASE_URL": db_url, "PORT": str(port), "PROXIMA_HEALTH_HOST": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "run", "--no-schedule", "--poll", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = 0
        while time.monotonic() < deadline and status != 200:
            try:
                status, _ = _get(port, "/health")
            except OSError:
                status = 0
            if status != 200:
                time.sleep(0.2)
        assert status == 200
        metrics_status, metrics = _get(port, "/metrics")
        assert metrics_status == 200
        assert "proxima_jobs_in_flight 0.0" in metrics
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    for line in stderr.splitlines():
        json.loads(line)  # every log line is structured, the HTTP server's included
    assert "GET /health" not in stderr
