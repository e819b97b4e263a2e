"""Which days a report covers, in the person's own time zone.

* A scheduled report of week ``W`` (a local Monday) covers exactly the previous local
  week: ``W-7 00:00`` to ``W 00:00``. It is stored under ``W``, the week it is read in.
* A refresh (or a story on demand) during ``W`` covers the seven local days ending at
  the moment it runs (today and the six days before), so what was logged since Monday
  counts; it never reaches past the end of ``W``.
* History (for trends and shadow patterns) is the four 7-day blocks before the window:
  for a scheduled report, the four local Monday-to-Sunday weeks before it.

Nothing here falls back to UTC: an unknown zone is an error (the database stores only
canonical names, and a person without a profile is in UTC by definition).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from worker.report import WeekWindow
from worker.timezones import load_zone

DEFAULT_TIMEZONE: Final = "UTC"
WHOLE_WEEK_TRIGGERS: Final = frozenset({"weekly", "manual"})
_DAY = dt.timedelta(days=1)


class WeekError(ValueError):
    """The asked-for week cannot be analysed (not a Monday, or not begun yet)."""


def local_midnight(day: dt.date, timezone: str) -> dt.datetime:
    """The first instant of ``day`` in ``timezone``, in UTC (aware datetimes that share a
    zone compare and subtract by wall clock in Python; UTC ones by the instant)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=load_zone(timezone)).astimezone(dt.UTC)


def week_window(week_of: dt.date, timezone: str, now: dt.datetime, *, whole_week: bool) -> WeekWindow:
    """The days a report of ``week_of`` covers at ``now``: the previous whole week when
    ``whole_week``, else the seven local days ending at ``now`` (within ``week_of``)."""
    if week_of.isoweekday() != 1:
        raise WeekError(f"week_of must be a Monday; {week_of.isoformat()} is a {week_of:%A}")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(dt.UTC)
    week_starts = local_midnight(week_of, timezone)
    if now < week_starts:
        raise WeekError(f"the week of {week_of.isoformat()} has not begun yet in {timezone}")
    if whole_week:
        start, end = week_of - 7 * _DAY, week_of - _DAY
        starts_at, ends_at = local_midnight(start, timezone), week_starts
    else:
        ends_at = min(now, local_midnight(week_of + 7 * _DAY, timezone))
        end = (ends_at - dt.timedelta(microseconds=1)).astimezone(load_zone(timezone)).date()
        start = end - 6 * _DAY
        starts_at = local_midnight(start, timezone)
    return WeekWindow(
        week_of=week_of,
        start=start,
        end=end,
        timezone=timezone,
        starts_at=starts_at,
        ends_at=ends_at,
    )
