"""``python -m worker status`` says whether the hourly enqueue runs.

Nothing announces an hourly enqueue that stopped (pg_cron stopped, no worker running its
schedule loop): its weekly jobs are simply never made. ``status`` reads the newest mark the
hourly runs write and says when a run is overdue. The per-test databases have no pg_cron
(it lives in the cluster's ``postgres`` database), so they show the schedule loop's case;
pg_cron's run history is tested in tests/queue/test_pg_cron.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
from cli_support import run_cli

from worker.ops.schedule_health import (
    MESSAGE_CHARS,
    CronJob,
    ScheduleHealth,
    _first_line,
    describe_schedule,
    read_schedule_health,
)

NOW = dt.datetime(2026, 12, 2, 7, 0, tzinfo=dt.UTC)


def test_a_database_where_the_hourly_enqueue_never_ran_says_so_and_names_who_runs_it(db_url: str) -> None:
    result = run_cli(db_url, "status")

    assert result.returncode == 0, result.stderr
    assert "hourly enqueue: has not run yet\n" in result.stdout
    assert (
        "  warning: no hourly enqueue has run yet (a new project's first comes on the hour); it is run by"
        " a worker's schedule loop (python -m worker run; pg_cron is not in this database): is it running?\n"
    ) in result.stdout
    assert "pg_cron " not in result.stdout.replace("pg_cron is not in this database", "")


def test_after_an_hourly_run_status_shows_it_and_no_warning(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    conn.execute("select public.enqueue_weekly_analysis()")

    result = run_cli(db_url, "status")

    assert result.returncode == 0, result.stderr
    assert " s ago\n" in result.stdout
    assert "hourly enqueue: last ran " in result.stdout
    assert "warning" not in result.stdout


def test_an_explicit_week_is_not_an_hourly_run(conn: psycopg.Connection[Any]) -> None:
    conn.execute("select public.enqueue_weekly_analysis('2026-11-23'::date)")

    health = read_schedule_health(conn)

    assert health.last_enqueue is None and health.behind


@pytest.mark.parametrize(("age", "behind"), [("1 hour 59 minutes", False), ("2 hours 1 minute", True)])
def test_the_schedule_is_behind_once_the_last_hourly_run_is_over_two_hours_old(
    conn: psycopg.Connection[Any], age: str, behind: bool
) -> None:
    conn.execute("select public.enqueue_weekly_analysis()")
    conn.execute("update proxima_private.weekly_enqueue_marks set ran_at = now() - %s::interval", (age,))

    health = read_schedule_health(conn)

    assert health.pg_cron == "absent" and health.cron_jobs == ()
    assert health.behind is behind
    lines = describe_schedule(health)
    assert ("warning: the hourly enqueue is behind" in "\n".join(lines)) is behind
    assert lines[0].endswith("2 h ago" if behind else "119 min ago")


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0 s ago"),
        (119, "119 s ago"),
        (120, "2 min ago"),
        (7199, "119 min ago"),
        (7200, "2 h ago"),
        (2 * 86400 - 1, "47 h ago"),
        (2 * 86400, "2 days ago"),
    ],
)
def test_ages_read_naturally(seconds: int, said: str) -> None:
    health = ScheduleHealth(now=NOW, last_enqueue=NOW - dt.timedelta(seconds=seconds), pg_cron="absent")
    assert (
        describe_schedule(health)[0]
        == f"hourly enqueue: last ran {health.last_enqueue:%Y-%m-%d %H:%M} UTC, {said}"
    )


def test_a_clock_ahead_of_the_database_is_not_a_negative_age() -> None:
    health = ScheduleHealth(now=NOW, last_enqueue=NOW + dt.timedelta(seconds=5), pg_cron="absent")
    assert describe_schedule(health)[0].endswith(", 0 s ago")


def test_with_pg_cron_a_late_schedule_names_its_job_and_failures_are_shown() -> None:
    failed_at = NOW - dt.timedelta(hours=3)
    health = ScheduleHealth(
        now=NOW,
        last_enqueue=NOW - dt.timedelta(hours=5),
        pg_cron="readable",
        cron_jobs=(
            CronJob(
                name="weekly-health-analysis",
                scheduled=True,
                runs_24h=20,
                failed_24h=2,
                last_run_at=failed_at,
                last_status="failed",
                last_seconds=0.0421,
                last_failure_at=failed_at,
                last_failure="ERROR:  canceling statement due to statement timeout",
            ),
            CronJob(name="proxima-housekeeping", scheduled=False),
        ),
    )

    lines = describe_schedule(health)

    assert lines == [
        "hourly enqueue: last ran 2026-12-02 02:00 UTC, 5 h ago",
        "  warning: the hourly enqueue is behind; it is run by pg_cron's weekly-health-analysis job: is it running?",
        "pg_cron weekly-health-analysis: last run 2026-12-02 04:00 UTC failed in 0.04 s;"
        " 20 runs in the last 24 h, 2 failed",
        "  newest failure at 2026-12-02 04:00 UTC: ERROR:  canceling statement due to statement timeout",
        "pg_cron proxima-housekeeping: not scheduled, or by another role (supabase db push schedules it)",
    ]


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (None, None),
        ("", "(no message)"),
        ("\n  \nERROR:  boom\nCONTEXT:  PL/pgSQL function x line 3", "ERROR:  boom"),
        ("x" * (MESSAGE_CHARS + 50), "x" * (MESSAGE_CHARS - 1) + "…"),
    ],
)
def test_a_failure_message_is_its_first_line_cut_short(message: str | None, shown: str | None) -> None:
    assert _first_line(message) == shown


@pytest.mark.parametrize(("runs", "said"), [(0, "0 runs"), (1, "1 run"), (2, "2 runs")])
def test_a_jobs_run_count_is_said_in_the_right_number(runs: int, said: str) -> None:
    job = CronJob(
        name="proxima-housekeeping",
        scheduled=True,
        runs_24h=runs,
        last_run_at=NOW - dt.timedelta(hours=30),
        last_status="succeeded",
        last_seconds=0.05,
    )
    health = ScheduleHealth(now=NOW, last_enqueue=NOW, pg_cron="readable", cron_jobs=(job,))
    assert describe_schedule(health)[1] == (
        f"pg_cron proxima-housekeeping: last run 2026-12-01 01:00 UTC succeeded in 0.05 s;"
        f" {said} in the last 24 h, 0 failed"
    )
