"""Gather a person's week and the eleven weeks before it (trends and shadow patterns read
the last five weeks, the pattern findings all twelve) in one statement: the profile, the
week's last report and every event, each kept by its local date in the profile's zone. A
refresh, whose window ends at the moment it runs, reads the zone first.

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
    hundreds of them, and a tuple is cheaper to build than a frozen dataclass)."""

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
    (``store.last_report``), in the same statement as the activity.
    """
    now = now or dt.datetime.now(dt.UTC)
    if week_of.isoweekday() != 1:
        raise WeekError(f"week_of must be a Monday; {week_of.isoformat()} is a {week_of:%A}")
    window: WeekWindow | None = None
    if whole_week:
        # The twelve weeks' dates need no zone; the instants a day wider than any zone's
        # (offsets are within 15 hours) only let each branch range-scan its index.
        end = week_of - dt.timedelta(days=1)
        start = week_of - dt.timedelta(days=7 * PATTERN_WEEKS)
        lo = dt.datetime.combine(start - dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
        hi = dt.datetime.combine(week_of + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    else:
        # A refresh's seven days end now, in the profile's zone: the zone first.
        async with conn.cursor() as cur:
            await cur.execute(query("gather_profile_zone"), {"user_id": user_id})
            found = await cur.fetchone()
        zone = str(found[0]) if found and found[0] else DEFAULT_TIMEZONE
        window = _window(week_of, zone, now, whole_week=False)
        assert window.ends_at is not None
        end = window.end
        start = window.start - dt.timedelta(days=7 * (PATTERN_WEEKS - 1))
        lo, hi = local_midnight(start, window.timezone), window.ends_at
    # Tuple rows (thousands of rows a run: no dict per row), columns as the query lists them.
    async with conn.cursor() as cur:
        try:
            await cur.execute(
                query("gather_profile_and_activity"),
                {
                    "user_id": user_id,
                    "user_key": str(user_id),
                    "week_of": week_of,
                    "start_date": start,
                    "end_date": end,
                    "lo": lo,
                    "hi": hi,
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
    if window is None:
        window = _window(week_of, str(profile[3]), now, whole_week=True)
    last = (
        LastReport(input_hash=profile[5], trigger=str(profile[6]))
        if with_last_report and profile[6] is not None
        else None
    )
    name = str(profile[2]) if profile[2] else None
    return RawWeek(user_id=user_id, display_name=name, window=window, events=_events(rows), last_report=last)


def _window(week_of: dt.date, timezone: str, now: dt.datetime, *, whole_week: bool) -> WeekWindow:
    try:
        return week_window(week_of, timezone, now, whole_week=whole_week)
    except UnknownTimeZone as exc:
        raise WeekError(f"the profile's time zone cannot be used: {exc}") from None


_PROFILE = "profile"


def _events(rows: list[tuple[Any, ...]]) -> list[Event]:
    """The activity rows as events, in day order."""
    # The app's free text is the person's (or another model's): no control or direction
    # characters past this point, and names and labels of a sensible length. One search
    # over all the week's texts; only a week that holds such a character is cleaned row by row.
    # Columns as gather_profile_and_activity selects them: source, day, name, body_part,
    # severity, detail, summary, ref, extra.
    if forbidden_character("\n".join([text for row in rows for text in row[2:7] if type(text) is str])):
        rows = [tuple(clean_text(value) if type(value) is str else value for value in row) for row in rows]
    events = [
        Event(source, day, _label(name), _label(body_part), severity, _label(detail), summary, ref, extra)
        for source, day, name, body_part, severity, detail, summary, ref, extra in rows
    ]
    events.sort(key=lambda e: (e.day, e.source))
    return events


def _label(text: str | None) -> str | None:
    """A name or label cut to NAME_LIMIT characters (at a word, with a marker)."""
    return text if text is None or len(text) <= NAME_LIMIT else clean_text(text, NAME_LIMIT)
