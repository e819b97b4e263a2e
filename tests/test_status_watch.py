"""Live progress of the weekly run: ``python -m worker status --watch``."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cli_support import run_cli

from worker.ops.progress import RunProgress, duration, latest_run, read_progress, summary, watch

ROOT = Path(__file__).resolve().parents[1]
WEEK = "2026-11-23"


def _seed(conn: psycopg.Connection[Any], jobs: int = 10) -> list[int]:
    ids = []
    for _ in range(jobs):
        user = uuid.uuid4()
        conn.execute("insert into auth.users (id) values (%s)", (user,))
        row = conn.execute(
            "insert into public.jobs (kind, user_id, payload, dedupe_key) values ('weekly_analysis', %s,"
            " jsonb_build_object('week_of', %s::text, 'trigger', 'weekly'), %s) returning id",
            (user, WEEK, f"weekly_analysis:{user}:{WEEK}"),
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
        # Not part of the run: a refresh of the same week, and last week's run.
        conn.execute(
            "insert into public.jobs (kind, user_id, payload) values ('weekly_analysis', %s,"
            " jsonb_build_object('week_of', %s::text, 'trigger', 'refresh'))",
            (user, WEEK),
        )
        conn.execute(
            "insert into public.jobs (kind, user_id, payload, dedupe_key) values ('weekly_analysis', %s,"
            " jsonb_build_object('week_of', '2026-11-16', 'trigger', 'weekly'), %s)",
            (user, f"weekly_analysis:{user}:2026-11-16"),
        )
    return ids


def _end(
    conn: psycopg.Connection[Any], job_id: int, status: str = "succeeded", error: str | None = None
) -> None:
    conn.execute(
        "update public.jobs set status = %s, finished_at = now(), last_error = %s, attempts = 1 where id = %s",
        (status, error, job_id),
    )


def test_a_reading_counts_the_run_only(conn: psycopg.Connection[Any]) -> None:
    ids = _seed(conn)
    for job_id in ids[:4]:
        _end(conn, job_id)
    _end(conn, ids[4], "failed", "RetryableError: HTTP 429 after 3 attempts")
    _end(conn, ids[5], "failed", "RetryableError: HTTP 503 after 3 attempts")
    conn.execute(
        "update public.jobs set last_error = 'PermanentError: the model answer was invalid', attempts = 1 where id = %s",
        (ids[6],),
    )
    assert latest_run(conn) == WEEK
    p = read_progress(conn, WEEK)
    assert p.counts == {"succeeded": 4, "failed": 2, "queued": 4}
    assert (p.total, p.done, p.ended, p.remaining, p.finished) == (10, 4, 6, 4, False)
    assert p.rate == pytest.approx(6 / 60)
    assert p.eta_seconds == pytest.approx(4 / (6 / 60))
    assert [(c.text, c.failed, c.retrying) for c in p.causes] == [
        ("RetryableError: HTTP N after N attempts", 2, 0),
        ("PermanentError: the model answer was invalid", 0, 1),
    ]
    assert summary(p) == (f"week of {WEEK}: 4/10 done (40.0%), 0 running, 4 queued, 2 failed, 0.1/s, ETA 40s")


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (None, 0, 9.4, 75, 3600 + 125)] == ["unknown", "0s", "9s", "1m15s", "1h02m"]
    assert RunProgress(WEEK, {"queued": 3}, 0).eta_seconds is None, "no pace yet"


def test_piped_the_watch_prints_a_line_per_reading_until_the_run_finishes() -> None:
    readings = iter(
        [
            RunProgress(WEEK, {"queued": 8, "running": 2}, 0),
            RunProgress(WEEK, {"queued": 3, "running": 2, "succeeded": 5}, 5),
            RunProgress(WEEK, {"succeeded": 9, "failed": 1}, 10),
        ]
    )
    out = io.StringIO()
    waits: list[float] = []
    final = watch(lambda: next(readings), out=out, terminal=False, interval=0.5, sleep=waits.append)
    lines = out.getvalue().splitlines()
    assert final.finished
    assert waits == [0.5, 0.5]
    assert len(lines) == 4
    assert lines[0].endswith("0/10 done (0.0%), 2 running, 8 queued, 0 failed, 0.0/s, ETA unknown")
    assert lines[1].endswith("5/10 done (50.0%), 2 running, 3 queued, 0 failed, 0.1/s, ETA 1m00s")
    assert lines[2].endswith("9/10 done (90.0%), 0 running, 0 queued, 1 failed, 0.2/s, finished")
    assert lines[3] == "no failures"
    assert "\r" not in out.getvalue()


def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(db_url, "status", *args)


def test_the_command_follows_a_live_run_to_its_end(conn: psycopg.Connection[Any], db_url: str) -> None:
    ids = _seed(conn)

    def drain() -> None:
        with psycopg.connect(db_url, autocommit=True) as worker:
            for index, job_id in enumerate(ids):
                time.sleep(0.15)
                if index == 3:
                    _end(worker, job_id, "failed", "RetryableError: HTTP 500 after 3 attempts")
                else:
                    _end(worker, job_id)

    drainer = threading.Thread(target=drain)
    drainer.start()
    try:
        result = _cli(db_url, "--watch", "--interval", "0.2")
    finally:
        drainer.join()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) >= 3, "a line per reading"
    assert lines[-3].endswith("9/10 done (90.0%), 0 running, 0 queued, 1 failed, 0.2/s, finished")
    assert lines[-2] == "failures by cause (failed for good / waiting to retry):"
    assert lines[-1] == "        1 / 0       RetryableError: HTTP N after N attempts"

    once = _cli(db_url)
    assert once.returncode == 0, once.stderr
    assert f"weekly run: week of {WEEK}: 9/10 done" in once.stdout


def test_on_a_terminal_the_watch_draws_a_bar(conn: psycopg.Connection[Any], db_url: str) -> None:
    _seed(conn)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXIMA_", "DEEPSEEK_"))}
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "status", "--watch", "--interval", "0.2", "--timeout", "1"],
        cwd=ROOT,
        env=env | {"DATABASE_URL": db_url, "COLUMNS": "120"},
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(leader)
    process.wait(timeout=30)
    screen = b"".join(chunks).decode(errors="replace")
    assert process.returncode == 0
    assert "\r" in screen, "the bar redraws in place"
    assert "0/10" in screen
    assert "10 queued" in screen
    assert f"week of {WEEK}" in screen


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--watch", "--interval", "0"], "must be positive"),
        (["--watch", "--interval", "5000"], "at most 3600 seconds"),
        (["--watch", "--week", "2026-11-24"], "is a Tuesday"),
    ],
)
def test_bad_flags_exit_2(db_url: str, args: list[str], message: str) -> None:
    result = _cli(db_url, *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_no_run_yet_is_said_plainly(db_url: str) -> None:
    result = _cli(db_url, "--watch")
    assert result.returncode == 0
    assert result.stdout == "no weekly run has been enqueued yet\n"


@pytest.mark.parametrize("args", [[], ["--watch"]])
def test_a_database_never_migrated_gets_one_line_saying_to_migrate(
    empty_db_url: str, args: list[str]
) -> None:
    result = _cli(empty_db_url, *args)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: the database lacks what this command reads (relation ")
    assert result.stderr.endswith(
        "apply the migrations first (python -m worker migrate, or supabase db push)\n"
    )
    assert result.stderr.count("\n") == 1, result.stderr


def test_a_role_the_database_refuses_gets_one_line_naming_the_roles_to_use(db_url: str) -> None:
    # authenticated (a signed-in person's role) may not read the queue.
    url = psycopg.conninfo.make_conninfo(db_url, options="-c role=authenticated")
    result = _cli(url)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: the database refused this role (permission denied for ")
    assert result.stderr.endswith("connect as the role that owns the migrations or as service_role\n")
    assert result.stderr.count("\n") == 1, result.stderr


def test_service_role_may_read_everything_status_shows(conn: psycopg.Connection[Any], db_url: str) -> None:
    _seed(conn, jobs=2)
    conn.execute("select public.enqueue_weekly_analysis()")
    url = psycopg.conninfo.make_conninfo(db_url, options="-c role=service_role")

    result = _cli(url)

    assert result.returncode == 0, result.stderr
    assert "weekly_analysis" in result.stdout
    assert "hourly enqueue: last ran " in result.stdout
