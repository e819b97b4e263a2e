"""A kind-filtered claim behind a backlog of other kinds, beside the same claim on an empty queue.

One private PostgreSQL cluster (``LocalCluster.ephemeral()``, fsync off), two databases
cloned from one migrated template:

* "empty": only the asked kind's jobs (``--own``, default 1,000 ``export_pdf`` jobs);
* "backlog": the same jobs behind ``--backlog`` (default 100,000) queued jobs of another
  kind (``weekly_analysis``), as urgent and older, as on a Monday morning.

Both are ``vacuum analyze``d. Then the worker's kind-filtered claim
(``manager.bound_claim(kinds=(...))``, i.e. ``claim_jobs_of_kinds`` with its values written
in, as ``manager.claim_jobs`` sends it) runs ``--reps``
times in each database, alternating between them so that other load hits both alike. Each
repetition is begin; claim ``--limit`` jobs (timed: the round trip of the statement);
rollback, so the queue is the same every time. Statements are prepared by psycopg as in
the worker. The report gives the median and p90 of each and the ratio backlog / empty
(target: at most 1.2). ``--any`` repetitions of ``claim_jobs`` (the claim of any kind,
which since 20261201110300_one_next_job_index.sql skips through the same index for the
queued kinds) with its kinds filter show that statement too. The claim as it was before
jobs_next_by_kind_idx (a kinds filter on jobs_next_idx, 39.4x behind the backlog) is in
bench/results/queue.md.

    .venv/bin/python bench/claim_by_kind.py                 # about 30 s
    .venv/bin/python bench/claim_by_kind.py --markdown --reps 5000

Progress goes to stderr; the table goes to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate_connection
from worker.queue import manager

KIND = "export_pdf"
OTHER = "weekly_analysis"


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def create_db(cluster: LocalCluster, name: str, template: str | None = None) -> str:
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        statement = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("{} template {}").format(statement, sql.Identifier(template))
        conn.execute(statement)
    return cluster.url(name)


def fill(url: str, *, own: int, backlog: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if backlog:
            conn.execute(
                "insert into public.jobs (kind, priority, run_at) "
                "select %s, 0, now() - interval '1 hour' from generate_series(1, %s)",
                (OTHER, backlog),
            )
        conn.execute(
            "insert into public.jobs (kind, priority) select %s, 0 from generate_series(1, %s)",
            (KIND, own),
        )
        conn.execute("vacuum analyze public.jobs")


def any_kind_statement(limit: int) -> tuple[sql.Composed, dict[str, Any]]:
    """claim_jobs, the claim of any kind, with its kinds filter."""
    params = {"owner": "bench", "lease_seconds": 60.0, "kinds": [KIND]}
    return manager.query("claim_jobs").format(limit=sql.Literal(limit)), params


def claim_once(
    conn: psycopg.Connection[Any], statement: sql.Composed | bytes, params: dict[str, Any] | None
) -> float:
    """Seconds for one claim inside a transaction that is then rolled back."""
    conn.execute("begin")
    t0 = time.perf_counter()
    rows = conn.execute(statement, params).fetchall()
    elapsed = time.perf_counter() - t0
    conn.execute("rollback")
    if not rows:
        raise RuntimeError("the claim found no job")
    return elapsed


def measure(
    urls: dict[str, str],
    statement: sql.Composed | bytes,
    params: dict[str, Any] | None,
    reps: int,
    warmup: int,
) -> dict[str, list[float]]:
    """Alternating repetitions in each database; returns the seconds of each claim."""
    conns = {label: psycopg.connect(url, autocommit=True) for label, url in urls.items()}
    try:
        times: dict[str, list[float]] = {label: [] for label in urls}
        for rep in range(warmup + reps):
            for label, conn in conns.items():
                elapsed = claim_once(conn, statement, params)
                if rep >= warmup:
                    times[label].append(elapsed)
        return times
    finally:
        for conn in conns.values():
            conn.close()


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backlog", type=int, default=100_000, help="queued jobs of other kinds (100000)")
    parser.add_argument("--own", type=int, default=1000, help="queued jobs of the asked kind (1000)")
    parser.add_argument("--limit", type=int, default=1, help="jobs per claim (default 1)")
    parser.add_argument("--reps", type=int, default=2000, help="claims per database (default 2000)")
    parser.add_argument("--any", type=int, default=200, help="claims per database with claim_jobs (200)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if min(args.backlog, args.own, args.limit, args.reps) < 1 or args.any < 0:
        raise SystemExit("--backlog, --own, --limit and --reps must be at least 1")
    started = dt.datetime.now(dt.UTC)
    cluster = LocalCluster.ephemeral()
    note("starting a private PostgreSQL cluster")
    cluster.start()
    try:
        template = create_db(cluster, "claim_tpl")
        with psycopg.connect(template, autocommit=True) as conn:
            migrate_connection(conn)
            version = conn.execute("show server_version").fetchone()
        urls = {
            "empty queue": create_db(cluster, "claim_empty", "claim_tpl"),
            f"behind {args.backlog:,} {OTHER}": create_db(cluster, "claim_backlog", "claim_tpl"),
        }
        note(f"filling: {args.own:,} {KIND} jobs each, {args.backlog:,} {OTHER} jobs in the second")
        fill(next(iter(urls.values())), own=args.own, backlog=0)
        fill(list(urls.values())[1], own=args.own, backlog=args.backlog)
        statement = manager.bound_claim(owner="bench", limit=args.limit, lease_seconds=60.0, kinds=(KIND,))
        cpu0 = time.process_time()
        note(f"claim_jobs_of_kinds: {args.reps:,} claims in each database, alternating")
        new = measure(urls, statement, None, args.reps, warmup=50)
        client_cpu = time.process_time() - cpu0
        any_kind: dict[str, list[float]] = {}
        if args.any:
            note(f"claim_jobs with a kinds filter: {args.any} claims in each")
            any_kind = measure(urls, *any_kind_statement(args.limit), args.any, warmup=10)
    finally:
        note("stopping the cluster")
        cluster.stop()

    labels = list(urls)
    headers = ["statement", "queue", "claims", "median ms", "p90 ms", "ratio to empty (median)"]
    rows = []
    for name, times in (("claim_jobs_of_kinds", new), ("claim_jobs + kinds filter", any_kind)):
        if not times:
            continue
        base = statistics.median(times[labels[0]])
        for label in labels:
            median = statistics.median(times[label])
            rows.append(
                [
                    name,
                    label,
                    f"{len(times[label]):,}",
                    f"{1000 * median:.3f}",
                    f"{1000 * pct(times[label], 0.9):.3f}",
                    f"{median / base:.2f}",
                ]
            )
    ratio = statistics.median(new[labels[1]]) / statistics.median(new[labels[0]])
    print(
        f"\nkind-filtered claim, {started:%Y-%m-%d %H:%M} UTC: {KIND}, limit {args.limit}, "
        f"{args.own:,} own jobs; PostgreSQL {version[0] if version else '?'} (fsync off); "
        f"{os.cpu_count()} CPUs; load average at the end " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    print("command: bench/claim_by_kind.py " + " ".join(sys.argv[1:]))
    print(
        f"client CPU of the new claims: {1000 * client_cpu / (2 * (args.reps + 50)):.3f} ms per begin-claim-rollback\n"
    )
    if args.markdown:
        print("| " + " | ".join(headers) + " |")
        print("|---|---|" + "---:|" * (len(headers) - 2))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    met = "met" if ratio <= 1.2 else "MISSED"
    print(f"\nbehind the backlog / empty queue, median: {ratio:.2f} (target <= 1.20: {met})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
