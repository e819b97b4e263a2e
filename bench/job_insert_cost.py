"""What one weekly job row costs to insert, and which part of the queue's schema costs what.

The full weekly enqueue (every active person due) inserts one row per person into
``public.jobs``; at 100,000 people that insert alone is most of the run. This script
takes the queue as the migrations leave it, with ``--people`` people in ``auth.users``
and three earlier weeks of finished weekly jobs, and inserts one weekly job per person
in one statement (as ``enqueue_weekly_analysis`` does, ``on conflict ... do nothing``),
rolled back and vacuumed after each; the same rows in the person's order (as the enqueue
inserts them since 20261201130000); then the same with one part taken away at a time,
inside the rolled-back transaction: the NOTIFY trigger (or a statement trigger without
the transition table), the kind check as it was before
``20261201110000_job_kind_check_without_bounded_repeat.sql``, each index that an inserted
queued row enters, and all of them (the heap and the primary key alone). The variants
run interleaved, ``--repeat`` rounds; the figure is the median, in µs a row and as a
ratio to the full insert of the same round. ``--analyze`` then commits one batch and times
``analyze public.jobs`` at statistics targets 100 and 10, interleaved.

    flock /tmp/proxima-bench.lock .venv/bin/python bench/job_insert_cost.py --markdown
    .venv/bin/python bench/job_insert_cost.py --people 2000 --repeat 2      # smoke run
    flock /tmp/proxima-bench.lock .venv/bin/python bench/job_insert_cost.py --people 100000 --repeat 3 --markdown --analyze
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from typing import Any

import psycopg

from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate_connection

WEEK = "2026-11-23"
INSERT = (
    "insert into public.jobs (kind, user_id, payload, priority, dedupe_key)"
    " select 'weekly_analysis', u.id,"
    " jsonb_build_object('week_of', %(week)s::text, 'force', false, 'trigger', 'weekly'), 0,"
    " 'weekly_analysis:' || u.id || ':' || %(week)s::text"
    " from auth.users u"
)
ON_CONFLICT = (
    " on conflict (dedupe_key) where dedupe_key is not null and status in ('queued', 'running') do nothing"
)
NOTIFY_WITHOUT_TRANSITION = [
    "drop trigger jobs_notify_inserted on public.jobs",
    "create function pg_temp.notify_any() returns trigger language plpgsql as"
    " $$ begin perform pg_notify('proxima_jobs', 'weekly_analysis'); return null; end $$",
    "create trigger jobs_notify_any after insert on public.jobs"
    " for each statement execute function pg_temp.notify_any()",
]
# Partial indexes a queued row never enters (running, finished, failed rows only).
NOT_ENTERED = ("jobs_lease_idx", "jobs_finished_idx", "jobs_failed_idx")


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare(conn: psycopg.Connection[Any], people: int) -> list[str]:
    migrate_connection(conn)
    with conn.cursor().copy("copy auth.users (id, email) from stdin") as copy:
        for index in range(people):
            copy.write_row((uuid.uuid4(), f"person{index:06d}@bench.proxima.local"))
    for week in ("2026-11-02", "2026-11-09", "2026-11-16"):
        conn.execute(INSERT, {"week": week})
    conn.execute("update public.jobs set status = 'succeeded', finished_at = now()")
    conn.execute("vacuum analyze")
    rows = conn.execute(
        "select indexrelid::regclass::text from pg_index"
        " where indrelid = 'public.jobs'::regclass and not indisprimary order by 1"
    ).fetchall()
    return [name for (name,) in rows if name not in NOT_ENTERED]


def variants(indexes: list[str]) -> dict[str, tuple[list[str], str]]:
    full = INSERT + ON_CONFLICT
    found: dict[str, tuple[list[str], str]] = {
        "the queue as it is (on conflict do nothing)": ([], full),
        "plain insert (no on conflict)": ([], INSERT),
        "rows in the person's order (order by u.id)": ([], INSERT + " order by u.id" + ON_CONFLICT),
        "without the NOTIFY and person-check trigger": (
            ["alter table public.jobs disable trigger jobs_notify_inserted"],
            full,
        ),
        "NOTIFY trigger without the transition table": (NOTIFY_WITHOUT_TRANSITION, full),
    }
    found["with the former kind check (bounded repetition {0,62})"] = (
        [
            "alter table public.jobs drop constraint jobs_kind_check",
            "alter table public.jobs add constraint jobs_kind_check"
            " check (kind ~ '^[a-z][a-z0-9_]{0,62}$') not valid",
        ],
        full,
    )
    for name in indexes:
        statement = INSERT if name == "jobs_dedupe_unfinished_idx" else full
        found[f"without {name}"] = ([f"drop index public.{name}"], statement)
    found["heap and primary key only (no trigger, no other index)"] = (
        ["alter table public.jobs disable trigger all"] + [f"drop index public.{n}" for n in indexes],
        INSERT,
    )
    return found


def measure(
    conn: psycopg.Connection[Any], cases: dict[str, tuple[list[str], str]], repeat: int
) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(repeat):
        note(f"round {round_ + 1} of {repeat}")
        for name, (setup, statement) in cases.items():
            conn.execute("begin")
            for step in setup:
                conn.execute(step)
            started = time.perf_counter()
            conn.execute(statement, {"week": WEEK})
            seconds[name].append(time.perf_counter() - started)
            conn.execute("rollback")
            conn.execute("vacuum public.jobs")
    return seconds


def analyze_cost(conn: psycopg.Connection[Any], repeat: int) -> dict[int, list[float]]:
    """Wall time (s) of ``analyze public.jobs`` at statistics targets 100 (the default) and 10
    (the weekly enqueue's, 20261201130000), interleaved, after one batch is committed."""
    conn.execute(INSERT + " order by u.id" + ON_CONFLICT, {"week": WEEK})
    seconds: dict[int, list[float]] = {100: [], 10: []}
    for _ in range(repeat):
        for target, values in seconds.items():
            conn.execute(f"set default_statistics_target = {target}")
            started = time.perf_counter()
            conn.execute("analyze public.jobs")
            values.append(time.perf_counter() - started)
    conn.execute("reset default_statistics_target")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=20_000, help="rows inserted per statement (20000)")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds (7)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="also time analyze public.jobs at statistics targets 100 and 10",
    )
    args = parser.parse_args()
    if args.people < 1 or args.repeat < 1:
        parser.error("--people and --repeat must be at least 1")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    started = time.monotonic()
    with LocalCluster.ephemeral() as cluster:
        with psycopg.connect(cluster.url(), autocommit=True) as admin:
            admin.execute("create database bench")
        with psycopg.connect(cluster.url("bench"), autocommit=True) as conn:
            note(f"migrations, {args.people:,} people, three finished weeks")
            indexes = prepare(conn, args.people)
            version = conn.execute("select version()").fetchone()
            cases = variants(indexes)
            seconds = measure(conn, cases, args.repeat)
            analyzed = analyze_cost(conn, args.repeat) if args.analyze else {}
    base = list(seconds["the queue as it is (on conflict do nothing)"])
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
        f"({platform.machine()}), {version[0].split(',')[0] if version else 'PostgreSQL'}; load average before: {load}.",
        f"Command: `bench/job_insert_cost.py --people {args.people} --repeat {args.repeat}`; "
        f"{args.people:,} weekly jobs in one statement, {3 * args.people:,} finished ones already in the table; "
        f"median of {args.repeat} interleaved rounds; {time.monotonic() - started:.0f} s in all.",
        "",
        "| Insert of the weekly jobs | µs a row | Ratio to the queue as it is |",
        "|---|---:|---:|",
    ]
    for name, values in seconds.items():
        median = statistics.median(values)
        ratio = statistics.median(v / b for v, b in zip(values, base, strict=True))
        lines.append(f"| {name} | {median * 1e6 / args.people:.1f} | {ratio:.2f}x |")
    if analyzed:
        rows = 4 * args.people
        lines += ["", f"| `analyze public.jobs` over {rows:,} jobs | ms (median) |", "|---|---:|"]
        for target, values in analyzed.items():
            lines.append(f"| statistics target {target} | {statistics.median(values) * 1000:.0f} |")
    text = "\n".join(lines)
    print(text if args.markdown else text.replace("|", " "))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
