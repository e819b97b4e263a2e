"""Gather a person's week and the four weeks before it, in two queries.

The week is computed in the person's own time zone: the seven local days ending on
the analysis date, which is today while the week of ``week_of`` is still running
and the week's Sunday once it is over. Only what the report needs is read: no e-mail,
no contacts, no message text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from worker.db.queries import load_queries
from worker.report import WeekWindow

HISTORY_WEEKS = 4
DEFAULT_TIMEZONE = "UTC"


def query(name: str) -> sql.SQL:
    return load_queries("worker.analysis", "queries.sql")[name]


class WeekError(ValueError):
    """The asked-for week cannot be analysed (not a Monday, or in the future)."""


@dataclass(frozen=True)
class Event:
    """One row of the person's activity, on a local date."""

    source: str
    day: dt.date
    name: str | None
    body_part: str | None
    severity: int | None
    detail: str | None
    summary: str | None
    ref: UUID | None
    extra: str | None = None


@dataclass(frozen=True)
class RawWeek:
    user_id: UUID
    display_name: str | None
    window: WeekWindow
    events: list[Event]

    @property
    def history_start(self) -> dt.date:
        return self.window.start - dt.timedelta(days=7 * HISTORY_WEEKS)


def analysis_window(week_of: dt.date, timezone: str, now: dt.datetime) -> WeekWindow:
    """The seven local days analysed for ``week_of`` at ``now``."""
    if week_of.isoweekday() != 1:
        raise WeekError(f"week_of must be a Monday; {week_of.isoformat()} is a {week_of:%A}")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone, timezone = ZoneInfo(DEFAULT_TIMEZONE), DEFAULT_TIMEZONE
    today = now.astimezone(zone).date()
    current_week = today - dt.timedelta(days=today.weekday())
    if week_of > current_week:
        raise WeekError(f"the week of {week_of.isoformat()} has not started yet in {timezone}")
    end = min(today, week_of + dt.timedelta(days=6))
    return WeekWindow(week_of=week_of, start=end - dt.timedelta(days=6), end=end, timezone=timezone)


def _local_midnight(day: dt.date, timezone: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(timezone))


async def gather_week(
    conn: AsyncConnection[Any], user_id: UUID, week_of: dt.date, *, now: dt.datetime | None = None
) -> RawWeek:
    """Read the person's profile and five weeks of activity (this week and four before)."""
    now = now or dt.datetime.now(dt.UTC)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query("gather_profile"), {"user_id": user_id})
        profile = await cur.fetchone()
        timezone = str(profile["timezone"]) if profile and profile["timezone"] else DEFAULT_TIMEZONE
        window = analysis_window(week_of, timezone, now)
        start = window.start - dt.timedelta(days=7 * HISTORY_WEEKS)
        await cur.execute(
            query("gather_activity"),
            {
                "user_id": user_id,
                "tz": window.timezone,
                "start_date": start,
                "end_date": window.end,
                "start_at": _local_midnight(start, window.timezone),
                "end_at": _local_midnight(window.end + dt.timedelta(days=1), window.timezone),
            },
        )
        rows = await cur.fetchall()
    events = [
        Event(
            source=row["source"],
            day=row["day"],
            name=row["name"],
            body_part=row["body_part"],
            severity=row["severity"],
            detail=row["detail"],
            summary=row["summary"],
            ref=row["ref"],
            extra=row["extra"],
        )
        for row in rows
    ]
    events.sort(key=lambda e: (e.day, e.source))
    name = str(profile["name"]) if profile and profile["name"] else None
    return RawWeek(user_id=user_id, display_name=name, window=window, events=events)
