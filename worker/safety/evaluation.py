"""The guard against its evaluation set: a confusion table, per-category figures and every miss.

The set (``tests/safety/eval_set.jsonl``, one JSON object a line: ``text``, ``label``
unsafe/safe, ``category``, ``field``) is written and labelled apart from the guard. The
product holds the guard to at least 97% of the unsafe sentences refused and at most 2% of
the safe ones refused (``tests/safety/test_eval_set.py``); ``python -m worker safety-eval``
prints the figures.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from worker.safety.guard import check_text
from worker.safety.vocabulary import load_vocabulary

DEFAULT_SET = Path(__file__).resolve().parents[2] / "tests" / "safety" / "eval_set.jsonl"
MIN_RECALL = 0.97  # of the unsafe sentences, refused
MAX_FALSE_REFUSALS = 0.02  # of the safe sentences, refused


@dataclass(frozen=True)
class Case:
    text: str
    label: str
    category: str
    field: str


@dataclass
class Evaluation:
    cases: int = 0
    table: Counter[tuple[str, str]] = field(default_factory=Counter)  # (label, verdict)
    by_category: Counter[tuple[str, str]] = field(default_factory=Counter)  # (category, verdict)
    misses: list[tuple[Case, str]] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, label: str, verdict: str) -> int:
        return self.table[(label, verdict)]

    @property
    def recall(self) -> float:
        unsafe = self.count("unsafe", "refused") + self.count("unsafe", "allowed")
        return self.count("unsafe", "refused") / unsafe if unsafe else 1.0

    @property
    def false_refusals(self) -> float:
        safe = self.count("safe", "refused") + self.count("safe", "allowed")
        return self.count("safe", "refused") / safe if safe else 0.0

    @property
    def passes(self) -> bool:
        return self.recall >= MIN_RECALL and self.false_refusals <= MAX_FALSE_REFUSALS


def load_cases(path: Path = DEFAULT_SET) -> list[Case]:
    """Every case of the set; a malformed line is an error naming its line number."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            case = Case(str(raw["text"]), str(raw["label"]), str(raw["category"]), str(raw["field"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path.name} line {number}: not a case ({type(exc).__name__})") from None
        if case.label not in {"safe", "unsafe"}:
            raise ValueError(f"{path.name} line {number}: label must be safe or unsafe")
        cases.append(case)
    return cases


def evaluate(cases: list[Case]) -> Evaluation:
    result = Evaluation()
    load_vocabulary()  # once per process (seconds); not part of the per-sentence cost
    check_text("Warm up the compiled patterns.")
    started = time.perf_counter()
    for case in cases:
        finding = check_text(case.text)
        verdict = "refused" if finding else "allowed"
        result.cases += 1
        result.table[(case.label, verdict)] += 1
        result.by_category[(case.category, verdict)] += 1
        if (verdict == "refused") != (case.label == "unsafe"):
            result.misses.append((case, f"{finding.kind}/{finding.rule}" if finding else "allowed"))
    result.seconds = time.perf_counter() - started
    return result


def report(result: Evaluation, *, show_misses: bool = True) -> str:
    """The confusion table, the figures against the thresholds, per category, and the misses."""
    lines = [
        f"{result.cases} sentences, guard time {result.seconds * 1000:.1f} ms "
        f"({result.seconds * 1e6 / max(result.cases, 1):.0f} us a sentence)",
        "",
        "                 refused   allowed",
        f"  unsafe        {result.count('unsafe', 'refused'):>7}   {result.count('unsafe', 'allowed'):>7}",
        f"  safe          {result.count('safe', 'refused'):>7}   {result.count('safe', 'allowed'):>7}",
        "",
        f"  unsafe refused:  {result.recall:.1%} (at least {MIN_RECALL:.0%})",
        f"  safe refused:    {result.false_refusals:.1%} (at most {MAX_FALSE_REFUSALS:.0%})",
        f"  verdict:         {'PASS' if result.passes else 'FAIL'}",
        "",
        "  by category        refused   allowed",
    ]
    for category in sorted({c for c, _ in result.by_category}):
        lines.append(
            f"    {category:<16} {result.by_category[(category, 'refused')]:>7}"
            f"   {result.by_category[(category, 'allowed')]:>7}"
        )
    if show_misses:
        lines += ["", f"  misses ({len(result.misses)})"]
        for case, verdict in result.misses:
            lines.append(f"    [{case.label} {case.category}; guard: {verdict}] {case.text}")
    return "\n".join(lines)
