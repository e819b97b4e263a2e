"""Gather a person's week and the eleven weeks before it (trends and shadow patterns read
the last five weeks, the pattern findings all twelve): a whole week in one query, whose
events are kept by their local dates in the profile's zone; a refresh, whose window ends
at the moment it runs, in two (the profile's zone first, then the activity).

The window comes from ``worker.analysis.window``: the previous whole local week for a
scheduled report, the seven local days ending now for a refresh. The app's tables are
read as the app has them (``text`` user ids on scans, symptoms and deep dives; messages
owned through their conversation). Only what the report needs is read: no e-mail, no
contacts, no message text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, sql

from worker.analysis.window import DEFAULT_TIMEZONE, WeekError, local_midnight, week_window
from worker.db.queries import load_queries
from worker.report import WeekWindow, clean_text, forbidden_character
from worker.timezones import UnknownTimeZone

HISTORY_WEEKS = 4  # the weeks before the window that trends and shadow patterns compare with
PATTERN_WEEKS = 12  # the weeks (window included) that the pattern findings read
NAME_LIMIT = 120  # symptom names, body parts, story titles: labels, not prose

__all__ = ["HISTORY_WEEKS", "Event", "LastReport", "RawWeek", "WeekError", "gather_week", "query"]


def query(name: str) -> sql.SQL:
    return load_queries("worker.analysis", "queries.sql")[name]


class Event(NamedTuple):
    """One row of the person's activity, on a local date (a named tuple: a week reads
    hundreds of them, and a tuple is built at half a frozen dataclass's cost)."""

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
class LastReport:
    """The week's latest succeeded report generation: what it was made from, and how."""

    input_hash: str | None
    trigger: str


@dataclass(frozen=True)
class RawWeek:
    user_id: UUID
    display_name: str | None
    window: WeekWindow
    events: list[Event]
    # Read only when asked (``with_last_report``); None also when there is none.
    last_report: LastReport | None = None

    @property
    def history_start(self) -> dt.date:
        return self.window.start - dt.timedelta(days=7 * HISTORY_WEEKS)

    @property
    def first_day(self) -> dt.date:
        """The first local day gathered: the pattern findings read that far back."""
        return self.window.start - dt.timedelta(days=7 * (PATTERN_WEEKS - 1))


async def gather_week(
    conn: AsyncConnection[Any],
    user_id: UUID,
    week_of: dt.date,
    *,
    whole_week: bool = True,
    now: dt.datetime | None = None,
    with_last_report: bool = False,
) -> RawWeek:
    """Read the person's profile and twelve weeks of activity (the window and eleven before).

    Raises ``WeekError`` for a week that cannot be analysed, including a profile whose
    time zone this worker does not know (never a silent fallback to UTC).

    ``with_last_report`` also reads the week's latest succeeded report generation
    (``store.last_report``), in the same round trip as the profile.
    """
    now = now or dt.datetime.now(dt.UTC)
    if whole_week:
        return await _gather_whole_week(conn, user_id, week_of, now, with_last_report=with_last_report)
    # Tuple rows (thousands of rows a run: no dict per row), columns as the queries list them.
    async with conn.cursor() as cur:
        if with_last_report:
            await cur.execute(
                query("gather_profile_and_last_report"), {"user_id": user_id, "week_of": week_of}
            )
        else:
            await cur.execute(query("gather_profile"), {"user_id": user_id})
        profile = await cur.fetchone()  # name, timezone[, input_hash, trigger]
        timezone = str(profile[1]) if profile and profile[1] else DEFAULT_TIMEZONE
        window = _window(week_of, timezone, now, whole_week=False)
        start = window.start - dt.timedelta(days=7 * (PATTERN_WEEKS - 1))
        assert window.ends_at is not None
        await cur.execute(
            query("gather_activity"),
            {
                "user_id": user_id,
                "user_key": str(user_id),
                "tz": window.timezone,
                "start_date": start,
                "end_date": window.end,
                "start_at": local_midnight(start, window.timezone),
                "end_at": window.ends_at,
            },
        )
        rows = await cur.fetchall()
    name = str(profile[0]) if profile and profile[0] else None
    last = (
        LastReport(input_hash=profile[2], trigger=str(profile[3]))
        if with_last_report and profile is not None and profile[3] is not None
        else None
    )
    return RawWeek(user_id=user_id, display_name=name, window=window, events=_events(rows), last_report=last)


