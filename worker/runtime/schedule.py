"""The schedule loop: where pg_cron is absent, the worker enqueues the weekly jobs itself.

With pg_cron installed in the database the migrations schedule
``weekly-health-analysis`` (every hour, on the hour: each person's report is enqueued
once their local Monday 06:00 has passed) and housekeeping there, and this loop does
nothing but wait for the stop: it stays alive, because ``/health`` counts a watched loop
that ended as a dead process. Without it (the embedded default), every worker process runs the same calls
at the same times; ``enqueue_weekly_analysis`` is idempotent per user-week, so many
workers still enqueue each user-week once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import psycopg
import schedule

from worker.log import get_logger
from worker.queue import manager
from worker.queue.retry import describe

log = get_logger("worker.schedule")

WEEKLY_AT_MINUTE = ":00"  # every hour, on the hour (UTC)
HOUSEKEEPING_AT = "03:17"
_TICK_SECONDS = 20.0


def enqueue_weekly(conninfo: str, week_of: dt.date | None = None, notices: list[str] | None = None) -> int:
    """Call ``public.enqueue_weekly_analysis``; returns the number of jobs it added.

    The function's notices (people for whom ``week_of`` has not begun) are appended to
    ``notices`` when given.
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if notices is not None:
            conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        row = conn.execute(manager.query("enqueue_weekly_analysis"), {"week_of": week_of}).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def run_housekeeping(conninfo: str) -> dict[str, Any]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(manager.query("run_housekeeping")).fetchone()
    return dict(row[0]) if row and row[0] else {}


def pg_cron_installed(conninfo: str) -> bool:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(manager.query("pg_cron_installed")).fetchone()
    return bool(row and row[0])


def build_scheduler(conninfo: str) -> schedule.Scheduler:
    scheduler = schedule.Scheduler()

    def weekly() -> None:
        try:
            added = enqueue_weekly(conninfo)
            log.info("weekly analysis enqueued", jobs=added)
        except psycopg.Error as exc:
            log.error("weekly enqueue failed; the next tick retries", error=describe(exc))
            raise

    def housekeeping() -> None:
        try:
            log.info("housekeeping done", **run_housekeeping(conninfo))
        except psycopg.Error as exc:
            log.error("housekeeping failed", error=describe(exc))

    scheduler.every().hour.at(WEEKLY_AT_MINUTE).do(weekly)
    scheduler.every().day.at(HOUSEKEEPING_AT, "UTC").do(housekeeping)
    return scheduler


async def run_schedule(conninfo: str, stop: asyncio.Event) -> None:
    """Run the weekly and housekeeping calls on time until ``stop`` is set.

    Returns only once ``stop`` is set, also when pg_cron schedules the jobs and there is
    nothing to do here: the health check reports a loop that returned as stopped.
    """
    try:
        if await asyncio.to_thread(pg_cron_installed, conninfo):
            log.info("pg_cron schedules the weekly jobs; the schedule loop stays idle")
            await stop.wait()
            return
    except psycopg.Error as exc:
        log.warning("cannot tell whether pg_cron is installed; scheduling here", error=describe(exc))
    scheduler = build_scheduler(conninfo)
    log.info("scheduling weekly jobs in the worker", next_run=str(scheduler.next_run))
    while not stop.is_set():
        # A failed call is logged by the job and stays due, so the next tick retries it.
        with contextlib.suppress(psycopg.Error):
            await asyncio.to_thread(scheduler.run_pending)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=_TICK_SECONDS)
