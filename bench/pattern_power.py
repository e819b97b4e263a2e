"""Pattern power: does ``find_patterns`` find what was planted, and nothing in noise, cheaply?

People come from ``tests/support/synthetic_patterns.py``: twelve local weeks each, five
symptoms, two or three body areas, conversations. For every planted kind, ``--people``
people carry one pattern at its documented strength (``STRENGTH``); ``--null`` people
carry none (default 1,000: at the measured rate of about 2% the 95% interval is about
+-1 point). Reported:

* per kind, the share of planted patterns found (the planted items, of the planted kind, in
  the planted direction or on the planted weekday), with a 95% Clopper-Pearson interval,
  against the target of 90%, and the share of those people with some other finding too;
* the share of null people with any finding at all, against the target of at most 5%;
* the CPU time (``time.process_time``) of ``find_patterns`` per call: one call is one
  person-week's report over a 12-week history, against the target of 5 ms; also per week
  of history, and of building the input (``PatternInput.from_events``), which is not in it;
* with ``--sweep``, the share found at weaker strengths too, so the documented strengths
  are read as points on a curve rather than the edge of what works;
* with ``--fdr-q``, all of it at another Benjamini-Hochberg level than ``FDR_Q`` (the
  comparison that chose it).

Every person is drawn from ``random.Random`` seeded with the kind and ``--seed``: the same
command prints the same shares (the CPU times vary with the machine).

    .venv/bin/python bench/pattern_power.py --quick          # 40 per kind, 100 null, ~10 s
    .venv/bin/python bench/pattern_power.py                  # 200 per kind, 1,000 null, ~30 s
    .venv/bin/python bench/pattern_power.py --sweep          # and weaker strengths, ~1 min
    .venv/bin/python bench/pattern_power.py --fdr-q 0.10     # the guard at 10% instead

Progress goes to stderr; the markdown tables go to stdout.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

import numpy as np
import scipy
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from synthetic_patterns import (
    PLANTED_KINDS,
    STRENGTH,
    WEEKS,
    Person,
    PlantedKind,
    null_person,
    planted_person,
)

from worker.analysis import patterns
from worker.analysis.patterns import PatternFinding, PatternInput, find_patterns

TARGET_FOUND = 0.90
TARGET_NULL = 0.05
TARGET_MS = 5.0
SWEEP: dict[PlantedKind, tuple[float, ...]] = {
    "co_occurrence": (0.6, 0.7),
    "co_occurrence_area": (0.6, 0.7),
    "weekday": (0.6, 0.7),
    "lagged": (0.8, 0.9),
    "trend_frequency": (0.7, 0.8),
    "trend_severity": (2.5, 3.0),
}


@dataclass
class Outcome:
    people: int = 0
    found: int = 0
    other: int = 0  # people with a finding that is not the planted one
    tests: int = 0
    cpu_s: list[float] = field(default_factory=list)
    build_s: float = 0.0

    def share(self, count: int) -> str:
        return f"{count / self.people:.1%}" if self.people else "n/a"


def _interval(count: int, total: int) -> str:
    ci = stats.binomtest(count, total).proportion_ci(confidence_level=0.95, method="exact")
    return f"{ci.low:.1%}–{ci.high:.1%}"


def _family_size(history: PatternInput) -> int:
    """How many tests the correction counted for the person (outside the timed calls)."""
    span = patterns._span(history)
    return len(patterns._candidates(history, *span)) if span else 0


def _run(people: Sequence[Person], cpu: list[float]) -> tuple[list[list[PatternFinding]], float]:
    findings = []
    build = 0.0
    for person in people:
        started = time.process_time()
        history: PatternInput = person.history
        build += time.process_time() - started
        started = time.process_time()
        found = find_patterns(history)
        cpu.append(time.process_time() - started)
        findings.append(found)
    return findings, build


def measure_kind(kind: PlantedKind, count: int, strength: float, seed: int) -> Outcome:
    rng = Random(f"{seed}:{kind}:{strength}")
    people = [planted_person(kind, rng, strength) for _ in range(count)]
    outcome = Outcome(people=count)
    results, outcome.build_s = _run(people, outcome.cpu_s)
    for person, findings in zip(people, results, strict=True):
        assert person.planted is not None
        outcome.found += person.planted.found_in(findings)
        outcome.other += any(not person.planted.matches(f) for f in findings)
        outcome.tests += _family_size(person.history)
    return outcome


def measure_null(count: int, seed: int) -> tuple[Outcome, dict[str, int]]:
    rng = Random(f"{seed}:null")
    people = [null_person(rng) for _ in range(count)]
    outcome = Outcome(people=count)
    results, outcome.build_s = _run(people, outcome.cpu_s)
    by_kind: dict[str, int] = {}
    for findings in results:
        outcome.found += bool(findings)
        for finding in findings:
            label = finding.kind + (f" ({finding.measure})" if finding.measure else "")
            by_kind[label] = by_kind.get(label, 0) + 1
    return outcome, by_kind


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=200, help="planted people per kind (default 200)")
    parser.add_argument("--null", type=int, default=1000, help="null people (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="40 per kind and 100 null, as the tests")
    parser.add_argument("--sweep", action="store_true", help="also measure weaker strengths")
    parser.add_argument(
        "--fdr-q", type=float, default=None, help=f"the Benjamini-Hochberg level (default {patterns.FDR_Q})"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.null = 40, 100
    if args.fdr_q is not None:
        patterns.FDR_Q = args.fdr_q  # type: ignore[misc]  # a what-if for the guard's one knob

    print(
        f"# pattern power: {args.people} planted people per kind, {args.null} null people, "
        f"{WEEKS} weeks each, seed {args.seed}, BH q <= {patterns.FDR_Q}",
    )
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"{platform.system()} {platform.machine()}, nproc {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    cpu: list[float] = []
    build = 0.0
    calls = 0
    rows = []
    verdicts = []
    for kind in PLANTED_KINDS:
        print(f"{kind} at {STRENGTH[kind]} ...", file=sys.stderr)
        outcome = measure_kind(kind, args.people, STRENGTH[kind], args.seed)
        cpu += outcome.cpu_s
        build += outcome.build_s
        calls += outcome.people
        share = outcome.found / outcome.people
        verdicts.append(share >= TARGET_FOUND)
        rows.append(
            f"| {kind} | {STRENGTH[kind]} | {outcome.people} | **{outcome.share(outcome.found)}** "
            f"| {_interval(outcome.found, outcome.people)} | {'meets' if share >= TARGET_FOUND else 'MISSES'} "
            f"| {outcome.share(outcome.other)} | {outcome.tests / max(1, outcome.people):.0f} |"
        )
    print("null people ...", file=sys.stderr)
    null, by_kind = measure_null(args.null, args.seed)
    cpu += null.cpu_s
    build += null.build_s
    calls += null.people
    null_share = null.found / null.people

    print("| planted kind | strength | people | found | 95% CI | ≥ 90%? | other finding too | tests/person |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(
        f"| **null** (none planted) | – | {null.people} | any finding: **{null.share(null.found)}** "
        f"| {_interval(null.found, null.people)} | {'meets' if null_share <= TARGET_NULL else 'MISSES'} (≤ 5%) "
        f"| – | – |"
    )
    if by_kind:
        print(
            "\nFindings on null people by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(by_kind.items()))
        )

    ms = np.array(cpu) * 1000
    per_call = float(ms.mean())
    print("\n| CPU per call of find_patterns (one person-week, 12-week history) | ms |")
    print("|---|---|")
    print(
        f"| mean over {calls} calls | **{per_call:.2f}** ({'meets' if per_call <= TARGET_MS else 'MISSES'} ≤ 5) |"
    )
    print(f"| median | {statistics.median(ms):.2f} |")
    print(f"| p95 | {float(np.percentile(ms, 95)):.2f} |")
    print(f"| max | {float(ms.max()):.2f} |")
    print(f"| mean per week of history | {per_call / WEEKS:.2f} |")
    print(
        f"| building the input (PatternInput.from_events), mean, not included above | {build * 1000 / calls:.2f} |"
    )

    if args.sweep:
        print("\n| planted kind | strength | people | found | 95% CI |")
        print("|---|---|---|---|---|")
        for kind in PLANTED_KINDS:
            for strength in (*SWEEP[kind], STRENGTH[kind]):
                print(f"sweep {kind} at {strength} ...", file=sys.stderr)
                outcome = measure_kind(kind, args.people, strength, args.seed)
                print(
                    f"| {kind} | {strength} | {outcome.people} | {outcome.share(outcome.found)} "
                    f"| {_interval(outcome.found, outcome.people)} |"
                )
    return 0 if all(verdicts) and null_share <= TARGET_NULL and per_call <= TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
