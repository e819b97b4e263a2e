"""How far the weekly run is: ``python -m worker status --watch``.

The run of a week is its scheduled ``weekly_analysis`` jobs (refreshes are not part of
it). Each reading counts them by status; the rate is what finished in the last minute
(read from the database, so a watch started mid-run knows the pace at once) and the ETA
is what is left at that rate. On a terminal the watch draws a bar (``tqdm``); piped, it
prints one plain line per reading.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from psycopg import Connection
from tqdm import tqdm

from worker.db.queries import load_queries

RATE_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Cause:
    text: str
    failed: int
    retrying: int


@dataclass(frozen=True)
class RunProgress:
    week_of: str
    counts: dict[str, int]
    finished_recently: int
    causes: list[Cause] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)

    @property
    def done(self) -> int:
        return self.count("succeeded")

    @property
    def ended(self) -> int:
        """Jobs that will not run again: succeeded, failed for good, or cancelled."""
        return self.done + self.count("failed") + self.count("cancelled")

    @property
    def remaining(self) -> int:
        return self.count("queued") + self.count("running")

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.remaining == 0

    @property
    def rate(self) -> float:
        """Jobs ended per second over the last minute."""
        return self.finished_recently / RATE_WINDOW_SECONDS

    @property
    def eta_seconds(self) -> float | None:
        if self.remaining == 0:
            return 0.0
        return self.remaining / self.rate if self.rate > 0 else None


def _queries() -> dict[str, Any]:
    return load_queries("worker.ops", "queries.sql")


def latest_run(conn: Connection[Any]) -> str | None:
    row = conn.execute(_queries()["latest_weekly_run"]).fetchone()
    return str(row[0]) if row and row[0] else None


def read_progress(conn: Connection[Any], week_of: str, *, causes: int = 5) -> RunProgress:
    rows = conn.execute(
        _queries()["weekly_run_progress"], {"week": week_of, "window": RATE_WINDOW_SECONDS}
    ).fetchall()
    counts = {str(status): int(jobs) for status, jobs, _ in rows}
    recent = sum(int(r[2]) for r in rows)
    found = conn.execute(_queries()["weekly_run_failures"], {"week": week_of, "limit": causes}).fetchall()
    return RunProgress(week_of, counts, recent, [Cause(str(c), int(f), int(r)) for c, f, r in found])


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def summary(p: RunProgress) -> str:
    share = f" ({p.done / p.total:.1%})" if p.total else ""
    state = "finished" if p.finished else f"ETA {duration(p.eta_seconds)}"
    return (
        f"week of {p.week_of}: {p.done:,}/{p.total:,} done{share}, {p.count('running'):,} running, "
        f"{p.count('queued'):,} queued, {p.count('failed'):,} failed, {p.rate:,.1f}/s, {state}"
    )


def cause_lines(p: RunProgress) -> list[str]:
    if not p.causes:
        return ["no failures"]
    lines = ["failures by cause (failed for good / waiting to retry):"]
    lines += [f"  {c.failed:>7,} / {c.retrying:<7,} {c.text}" for c in p.causes]
    return lines


Reader = Callable[[], RunProgress]


def watch(
    read: Reader,
    *,
    out: TextIO,
    terminal: bool,
    interval: float,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunProgress:
    """Show readings until the run has finished (or ``timeout`` seconds passed)."""
    started = time.monotonic()
    progress = read()
    bar: tqdm[Any] | None = None
    if terminal:
        bar = tqdm(total=max(progress.total, 1), file=out, unit="job", dynamic_ncols=True, leave=True)
    try:
        while True:
            if bar is not None:
                bar.total = max(progress.total, 1)
                bar.n = progress.ended
                bar.set_description(f"week of {progress.week_of}", refresh=False)
                bar.set_postfix_str(
                    f"{progress.count('running'):,} running, {progress.count('queued'):,} queued, "
                    f"{progress.count('failed'):,} failed, ETA {duration(progress.eta_seconds)}",
                    refresh=False,
                )
                bar.refresh()
            else:
                stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
                print(f"{stamp} {summary(progress)}", file=out, flush=True)
            if progress.finished or (timeout is not None and time.monotonic() - started >= timeout):
                break
            sleep(interval)
            progress = read()
    finally:
        if bar is not None:
            bar.close()
    if terminal:
        print(summary(progress), file=out)
    for line in cause_lines(progress):
        print(line, file=out, flush=True)
    return progress
