"""Whether the hourly enqueue and the housekeeping run: the schedule part of ``status``.

The weekly jobs exist only if the hourly ``enqueue_weekly_analysis()`` runs, from pg_cron
or, where pg_cron is absent, from a worker's schedule loop. Neither says anything when it
stops or fails: pg_cron keeps its runs' outcomes in ``cron.job_run_details``, the schedule
loop in its log. ``status`` therefore reads:

* when the hourly enqueue last ran, whoever ran it (the newest of its per-zone marks,
  ``proxima_private.weekly_enqueue_marks``, which every hourly run writes), and says the
  schedule is behind once a run is more than :data:`BEHIND_AFTER` late;
* where pg_cron is installed in this database, each of our pg_cron jobs: its last run, how
  many of the last 24 hours' runs failed and the newest failure's message (the first line,
  cut to :data:`MESSAGE_CHARS`; these errors carry ids and settings, never health text),
  or that the job is not scheduled (pg_cron shows a role only the jobs it scheduled), or
  that this role may not read pg_cron's tables at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from psycopg import Connection

from worker.db.queries import load_queries

# The two pg_cron jobs the migrations schedule (20261128100200_pg_cron_schedules.sql).
CRON_JOBS = ("weekly-health-analysis", "proxima-housekeeping")
# A run every hour: a last run older than this means at least one was missed.
BEHIND_AFTER = dt.timedelta(hours=2)
MESSAGE_CHARS = 200
# pg_cron in this database: not there, there and readable by this role, or there but not.
CronAccess = Literal["absent", "readable", "unreadable"]


def _query(name: str) -> Any:
    return load_queries("worker.ops", "queries.sql")[name]


@dataclass(frozen=True)
class CronJob:
    name: str
    scheduled: bool
    runs_24h: int = 0
    failed_24h: int = 0
    last_run_at: dt.datetime | None = None
    last_status: str | None = None
    last_seconds: float | None = None
    last_failure_at: dt.datetime | None = None
    last_failure: str | None = None


@dataclass(frozen=True)
class ScheduleHealth:
    now: dt.datetime
    last_enqueue: dt.datetime | None
    pg_cron: CronAccess
    cron_jobs: tuple[CronJob, ...] = ()

    @property
    def behind(self) -> bool:
        return self.last_enqueue is None or self.now - self.last_enqueue > BEHIND_AFTER


def read_schedule_health(conn: Connection[Any], jobs: tuple[str, ...] = CRON_JOBS) -> ScheduleHealth:
    """The schedule as the database records it; ``jobs``: the pg_cron job names to report."""
    row = conn.execute(_query("schedule_health")).fetchone()
    assert row is not None
    now, last_enqueue, cron_state = row
    cron_jobs: tuple[CronJob, ...] = ()
    if cron_state == "readable":
        found = {
            r[0]: CronJob(
                name=r[0],
                scheduled=True,
                runs_24h=int(r[1]),
                failed_24h=int(r[2]),
                last_run_at=r[3],
                last_status=r[4],
                last_seconds=float(r[5]) if r[5] is not None else None,
                last_failure_at=r[6],
                last_failure=_first_line(r[7]),
            )
            for r in conn.execute(_query("cron_job_runs"), {"jobs": list(jobs)}).fetchall()
        }
        cron_jobs = tuple(found.get(name, CronJob(name=name, scheduled=False)) for name in jobs)
    return ScheduleHealth(now=now, last_enqueue=last_enqueue, pg_cron=cron_state, cron_jobs=cron_jobs)


def _first_line(message: str | None) -> str | None:
    if message is None:
        return None
    line = next((part.strip() for part in message.splitlines() if part.strip()), "")
    if len(line) > MESSAGE_CHARS:
        line = line[: MESSAGE_CHARS - 1] + "…"
    return line or "(no message)"


def _ago(now: dt.datetime, then: dt.datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _at(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def describe_schedule(health: ScheduleHealth) -> list[str]:
    """The schedule's lines of ``status``: what ran when, and what needs a look."""
    lines = []
    if health.last_enqueue is None:
        lines.append("hourly enqueue: has not run yet")
    else:
        lines.append(
            f"hourly enqueue: last ran {_at(health.last_enqueue)}, {_ago(health.now, health.last_enqueue)}"
        )
    if health.behind:
        runner = (
            "pg_cron's weekly-health-analysis job"
            if health.pg_cron != "absent"
            else "a worker's schedule loop (python -m worker run; pg_cron is not in this database)"
        )
        if health.last_enqueue is None:
            lines.append(
                f"  warning: no hourly enqueue has run yet (a new project's first comes on the hour);"
                f" it is run by {runner}: is it running?"
            )
        else:
            lines.append(f"  warning: the hourly enqueue is behind; it is run by {runner}: is it running?")
    if health.pg_cron == "unreadable":
        lines.append(
            "pg_cron: this role may not read cron.job and cron.job_run_details; its runs are not shown"
        )
    for job in health.cron_jobs:
        if not job.scheduled:
            lines.append(
                f"pg_cron {job.name}: not scheduled, or by another role (supabase db push schedules it)"
            )
            continue
        if job.last_run_at is None:
            lines.append(f"pg_cron {job.name}: scheduled, no run recorded yet")
            continue
        took = f" in {job.last_seconds:.2f} s" if job.last_seconds is not None else ""
        lines.append(
            f"pg_cron {job.name}: last run {_at(job.last_run_at)} {job.last_status}{took};"
            f" {job.runs_24h} {'run' if job.runs_24h == 1 else 'runs'} in the last 24 h, {job.failed_24h} failed"
        )
        if job.failed_24h and job.last_failure_at is not None:
            lines.append(f"  newest failure at {_at(job.last_failure_at)}: {job.last_failure}")
    return lines
