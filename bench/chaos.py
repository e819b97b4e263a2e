"""The chaos suite at full size: the weekly batch and PDF exports through worker processes
that are SIGKILLed every few seconds, with one PostgreSQL restart mid-run and failing
model and Storage servers.

By default: 2,000 person-weeks and 100 exports, 3 ``python -m worker run --no-schedule``
processes, a SIGKILL of a random started worker every 3 s (a replacement starts at once),
PostgreSQL restarted once when 40% of the jobs have ended (2 s of outage), 30% of chat
completions answered 429 / 500 / held past the 3 s ``DEEPSEEK_TIMEOUT`` / garbage, 20% of
uploads answered 503. The workers run with their defaults otherwise: 60 s lease, 3
requests per model call, the 5 attempts jobs are enqueued with.

The run itself is ``tests/chaos/chaos_run.py`` (shared with ``tests/chaos/test_chaos.py``);
see its docstring for the steps and the checks. Progress goes to stderr; the figures
(Markdown, with the command) go to stdout. The exit code is 0 when every invariant held.

    .venv/bin/python bench/chaos.py                                  # full size
    .venv/bin/python bench/chaos.py --people 200 --exports 20        # smaller
    .venv/bin/python bench/chaos.py --lease 10 --job-attempts 10     # generous, as the test
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from tests.chaos.chaos_run import ChaosConfig, run_chaos  # noqa: E402 - the project root is on the path now


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=2000, help="person-weeks, one weekly job each (2000)")
    parser.add_argument("--exports", type=int, default=100, help="PDF exports requested (100)")
    parser.add_argument("--workers", type=int, default=3, help="worker processes (3)")
    parser.add_argument("--kill-every", type=float, default=3.0, help="seconds between SIGKILLs (3)")
    parser.add_argument(
        "--min-up", type=float, default=0.0, help="kill only workers up at least this long (0)"
    )
    parser.add_argument(
        "--restart-at", type=float, default=0.4, help="share of jobs ended at the restart (0.4)"
    )
    parser.add_argument("--down", type=float, default=2.0, help="seconds PostgreSQL stays down (2)")
    parser.add_argument(
        "--model-faults", type=float, default=0.3, help="share of model requests failed (0.3)"
    )
    parser.add_argument("--storage-faults", type=float, default=0.2, help="share of uploads refused (0.2)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per model answer (0.1)")
    parser.add_argument("--deepseek-timeout", type=float, default=3.0, help="DEEPSEEK_TIMEOUT (3)")
    parser.add_argument("--deepseek-attempts", type=int, default=3, help="DEEPSEEK_MAX_ATTEMPTS (3)")
    parser.add_argument(
        "--job-attempts", type=int, help="max_attempts set on every job (default: as enqueued, 5)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="job slots per worker process (16)")
    parser.add_argument("--lease", type=float, default=60.0, help="the workers' --lease (60)")
    parser.add_argument("--poll", type=float, default=1.0, help="the workers' --poll (1)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="bound on the run (3600 s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the people, the faults and the kills")
    parser.add_argument(
        "--worker-tree",
        type=Path,
        help="a folder with another copy of the worker package for the workers to run "
        "(e.g. git archive HEAD worker | tar -x -C DIR): measures a commit while the checkout changes",
    )
    parser.add_argument("--logs", type=Path, help="folder for the workers' logs (default: a new temp folder)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = ChaosConfig(
        people=args.people,
        exports=args.exports,
        workers=args.workers,
        kill_every=args.kill_every,
        min_up=args.min_up,
        restart_at=args.restart_at,
        down_seconds=args.down,
        model_fault_rate=args.model_faults,
        storage_fault_rate=args.storage_faults,
        latency=args.latency,
        deepseek_timeout=args.deepseek_timeout,
        deepseek_max_attempts=args.deepseek_attempts,
        job_max_attempts=args.job_attempts,
        worker_concurrency=args.concurrency,
        lease_seconds=args.lease,
        poll_seconds=args.poll,
        timeout=args.timeout,
        seed=args.seed,
        log_dir=args.logs,
        worker_tree=args.worker_tree,
    )
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    result = run_chaos(config)
    command = " ".join([".venv/bin/python bench/chaos.py", *(argv if argv is not None else sys.argv[1:])])
    print(
        f"Run {started} on {os.cpu_count()} cores ({platform.machine()}), load average before the run {load}\n"
    )
    print(result.summary(command), flush=True)
    return 0 if result.finished and not result.problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
