"""The pg_cron schedules and what their commands do.

pg_cron lives in one database per server (``cron.database_name``, ``postgres`` here as
on Supabase), not in the per-test clones, so the schedule tests migrate that database
once per module and share it: each test there cleans up the rows it adds. Where
pg_cron is not installed they skip (and fail in CI). The last tests run everywhere:
the migrations and the housekeeping must also work without pg_cron.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from cron_support import require_pg_cron
from pipeline_support import due_week

from worker.db.devdb import CRON_DATABASE, LocalCluster
from worker.db.migrate import MIGRATIONS_DIR, migrate_connection

SCHEDULE_MIGRATION = MIGRATIONS_DIR / "20261128100200_pg_cron_schedules.sql"
# The migration that moved the weekly enqueue to every hour.
HOURLY_MIGRATION = MIGRATIONS_DIR / "20261130100000_whole_local_weeks.sql"
WEEKLY = ("weekly-health-analysis", "0 * * * *", "select public.enqueue_weekly_analysis()")
HOUSEKEEPING = ("proxima-housekeeping", "17 3 * * *", "select public.run_housekeeping()")


@pytest.fixture(scope="module")
def cron_url(cluster: LocalCluster) -> str:
    """The cron database with every migration applied (idempotent: shared by the session)."""
    require_pg_cron(cluster)
    url = cluster.url(CRON_DATABASE)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate_connection(conn)
    return url


@pytest.fixture
def cron(cron_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(cron_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def cron_user(cron: psycopg.Connection[Any]) -> Iterator[uuid.UUID]:
    """A person with a quick scan yesterday, deleted (with their jobs) afterwards."""
    user_id = uuid.uuid4()
    cron.execute("insert into auth.users (id) values (%s)", (user_id,))
    cron.execute(
        "insert into public.quick_scans (user_id, body_part, created_at)"
        " values (%s, 'knee', now() - interval '1 day')",
        (str(user_id),),
    )
    try:
        yield user_id
    finally:
        # The app's text-keyed scans do not cascade from auth.users.
        cron.execute("delete from public.quick_scans where user_id = %s", (str(user_id),))
        cron.execute("delete from auth.users where id = %s", (user_id,))


def scheduled(conn: psycopg.Connection[Any], jobname: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select jobname, schedule, command from cron.job where jobname = %s", (jobname,)
    ).fetchall()


def scheduled_command(conn: psycopg.Connection[Any], jobname: str) -> bytes:
    row = conn.execute("select command from cron.job where jobname = %s", (jobname,)).fetchone()
    assert row is not None, f"{jobname} is not scheduled"
    return str(row[0]).encode()


# -- the schedules -------------------------------------------------------------------------------


def test_the_weekly_analysis_enqueue_is_scheduled_every_hour(cron: psycopg.Connection[Any]) -> None:
    assert scheduled(cron, WEEKLY[0]) == [WEEKLY]


def test_the_housekeeping_is_scheduled_every_night(cron: psycopg.Connection[Any]) -> None:
    assert scheduled(cron, HOUSEKEEPING[0]) == [HOUSEKEEPING]


def test_rerunning_the_schedule_migration_does_not_duplicate_the_schedules(
    cron: psycopg.Connection[Any],
) -> None:
    migrate_connection(cron)
    with cron.transaction():
        cron.execute(SCHEDULE_MIGRATION.read_bytes())
        cron.execute(HOURLY_MIGRATION.read_bytes())

    assert scheduled(cron, WEEKLY[0]) == [WEEKLY]
    assert scheduled(cron, HOUSEKEEPING[0]) == [HOUSEKEEPING]


# -- what the scheduled commands do --------------------------------------------------------------


def test_the_scheduled_weekly_command_enqueues_the_active_users_week(
    cron: psycopg.Connection[Any], cron_user: uuid.UUID
) -> None:
    with cron.transaction():
        cron.execute(scheduled_command(cron, WEEKLY[0]))
        [(now,)] = cron.execute("select now()").fetchall()
    week = [due_week("UTC", now).isoformat()]  # the person has no profile: UTC

    jobs = cron.execute(
        "select kind, payload, dedupe_key from public.jobs where user_id = %s", (cron_user,)
    ).fetchall()
    assert jobs == [
        (
            "weekly_analysis",
            {"week_of": week[0], "force": False, "trigger": "weekly"},
            f"weekly_analysis:{cron_user}:{week[0]}",
        )
    ]


def test_the_scheduled_housekeeping_deletes_old_finished_jobs_but_keeps_failed_ones(
    cron: psycopg.Connection[Any], cron_user: uuid.UUID
) -> None:
    ids: dict[str, int] = {}
    for label, status, age in [
        ("old succeeded", "succeeded", "31 days"),
        ("old cancelled", "cancelled", "31 days"),
        ("old failed", "failed", "400 days"),
        ("recent succeeded", "succeeded", "29 days"),
    ]:
        row = cron.execute(
            "insert into public.jobs (kind, user_id, status, finished_at, last_error)"
            " values ('housekeeping_probe', %s, %s, now() - %s::interval, %s) returning id",
            (cron_user, status, age, "boom" if status == "failed" else None),
        ).fetchone()
        assert row is not None
        ids[label] = row[0]

    cron.execute(scheduled_command(cron, HOUSEKEEPING[0]))

    left = cron.execute("select id from public.jobs where id = any(%s)", (list(ids.values()),)).fetchall()
    assert {ids[label] for label in ("old failed", "recent succeeded")} == {i for (i,) in left}


def test_the_scheduled_housekeeping_trims_cron_run_history_older_than_a_week(
    cron: psycopg.Connection[Any],
) -> None:
    run_ids: dict[str, int] = {}
    for label, age in [("old", "8 days"), ("recent", "6 days")]:
        row = cron.execute(
            "insert into cron.job_run_details"
            " (jobid, job_pid, database, username, command, status, return_message, start_time, end_time)"
            " values (0, 0, current_database(), current_user, 'select 1', 'succeeded', '1 row',"
            "         now() - %s::interval, now() - %s::interval)"
            " returning runid",
            (age, age),
        ).fetchone()
        assert row is not None
        run_ids[label] = row[0]
    try:
        result = cron.execute(scheduled_command(cron, HOUSEKEEPING[0])).fetchone()
        left = cron.execute(
            "select runid from cron.job_run_details where runid = any(%s)", (list(run_ids.values()),)
        ).fetchall()
    finally:
        cron.execute("delete from cron.job_run_details where runid = any(%s)", (list(run_ids.values()),))

    assert left == [(run_ids["recent"],)]
    assert result is not None
    assert result[0]["cron_runs_deleted"] >= 1


def test_status_reads_each_cron_jobs_runs_and_failures(cron: psycopg.Connection[Any]) -> None:
    from worker.ops.schedule_health import read_schedule_health  # noqa: PLC0415

    # A job of its own (never due: 1 January, 00:00), so that pg_cron's real hourly runs
    # cannot change what is counted.
    row = cron.execute("select cron.schedule('proxima-status-probe', '0 0 1 1 *', 'select 1')").fetchone()
    assert row is not None
    jobid = row[0]
    runs = [
        # (status, start, end, message): the newest a success; a failed connection has no start.
        ("succeeded", "1 hour", "1 hour - 250 milliseconds", "1 row"),
        ("failed", None, "2 hours", "connection failed"),
        ("failed", "3 hours", "3 hours - 1 second", "ERROR:  boom\nCONTEXT:  PL/pgSQL function"),
        ("failed", "30 hours", "30 hours", "ERROR:  older than a day"),
        ("starting", None, None, None),
    ]
    try:
        for status, start, end, message in runs:
            cron.execute(
                "insert into cron.job_run_details"
                " (jobid, job_pid, database, username, command, status, return_message, start_time, end_time)"
                " values (%s, 0, current_database(), current_user, 'select 1', %s, %s,"
                "         now() - %s::interval, now() - %s::interval)",
                (jobid, status, message, start, end),
            )
        health = read_schedule_health(cron, ("proxima-status-probe", "proxima-never-scheduled"))
        ours = read_schedule_health(cron)
        now = cron.execute("select now()").fetchone()
    finally:
        cron.execute("delete from cron.job_run_details where jobid = %s", (jobid,))
        cron.execute("select cron.unschedule(%s)", (jobid,))

    assert now is not None
    assert health.pg_cron == "readable"
    probe, never = health.cron_jobs
    assert (probe.name, probe.scheduled, probe.runs_24h, probe.failed_24h) == (
        "proxima-status-probe",
        True,
        3,
        2,
    )
    assert probe.last_status == "succeeded"
    # Each insert is its own transaction (autocommit): its now() a moment earlier.
    assert probe.last_run_at is not None and probe.last_failure_at is not None
    assert abs(probe.last_run_at - (now[0] - dt.timedelta(hours=1))) < dt.timedelta(seconds=30)
    assert probe.last_seconds == pytest.approx(0.25)
    assert probe.last_failure == "connection failed"
    assert abs(probe.last_failure_at - (now[0] - dt.timedelta(hours=2))) < dt.timedelta(seconds=30)
    assert (never.name, never.scheduled, never.runs_24h) == ("proxima-never-scheduled", False, 0)
    # The migrations' own jobs are scheduled in the cron database.
    assert [(j.name, j.scheduled) for j in ours.cron_jobs] == [
        ("weekly-health-analysis", True),
        ("proxima-housekeeping", True),
    ]


def test_status_says_when_its_role_may_not_read_pg_crons_tables(cron_url: str) -> None:
    from worker.ops.schedule_health import describe_schedule, read_schedule_health  # noqa: PLC0415

    # service_role reads the enqueue's marks but has no usage of pg_cron's schema.
    with psycopg.connect(cron_url) as conn:
        conn.execute("set local role service_role")
        health = read_schedule_health(conn)

    assert (health.pg_cron, health.cron_jobs) == ("unreadable", ())
    assert (
        "pg_cron: this role may not read cron.job and cron.job_run_details; its runs are not shown"
        in describe_schedule(health)
    )


# -- without pg_cron (every database but the cron one) -------------------------------------------


def test_the_schedule_migration_applies_where_pg_cron_cannot_be_created(
    conn: psycopg.Connection[Any],
) -> None:
    row = conn.execute(
        "select exists (select 1 from supabase_migrations.schema_migrations where version = %s),"
        " to_regnamespace('cron') is null",
        (SCHEDULE_MIGRATION.name.split("_", 1)[0],),
    ).fetchone()
    assert row == (True, True)


def test_housekeeping_runs_without_pg_cron_and_reports_no_cron_runs(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "insert into public.jobs (kind, status, finished_at)"
        " values ('housekeeping_probe', 'succeeded', now() - interval '31 days')"
    )

    row = conn.execute("select public.run_housekeeping()").fetchone()

    assert row == (
        {
            "jobs_deleted": 1,
            "orphaned_jobs_deleted": 0,
            "access_log_deleted": 0,
            "shares_deleted": 0,
            "cron_runs_deleted": None,
        },
    )
    assert conn.execute("select count(*) from public.jobs").fetchone() == (0,)


def test_the_worker_schedule_loop_stays_idle_where_pg_cron_schedules(cron_url: str) -> None:
    from worker.runtime.schedule import pg_cron_installed, run_schedule  # noqa: PLC0415

    assert pg_cron_installed(cron_url) is True

    def jobs() -> int:
        with psycopg.connect(cron_url) as conn:
            row = conn.execute("select count(*) from public.jobs").fetchone()
        assert row is not None
        return int(row[0])

    before = jobs()

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_schedule(cron_url, stop))
        await asyncio.sleep(1.0)
        # Idle, not ended: the health check counts a watched loop that ended as stopped.
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert jobs() == before, "pg_cron enqueues here, not the loop"
