"""What the medical-claim guard costs: per sentence on its evaluation set, and per report.

    .venv/bin/python bench/guard_cost.py [--people 200] [--repeat 3] [--markdown]

A report here is everything the offline provider writes for one person-week (a story,
the analysis, the five moves) from the synthetic weeks of tests/support/fake_deepseek.py;
the guard reads every string of it, as validation does. The guard adds no model round
trip: it runs inside validation, on the worker's CPU. Figures are CPU time of this
process (``time.process_time``), each report's the least of ``--repeat`` runs, so that other
load on a shared machine changes them little. The held-out and development sets' figures are
printed beside the evaluation set's; both were read while generalising the guard, so they
show regressions, not how it does on unseen wording.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests" / "support"))

from fake_deepseek import sample_week_facts  # noqa: E402 - lives in tests/support
from report_strings import offline_report_strings  # noqa: E402 - lives in tests/support

from worker.ai.local import LocalProvider  # noqa: E402
from worker.safety import check_text, load_vocabulary  # noqa: E402
from worker.safety.evaluation import DEFAULT_SET, evaluate, load_cases  # noqa: E402


async def reports(people: int) -> list[list[str]]:
    provider = LocalProvider()
    return [await offline_report_strings(sample_week_facts(person), provider) for person in range(people)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="runs per report; the least CPU time counts")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.people < 1 or args.repeat < 1:
        parser.error("--people and --repeat must be at least 1")

    started = time.process_time()
    load_vocabulary()
    check_text("Warm up the compiled patterns.")
    load_cpu = time.process_time() - started

    texts = asyncio.run(reports(args.people))
    per_report: list[float] = []
    for report in texts:
        runs = []
        for _ in range(args.repeat):
            t0 = time.process_time()
            for text in report:
                check_text(text)
            runs.append((time.process_time() - t0) * 1000)
        per_report.append(min(runs))
    evaluation = evaluate(load_cases())
    others = [
        (label, evaluate(load_cases(DEFAULT_SET.with_name(name))))
        for label, name in (
            ("held-out set (now a development set)", "holdout_set.jsonl"),
            ("development set", "dev_set.jsonl"),
        )
        if DEFAULT_SET.with_name(name).exists()
    ]
    strings_per_report = statistics.mean(len(r) for r in texts)
    chars_per_report = statistics.mean(sum(len(s) for s in r) for r in texts)
    per_report.sort()
    rows = [
        ("vocabulary load, once per process (CPU)", f"{load_cpu * 1000:.0f} ms"),
        ("evaluation set: sentences", f"{evaluation.cases}"),
        ("evaluation set: unsafe refused", f"{evaluation.recall:.1%}"),
        ("evaluation set: safe refused", f"{evaluation.false_refusals:.1%}"),
        ("evaluation set: guard time per sentence", f"{evaluation.seconds * 1e6 / evaluation.cases:.0f} us"),
        *(
            row
            for label, result in others
            for row in (
                (f"{label}: sentences", f"{result.cases}"),
                (f"{label}: unsafe refused", f"{result.recall:.1%}"),
                (f"{label}: safe refused", f"{result.false_refusals:.1%}"),
            )
        ),
        (
            "reports checked",
            f"{len(texts)} ({strings_per_report:.0f} strings, {chars_per_report:,.0f} characters each)",
        ),
        (
            f"guard CPU per report, median (least of {args.repeat} runs)",
            f"{statistics.median(per_report):.2f} ms",
        ),
        ("guard CPU per report, p95", f"{per_report[int(0.95 * (len(per_report) - 1))]:.2f} ms"),
        ("model round trips added", "0"),
    ]
    if args.markdown:
        print("| measure | value |\n| --- | --- |")
        for name, value in rows:
            print(f"| {name} | {value} |")
    else:
        for name, value in rows:
            print(f"{name:<45} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
