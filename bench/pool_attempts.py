"""Target 3 read from several runs of ``bench/queue_throughput.py`` pooled, by tree.

An interleaved side by side runs the queue bench again and again, a tree at a time, each run
with a few attempts. This pools each tree's attempts, scenario by scenario, from the runs' saved
summary lines: the attempt-by-attempt ratios (each drain over its own attempt's ceiling) and
the connections opened during each drain. It prints, per tree and scenario, the number of
attempts, their median with its distribution-free 95% interval, the verdict read from it by
the queue bench's own rule (``queue_throughput.interval_verdict``: met when the whole interval
is at 80% or above), and the connections opened on average.

The input is a results file as ``bench/results/scale_2026-12-04.md`` keeps them: a ``## ``
heading per side by side, a ``### <tree>, from <time>`` heading per run, and under it the run's
summary lines (indented or not). ``--section`` picks the side by side by the start of its
heading. Scenarios are kept apart by their concurrency ("in-process at 4", "2 processes at
4 x 2"), so a whole suite's runs pool too. The ratios are read as printed, to the percent: an
interval whose low end reads exactly 80% is reported "at the line".

    .venv/bin/python bench/pool_attempts.py bench/results/scale_2026-12-04.md --section "The pool opened"
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from queue_throughput import interval_verdict, median_interval

_RUN = re.compile(r"^### (?P<tree>.+?), from [0-9:]+")
# A scenario as the queue bench names it: "in-process (concurrency 4 x 1 process(es))".
_SCENARIO = r"^(?P<name>.+?) \(concurrency (?P<slots>\d+) x (?P<processes>\d+) process\(es\)\): "
_RATIOS = re.compile(
    _SCENARIO
    + r"attempt by attempt, each drain over its own attempt's ceiling: (?P<values>[0-9% /]+) \(median"
)
_OPENED = re.compile(
    _SCENARIO + r"connections our workers opened while the clock ran, each attempt: (?P<values>[0-9 /]+) \("
)


def _scenario(match: re.Match[str]) -> str:
    """The scenario with its concurrency ("in-process at 4", "2 processes at 4 x 2"), so that a
    suite's scenarios pool apart."""
    shape = match["slots"] if match["processes"] == "1" else f"{match['slots']} x {match['processes']}"
    return f"{match['name']} at {shape}"


@dataclass
class Pooled:
    ratios: list[float] = field(default_factory=list)
    opened: list[int] = field(default_factory=list)


def pool(lines: Sequence[str], section: str) -> dict[tuple[str, str], Pooled]:
    """Each (tree, scenario)'s attempts in the ``## `` section whose heading starts with ``section``."""
    found: dict[tuple[str, str], Pooled] = {}
    inside, tree, seen = False, None, False
    for raw in lines:
        line = raw.strip()
        if raw.startswith("## "):
            inside = raw[3:].startswith(section)
            seen = seen or inside
            tree = None
            continue
        if not inside:
            continue
        if match := _RUN.match(line):
            tree = match["tree"]
            continue
        if tree is None:
            continue
        if match := _RATIOS.match(line):
            values = [float(v.strip().rstrip("%")) / 100 for v in match["values"].split("/")]
            found.setdefault((tree, _scenario(match)), Pooled()).ratios.extend(values)
        elif match := _OPENED.match(line):
            counts = [int(v) for v in match["values"].split("/")]
            found.setdefault((tree, _scenario(match)), Pooled()).opened.extend(counts)
    if not seen:
        raise ValueError(f"no section starts with {section!r}")
    if not found:
        raise ValueError(f"the section {section!r} holds no run's attempt-by-attempt lines")
    return found


def verdict(ratios: Sequence[float], target: float = 0.8) -> str:
    interval = median_interval(ratios)
    if interval is None:
        return "too few attempts for an interval (6 at least)"
    low, high = interval
    # Read from whole percents, an interval whose low end reads the target may lie just below it.
    word = "at the line" if round(low, 2) == target else interval_verdict(low, high, target)
    return f"95% interval {100 * low:.0f}% to {100 * high:.0f}%: {word}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", type=Path, help="a results file of saved queue bench runs")
    parser.add_argument("--section", required=True, help="the start of the side by side's '## ' heading")
    args = parser.parse_args(argv)
    try:
        found = pool(args.results.read_text().splitlines(), args.section)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    for (tree, scenario), pooled in sorted(found.items(), key=lambda item: (item[0][1], item[0][0])):
        line = f"{scenario} | {tree} | {len(pooled.ratios)} attempts"
        if pooled.ratios:
            line += f" | median {100 * statistics.median(pooled.ratios):.1f}%, {verdict(pooled.ratios)}"
        if pooled.opened:
            line += f" | connections opened during a drain: {statistics.mean(pooled.opened):.2f} on average"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
