"""The schedule loop that stands in for pg_cron where it is absent."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import psycopg

from worker.runtime.schedule import build_scheduler, pg_cron_installed, run_schedule


def _active_user(url: str) -> uuid.UUID:
    user = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id) values (%s)", (user,))
        conn.execute(
            "insert into public.symptom_tracking (user_id, symptom_name, body_part, severity) "
            "values (%s, 'headache', 'head', 4)",
            (str(user),),
        )
    return user


def test_the_weekly_call_runs_every_hour_on_the_hour(db_url: str) -> None:
    scheduler = build_scheduler(db_url)
    weekly, housekeeping = scheduler.get_jobs()
    assert weekly.unit == "hours"
    assert weekly.interval == 1
    assert weekly.at_time == dt.time(0, 0)
    assert housekeeping.unit == "days"
    assert housekeeping.at_time == dt.time(3, 17)


def test_many_workers_running_the_schedule_enqueue_each_user_week_once(db_url: str) -> None:
    users = [_active_user(db_url) for _ in range(3)]
    for _ in range(4):  # four worker processes firing in the same hour
        build_scheduler(db_url).run_all()
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "select user_id, count(*) from jobs where kind = 'weekly_analysis' group by user_id"
        ).fetchall()
    assert sorted(rows) == sorted((user, 1) for user in users)


def test_the_loop_runs_where_pg_cron_is_absent_and_stops_when_asked(db_url: str) -> None:
    assert pg_cron_installed(db_url) is False

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_schedule(db_url, stop))
        await asyncio.sleep(0.3)
        assert not task.done(), "without pg_cron the loop keeps the schedule"
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
