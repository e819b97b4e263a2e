"""Interleaved rounds of ``bench/weekly_run.py`` for two or more source trees, side by side.

    git worktree add /tmp/base <commit>
    .venv/bin/python bench/weekly_ab.py --variant base=/tmp/base --variant head=. --rounds 2

Each round runs every variant once (the order reversed every other round), each with
``PYTHONPATH`` set to its tree and that tree's own ``bench/weekly_run.py``, under
``flock /tmp/proxima-bench.lock``; it prints each run's wall-to-bound ratio, the worker's CPU a
person-week, the middle pace and the ramp, then each variant's medians. On a shared machine
the same code's CPU figure moves with the load, so compare variants of the same rounds only.

Each run is ``weekly_run.py --people N --guide-batches 1 --db-sample 100`` and the options after
``--``, so each tree runs its own default job slots (since 1 December twice its request slots,
as ``python -m worker run`` does; older trees ran as many as their request slots while their
``python -m worker run`` ran 20% more). A variant can carry its own options, to run it as its
worker did: ``--variant "base=/tmp/base --job-concurrency 240"``. ``--python PATH`` among a
variant's options runs that variant on another interpreter (a virtualenv's ``bin/python`` with
the project's requirements) instead of this one, to compare interpreters on the same tree:
``--variant "source-build=. --python /tmp/venv-pyenv/bin/python" --variant distribution=.``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

PYTHON = Path(sys.executable)
BENCH_LOCK = "/tmp/proxima-bench.lock"  # noqa: S108 - the lock every heavy bench of this machine shares
_RATIO = re.compile(r"Wall / ideal \| ([\d.]+)x")
_CPU = re.compile(r"whole process during the run\) \| ([\d.]+) ms")
_PACE = re.compile(r"middle [\d.]+ requests/s \(([\d.]+)%")
_RAMP = re.compile(r"ramp ([\d.]+) s")


class Variant(NamedTuple):
    name: str
    tree: Path
    python: Path
    options: list[str]


def _variant(text: str) -> Variant:
    """``NAME=TREE``, optionally followed by ``--python PATH`` and that variant's own
    weekly_run.py options."""
    head, *options = text.split()
    name, sep, tree = head.partition("=")
    path = Path(tree).resolve()
    if not sep or not name or not (path / "bench" / "weekly_run.py").is_file():
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected NAME=TREE [--python PATH] [OPTIONS], a tree with bench/weekly_run.py"
        )
    python = PYTHON
    if "--python" in options:
        at = options.index("--python")
        if at + 1 >= len(options):
            raise argparse.ArgumentTypeError(f"{text!r}: --python needs the interpreter's path")
        python = Path(options[at + 1])
        if not (python.is_file() and os.access(python, os.X_OK)):
            raise argparse.ArgumentTypeError(f"{text!r}: {python} is not an executable file")
        del options[at : at + 2]
    return Variant(name, path, python, options)


def _found(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    if match is None:
        raise RuntimeError(f"weekly_run.py printed no {pattern.pattern!r}")
    return match.group(1)


def run_once(
    tree: Path, people: int, extra: list[str], python: Path = PYTHON
) -> tuple[float, float, str, str]:
    command = [
        "flock", BENCH_LOCK, str(python), str(tree / "bench" / "weekly_run.py"),
        "--people", str(people), "--guide-batches", "1", "--db-sample", "100",
        *extra,
    ]  # fmt: skip
    done = subprocess.run(
        command,
        env={**os.environ, "PYTHONPATH": str(tree)},
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    return float(_found(_RATIO, out)), float(_found(_CPU, out)), _found(_PACE, out), _found(_RAMP, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--variant",
        type=_variant,
        action="append",
        required=True,
        help="NAME=TREE, optionally followed by --python PATH and that variant's own weekly_run.py "
        "options (repeat)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each running every variant once (2)")
    parser.add_argument("--people", type=int, default=2000, help="people of each run (2000)")
    parser.add_argument("extra", nargs="*", help="more weekly_run.py options, after --")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.people < 1:
        parser.error("--rounds and --people must be at least 1")
    variants: list[Variant] = args.variant
    if len({variant.name for variant in variants}) < len(variants):
        parser.error("each --variant needs a name of its own")
    results: dict[str, list[tuple[float, float]]] = {variant.name: [] for variant in variants}
    for number in range(args.rounds):
        for name, tree, python, options in variants if number % 2 == 0 else list(reversed(variants)):
            ratio, cpu, pace, ramp = run_once(tree, args.people, [*args.extra, *options], python)
            results[name].append((ratio, cpu))
            print(
                f"round {number} {name}: {ratio}x, {cpu} ms a person-week, pace {pace}%, ramp {ramp} s",
                flush=True,
            )
    for name, runs in results.items():
        ratio = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name}: median {ratio:.3f}x, {cpu:.2f} ms a person-week", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
