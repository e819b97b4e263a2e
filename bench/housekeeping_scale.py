"""The nightly housekeeping (``public.run_housekeeping()``) behind a large queue.

One private PostgreSQL cluster (``LocalCluster.ephemeral()``: fsync off, 127.0.0.1 only),
migrated, then seeded by COPY with ``--people`` people (``auth.users``) and ``--jobs`` jobs
of theirs: finished ones (``succeeded``, finished within the retention, so the night keeps
them, as a queue that keeps 30 days of history does), a tenth ``queued``; and ``--orphans``
jobs whose person no longer exists (the race of a job enqueued while its person was
deleted: inserted here with the person check's triggers off), spread over the statuses
the purge takes (queued, failed, succeeded) plus as many ``running`` ones it must spare.
Then ``vacuum analyze``.

Each of ``--reps`` repetitions runs ``select public.run_housekeeping()`` in a transaction
that is rolled back (the queue stays as seeded), timed from the client, and checks its
answer: exactly the orphans but the running ones deleted, no other job. The plan of the
orphan purge (``explain (analyze, buffers)`` of its delete, rolled back) is printed once.

    .venv/bin/python bench/housekeeping_scale.py                      # 1,000,000 jobs
    .venv/bin/python bench/housekeeping_scale.py --jobs 20000 --people 2000 --reps 2   # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from arguments import count_between

from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate_connection

ORPHAN_PURGE = """
delete from public.jobs j
 where j.user_id is not null
   and j.status <> 'running'
   and not exists (select 1 from auth.users u where u.id = j.user_id)
"""
ORPHAN_STATUSES = ("queued", "failed", "succeeded")


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


_COUNT = count_between(1, 10_000_000)


def seed(conn: psycopg.Connection[Any], people: int, jobs: int, orphans: int, rng: random.Random) -> None:
    now = dt.datetime.now(dt.UTC)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(people)]
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy("copy auth.users (id) from stdin") as copy:
            for user in users:
                copy.write_row((user,))
        # The person check's triggers are off for the seed only: it writes jobs of people
        # that do not exist, which is what the purge is for.
        cur.execute("set local session_replication_role = replica")
        columns = "kind, user_id, status, attempts, run_at, finished_at, lease_owner, lease_expires_at"
        with cur.copy(f"copy public.jobs ({columns}) from stdin") as copy:
            for i in range(jobs):
                finished = now - dt.timedelta(days=rng.uniform(0, 25))
                if i % 10 == 0:
                    copy.write_row(("weekly_analysis", users[i % people], "queued", 0, now, None, None, None))
                else:
                    copy.write_row(
                        ("weekly_analysis", users[i % people], "succeeded", 1, finished, finished, None, None)
                    )
            for i in range(orphans):
                gone = uuid.UUID(int=rng.getrandbits(128), version=4)
                status = ORPHAN_STATUSES[i % len(ORPHAN_STATUSES)]
                copy.write_row(
                    (
                        "weekly_analysis",
                        gone,
                        status,
                        1,
                        now,
                        None if status == "queued" else now,
                        None,
                        None,
                    )
                )
                # and one running job of a person gone: spared until its attempt ends
                copy.write_row(
                    ("weekly_analysis", gone, "running", 1, now, None, "bench", now + dt.timedelta(minutes=5))
                )
    conn.execute("vacuum analyze public.jobs")
    conn.execute("vacuum analyze auth.users")


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    with LocalCluster.ephemeral() as cluster:
        url = cluster.url()
        with psycopg.connect(url, autocommit=True) as conn:
            migrate_connection(conn)
            note(
                f"seeding {args.people:,} people, {args.jobs:,} jobs and {2 * args.orphans:,} jobs of people gone"
            )
            started = time.monotonic()
            seed(conn, args.people, args.jobs, args.orphans, rng)
            note(f"  seeded in {time.monotonic() - started:.1f} s")
            [(total,)] = conn.execute("select count(*) from public.jobs").fetchall()
            [(size,)] = conn.execute(
                "select pg_size_pretty(pg_total_relation_size('public.jobs'))"
            ).fetchall()
            times: list[float] = []
            answer: dict[str, Any] = {}
            for rep in range(1, args.reps + 1):
                with conn.transaction(force_rollback=True):
                    started = time.perf_counter()
                    [(answer,)] = conn.execute("select public.run_housekeeping()").fetchall()
                    times.append(time.perf_counter() - started)
                    [(left,)] = conn.execute("select count(*) from public.jobs").fetchall()
                note(f"repetition {rep}/{args.reps}: {1000 * times[-1]:,.0f} ms")
                if answer["orphaned_jobs_deleted"] != args.orphans or answer["jobs_deleted"] != 0:
                    raise RuntimeError(f"unexpected answer: {json.dumps(answer)}")
                if left != total - args.orphans:
                    raise RuntimeError(f"{total - left} jobs deleted, {args.orphans} expected")
            with conn.transaction(force_rollback=True):
                plan = [
                    row[0] for row in conn.execute("explain (analyze, buffers) " + ORPHAN_PURGE).fetchall()
                ]
    print(
        f"housekeeping behind a large queue, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"{total:,} jobs ({size}), {args.people:,} people"
    )
    print("command: bench/housekeeping_scale.py " + " ".join(sys.argv[1:]))
    print()
    print("| Figure | Measured |")
    print("|---|---|")
    print(
        f"| `run_housekeeping()`, median of {args.reps} (rolled back) | {1000 * statistics.median(times):,.0f} ms |"
    )
    print(f"| fastest / slowest | {1000 * min(times):,.0f} / {1000 * max(times):,.0f} ms |")
    print(f"| its answer | `{json.dumps(answer, sort_keys=True)}` |")
    print()
    print("The orphan purge's plan (explain analyze, rolled back):")
    print()
    for line in plan:
        print(f"    {line}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--jobs", type=_COUNT, default=1_000_000, help="jobs of existing people (default 1000000)"
    )
    parser.add_argument("--people", type=_COUNT, default=100_000, help="people (default 100000)")
    parser.add_argument(
        "--orphans",
        type=_COUNT,
        default=300,
        help="jobs of people gone to purge (default 300; as many running kept)",
    )
    parser.add_argument("--reps", type=_COUNT, default=5, help="repetitions (default 5)")
    parser.add_argument("--seed", type=int, default=12, help="random seed (default 12)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
