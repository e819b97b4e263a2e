"""What the model cost per week: ``python -m worker costs [--week YYYY-MM-DD]``.

Read from ``analysis_generations`` (one row per generation, failed ones included: their
tokens were paid for). DeepSeek counts cached input inside ``prompt_tokens``; the part
not served from the cache is priced apart.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from psycopg import Connection

from worker.config import Prices
from worker.db.queries import load_queries

_BAR = "█"
_PARTIAL = " ▏▎▍▌▋▊▉"


@dataclass(frozen=True)
class WeekCost:
    week_of: dt.date
    people: int = 0
    generations: int = 0
    failed: int = 0
    round_trips: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0

    @property
    def uncached_tokens(self) -> int:
        return max(self.prompt_tokens - self.cached_tokens, 0)

    def cost(self, prices: Prices) -> tuple[float, float, float]:
        """Dollars for cached input, uncached input and output."""
        return (
            self.cached_tokens * prices.input_cache_hit / 1e6,
            self.uncached_tokens * prices.input_cache_miss / 1e6,
            self.completion_tokens * prices.output / 1e6,
        )

    def total(self, prices: Prices) -> float:
        return sum(self.cost(prices))


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weekly_costs(conn: Connection[Any], last: dt.date, weeks: int) -> list[WeekCost]:
    """``weeks`` weeks ending with the week of ``last`` (a Monday), oldest first; a week
    without generations is all zeros."""
    first = last - dt.timedelta(weeks=weeks - 1)
    queries = load_queries("worker.ops", "queries.sql")
    rows = conn.execute(queries["weekly_costs"], {"first": first, "last": last}).fetchall()
    found = {row[0]: WeekCost(*row) for row in rows}
    return [
        found.get(first + dt.timedelta(weeks=i), WeekCost(first + dt.timedelta(weeks=i)))
        for i in range(weeks)
    ]


def latest_week(conn: Connection[Any]) -> dt.date | None:
    row = conn.execute(load_queries("worker.ops", "queries.sql")["latest_generated_week"]).fetchone()
    return row[0] if row and row[0] else None


def _bar(value: float, top: float, width: int) -> str:
    if top <= 0 or value <= 0:
        return ""
    eighths = round(value / top * width * 8)
    full, rest = divmod(max(eighths, 1), 8)
    return _BAR * full + (_PARTIAL[rest] if rest else "")


def render(weeks: list[WeekCost], prices: Prices, *, width: int = 40) -> str:
    """The detail of the last week, then a bar chart of every week's cost."""
    week = weeks[-1]
    cached, uncached, output = week.cost(prices)
    total = cached + uncached + output
    share = f" ({week.cached_tokens / week.prompt_tokens:.1%})" if week.prompt_tokens else ""
    per_person = f"${total / week.people:,.4f}" if week.people else "n/a"
    trips = f" ({week.round_trips / week.people:.2f} per person)" if week.people else ""
    lines = [
        f"week of {week.week_of:%Y-%m-%d} (Monday)",
        f"  people analysed      {week.people:>14,}",
        f"  generations          {week.generations:>14,}   ({week.failed:,} failed)",
        f"  round trips          {week.round_trips:>14,}  {trips}",
        f"  prompt tokens        {week.prompt_tokens:>14,}",
        f"    from the cache     {week.cached_tokens:>14,}  {share}",
        f"    not cached         {week.uncached_tokens:>14,}",
        f"  completion tokens    {week.completion_tokens:>14,}",
        f"  cost                 {'$' + format(total, ',.2f'):>14}   "
        f"(cached input ${cached:,.2f}, uncached input ${uncached:,.2f}, output ${output:,.2f})",
        f"  cost per person      {per_person:>14}",
        f"prices per million tokens: cache hit ${prices.input_cache_hit:g}, cache miss "
        f"${prices.input_cache_miss:g}, output ${prices.output:g} (PROXIMA_PRICE_*)",
        "",
        f"cost per week, the last {len(weeks)} weeks",
    ]
    totals = [w.total(prices) for w in weeks]
    top = max(totals, default=0.0)
    for w, value in zip(weeks, totals, strict=True):
        lines.append(
            f"  {w.week_of:%Y-%m-%d}  {'$' + format(value, ',.2f'):>12}  {w.people:>9,} people  {_bar(value, top, width)}"
        )
    return "\n".join(line.rstrip() for line in lines)