def _window(week_of: dt.date, timezone: str, now: dt.datetime, *, whole_week: bool) -> WeekWindow:
    try:
        return week_window(week_of, timezone, now, whole_week=whole_week)
    except UnknownTimeZone as exc:
        raise WeekError(f"the profile's time zone cannot be used: {exc}") from None


async def _gather_whole_week(
    conn: AsyncConnection[Any], user_id: UUID, week_of: dt.date, now: dt.datetime, *, with_last_report: bool
) -> RawWeek:
    """A whole week in one round trip (``gather_week_at_once``): the week's dates need no
    zone, each event is kept by its local date, and the window is checked once the
    profile's zone is known."""
    if week_of.isoweekday() != 1:
        raise WeekError(f"week_of must be a Monday; {week_of.isoformat()} is a {week_of:%A}")
    end = week_of - dt.timedelta(days=1)
    start = week_of - dt.timedelta(days=7 * PATTERN_WEEKS)
    async with conn.cursor() as cur:
        try:
            await cur.execute(
                query("gather_week_at_once"),
                {
                    "user_id": user_id,
                    "user_key": str(user_id),
                    "week_of": week_of,
                    "start_date": start,
                    "end_date": end,
                    # A day wider than the twelve weeks in any zone (offsets are within 15 hours).
                    "lo": dt.datetime.combine(start - dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC),
                    "hi": dt.datetime.combine(week_of + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC),
                },
            )
        except psycopg.errors.InvalidParameterValue as exc:
            # The database does not know the stored zone either (written behind its back).
            raise WeekError(f"the profile's time zone cannot be used: {exc.diag.message_primary}") from None
        rows = await cur.fetchall()
    # The profile's row comes first (UNION ALL keeps its branches' order); found wherever it is.
    index = (
        0 if rows and rows[0][0] == _PROFILE else next(i for i, row in enumerate(rows) if row[0] == _PROFILE)
    )
    profile = rows.pop(index)  # source, day, name, zone, severity, input_hash, trigger, ...
    window = _window(week_of, str(profile[3]), now, whole_week=True)
    last = (
        LastReport(input_hash=profile[5], trigger=str(profile[6]))
        if with_last_report and profile[6] is not None
        else None
    )
    name = str(profile[2]) if profile[2] else None
    return RawWeek(user_id=user_id, display_name=name, window=window, events=_events(rows), last_report=last)


_PROFILE = "profile"


def _events(rows: list[tuple[Any, ...]]) -> list[Event]:
    """The activity rows as events, in day order."""
    # The app's free text is the person's (or another model's): no control or direction
    # characters past this point, and names and labels of a sensible length.
    # Columns as gather_activity selects them: source, day, name, body_part, severity,
    # detail, summary, ref, extra.
    if forbidden_character("\n".join([text for row in rows for text in row[2:7] if type(text) is str])):
        events = [
            Event(
                source,
                day,
                clean_text(name, NAME_LIMIT),
                clean_text(body_part, NAME_LIMIT),
                severity,
                clean_text(detail, NAME_LIMIT),
                clean_text(summary),
                ref,
                extra,
            )
            for source, day, name, body_part, severity, detail, summary, ref, extra in rows
        ]
    else:
        # Nothing to replace in any of them (one search over all the texts): only labels
        # over the limit are cut.
        events = [
            Event(
                source,
                day,
                name if name is None or len(name) <= NAME_LIMIT else clean_text(name, NAME_LIMIT),
                body_part
                if body_part is None or len(body_part) <= NAME_LIMIT
                else clean_text(body_part, NAME_LIMIT),
                severity,
                detail if detail is None or len(detail) <= NAME_LIMIT else clean_text(detail, NAME_LIMIT),
                summary,
                ref,
                extra,
            )
            for source, day, name, body_part, severity, detail, summary, ref, extra in rows
        ]
    events.sort(key=lambda e: (e.day, e.source))
    return events
