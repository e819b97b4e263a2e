"""One step of the weekly enqueue, side by side with variants of the schema or function.

Builds the bench/enqueue_scale.py data (100,000 active people, ``--history`` 1x or more,
``--extra-zones`` more time zones in use, ``--finished-weeks`` weeks of finished jobs).
With ``--step zone`` (the default) it runs the first full enqueue and the hour with nobody
due for real, then calls the hour in which Tokyo's Monday 06:00 passes (4,008 people due)
``--rounds`` times per variant; with ``--step full`` it calls the first full enqueue (every
active person due, no jobs yet: 101,052 jobs) instead, with ``--step nobody`` the hour with
nobody due. Variants are interleaved, each round starting one variant later, each call in a
transaction that is rolled back (the variant's statements run first, inside it) and
followed by ``vacuum analyze public.jobs``. Prints each variant's median and the median
of its per-round ratio to the queue as the migrations leave it. A variant that runs
statements (DDL) inside its transaction is best compared with another that does too: the
current migration re-run so came out 0.82-0.99x of the same code left alone (1 December).
``--explain`` instead prints, for each variant, the plan and time of every statement of one
call (the jobs' trigger included). The server runs with the harness's 128MB of shared
buffers unless ``--shared-buffers`` says otherwise, and with ``--huge-pages`` it must map
them with huge pages (``huge_pages = on``; the kernel must have them reserved).

Variants (``--variant``, repeatable):

* ``next_idx``: the former jobs_next_idx back;
* ``bitmap_off``: bitmap scans off for the function;
* ``user_id_index``: (user_id) instead of (user_id, dedupe_key);
* ``no_weekly_run_idx``;
* ``people_check``: the jobs' trigger looks up the enqueue's people again, as it did before
  20261201140000;
* ``include_user_id``: the text-keyed sources' (lower(user_id), time) indexes with user_id
  included, so a probe can be an index-only scan;
* ``exists_probes``: the current function with its probes as seven ORed EXISTS;
* ``fresh_session``: the same function, each call the first of a new connection, as each
  pg_cron run is; ``fresh_session+VARIANT``: another variant's statements, called so;
* ``rev:REV``: the enqueue function as the migration 20261201110200 defined it at git
  revision REV, e.g. ``rev:c4fe41d``;
* ``sql:FILE[+FILE...]``: files (migrations of the working tree, or any path) run as they
  are, in that order.

    flock /tmp/proxima-bench.lock .venv/bin/python bench/enqueue_ab.py --variant next_idx --rounds 15
    flock /tmp/proxima-bench.lock .venv/bin/python bench/enqueue_ab.py --variant rev:c4fe41d --rounds 15
    flock /tmp/proxima-bench.lock .venv/bin/python bench/enqueue_ab.py --step full --rounds 5 \
        --variant sql:supabase/migrations/20261201110200_enqueue_skips_probes_of_known_writers.sql+supabase/migrations/20261201100400_queue_person_check_per_statement.sql
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import enqueue_scale as es

from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate_connection

FUNCTION_MIGRATION = "supabase/migrations/20261201110200_enqueue_skips_probes_of_known_writers.sql"
NAMED = {
    "next_idx": [
        "create index jobs_next_idx on public.jobs (priority desc, run_at, id) where status = 'queued'"
    ],
    "bitmap_off": [
        "alter function public.enqueue_weekly_analysis(date, timestamptz) set enable_bitmapscan = off"
    ],
    "user_id_index": [
        "drop index public.jobs_user_dedupe_idx",
        "create index jobs_user_idx on public.jobs (user_id)",
    ],
    "no_weekly_run_idx": ["drop index public.jobs_weekly_run_idx"],
    "people_check": [
        "alter function public.enqueue_weekly_analysis(date, timestamptz) reset proxima.job_people_read"
    ],
    "include_user_id": [
        f"drop index public.proxima_{table}_lower_user_{column}; create index proxima_{table}_lower_user_{column}"
        f" on public.{table} (lower(user_id), {time}) include (user_id)"
        for table, column, time in (
            ("symptom_tracking", "date", "occurrence_date"),
            ("quick_scans", "created", "created_at"),
            ("deep_dive_sessions", "created", "created_at"),
        )
    ]
    # The new expression indexes' statistics, as the old ones have.
    + ["analyze public.symptom_tracking, public.quick_scans, public.deep_dive_sessions"],
}


CURRENT_MIGRATION = "supabase/migrations/20261201130000_enqueue_in_person_order.sql"
EXISTS_PROBES = """    select pe.user_id, pe.zone
    from people pe
    where exists (select 1 from public.symptom_tracking t
                  where pg_catalog.lower(t.user_id) = pe.user_id::text and t.occurrence_date >= since_day)
       or exists (select 1 from public.quick_scans q
                  where pg_catalog.lower(q.user_id) = pe.user_id::text and q.created_at >= since)
       or exists (select 1 from public.health_stories s where s.user_id = pe.user_id and s.created_at >= since)
       or exists (select 1 from public.story_notes n where n.user_id = pe.user_id and n.created_at >= since)
       or exists (select 1 from public.deep_dive_sessions d
                  where pg_catalog.lower(d.user_id) = pe.user_id::text and d.created_at >= since)
       or exists (select 1 from public.conversations c where c.user_id = pe.user_id and c.created_at >= since)
       or exists (select 1 from public.conversations c join public.messages m on m.conversation_id = c.id
                  where c.user_id = pe.user_id and m.created_at >= since)
"""


def exists_probes() -> list[str]:
    """The current enqueue with its per-person probes written as seven ORed EXISTS (which the
    planner may run as hashed subplans over each source's 28 days)."""
    text = (Path(__file__).resolve().parent.parent / CURRENT_MIGRATION).read_text(encoding="utf-8")
    function = text[
        text.index("create or replace function public.enqueue_weekly_analysis") : text.index(
            "create or replace function public.notify_jobs_inserted"
        )
    ]
    start = function.index("    select pe.user_id, pe.zone\n    from people pe\n    cross join lateral (")
    end = function.index("    ) found\n", start) + len("    ) found\n")
    return [function[:start] + EXISTS_PROBES + function[end:]]


WHAT = {"zone": "one zone's hour", "nobody": "an hour with nobody due", "full": "the full enqueue"}
FRESH = "fresh_session+"


def fresh(variant: str) -> bool:
    """Whether the variant's call is the first of a new connection."""
    return variant == "fresh_session" or variant.startswith(FRESH)


def caller_for(
    variant: str, url: str, conn: psycopg.Connection[Any]
) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]:
    """The connection a variant's call runs on: a new one for a fresh-session variant."""
    return psycopg.connect(url, autocommit=True) if fresh(variant) else contextlib.nullcontext(conn)


def statements(variant: str) -> list[str]:
    if variant in NAMED:
        return NAMED[variant]
    if variant == "fresh_session":
        return []
    if variant.startswith(FRESH):
        return statements(variant[len(FRESH) :])
    if variant == "exists_probes":
        return exists_probes()
    if variant.startswith("rev:"):
        text = subprocess.run(
            ["git", "show", f"{variant[4:]}:{FUNCTION_MIGRATION}"], check=True, capture_output=True, text=True
        ).stdout
        return [text]
    if variant.startswith("sql:"):
        root = Path(__file__).resolve().parent.parent
        return [(root / name).read_text(encoding="utf-8") for name in variant[4:].split("+")]
    raise SystemExit(
        f"unknown variant {variant!r}: one of {', '.join(NAMED)}, exists_probes, fresh_session,"
        " rev:REV or sql:FILE[+FILE]"
    )


def explained(conn: psycopg.Connection[Any], setup: list[str], as_of: Any) -> list[str]:
    """The plan and time of every statement one call runs, the trigger's included; rolled back."""
    notices: list[str] = []

    def keep(diag: psycopg.errors.Diagnostic) -> None:
        notices.append(diag.message_primary or "")

    conn.add_notice_handler(keep)
    try:
        with conn.transaction():
            for statement in setup:
                conn.execute(statement.encode())
            conn.execute("load 'auto_explain'")
            for name, value in es.AUTO_EXPLAIN.items():
                conn.execute("select set_config(%s, %s, true)", (name, value))
            conn.execute("select public.enqueue_weekly_analysis(null::date, %s)", (as_of,))
            raise es.Rollback
    except es.Rollback:
        pass
    finally:
        conn.remove_notice_handler(keep)
    conn.execute("vacuum analyze public.jobs")
    return [n for n in notices if n.startswith("duration:") and "set_config" not in n]


def reserved_huge_pages() -> int:
    """How many huge pages the kernel has reserved (0 where it says nothing)."""
    try:
        return int(Path("/proc/sys/vm/nr_hugepages").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", action="append", required=True, help="a variant (repeatable)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (15)")
    parser.add_argument("--people", type=int, default=100_000, help="active people (100000)")
    parser.add_argument("--step", choices=tuple(WHAT), default="zone", help="the step timed (zone)")
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print each variant's plans of one call instead of timing rounds",
    )
    parser.add_argument(
        "--history", type=int, default=1, help="history factor, as bench/enqueue_scale.py's (1)"
    )
    parser.add_argument(
        "--finished-weeks",
        type=int,
        default=0,
        help="weeks of finished weekly jobs, one a person-week, in the queue before the steps (0)",
    )
    parser.add_argument(
        "--extra-zones",
        type=int,
        default=0,
        help="more time zones in use, one idle person each, as bench/enqueue_scale.py's (0)",
    )
    parser.add_argument(
        "--shared-buffers",
        type=es.buffer_size,
        default=None,
        help="PostgreSQL's shared_buffers, e.g. 1GB, as bench/enqueue_scale.py's (the harness's 128MB)",
    )
    parser.add_argument(
        "--huge-pages",
        action="store_true",
        help="start PostgreSQL with huge_pages = on (the kernel must have them reserved: vm.nr_hugepages)",
    )
    args = parser.parse_args()
    if args.huge_pages and reserved_huge_pages() == 0:
        parser.error(
            "--huge-pages: the kernel has no huge pages reserved; as root, e.g."
            " `sysctl vm.nr_hugepages=600` for 1GB of shared buffers (and 0 afterwards)"
        )
    if (
        args.rounds < 1
        or args.people < 1000
        or args.history < 1
        or min(args.extra_zones, args.finished_weeks) < 0
    ):
        parser.error(
            "--rounds and --history must be at least 1, --people at least 1000,"
            " --extra-zones and --finished-weeks 0 or more"
        )
    variants: dict[str, list[str]] = {"as the migrations leave it": []} | {
        v: statements(v) for v in args.variant
    }
    people = es.People(args.people, 1)
    cluster = LocalCluster.ephemeral()
    if args.shared_buffers:
        cluster.overrides["shared_buffers"] = args.shared_buffers
    if args.huge_pages:
        # "on", not the harness's "try": a server that cannot have them does not start.
        cluster.overrides["huge_pages"] = "on"
    with cluster, psycopg.connect(cluster.url(), autocommit=True) as conn:
        [(buffers,)] = conn.execute("show shared_buffers").fetchall()
        migrate_connection(conn)
        es.load(conn, people, range(1), with_people=True)
        es.add_zones(conn, args.extra_zones, 1)
        if args.finished_weeks:
            # The weeks before the first run's, each person's job succeeded: the queue's
            # history, which the enqueue's look-up of earlier jobs must not read whole.
            conn.execute(
                "insert into public.jobs (kind, user_id, payload, dedupe_key, status, finished_at)"
                " select 'weekly_analysis', u.id,"
                " jsonb_build_object('week_of', to_char(w, 'YYYY-MM-DD'), 'force', false, 'trigger', 'weekly'),"
                " 'weekly_analysis:' || u.id || ':' || to_char(w, 'YYYY-MM-DD'), 'succeeded', now()"
                " from auth.users u,"
                " generate_series(%(monday)s::date - 7 * (%(weeks)s + 1), %(monday)s::date - 14, interval '7 days') w",
                {"monday": es.MONDAY, "weeks": args.finished_weeks},
            )
        if args.history > 1:
            es.add_history(conn, 1, args.history)
        conn.execute("vacuum analyze")
        sizes = sum(
            int(conn.execute(f"select count(*) from public.{t}").fetchall()[0][0]) for t in es.APP_TABLES
        )
        hourly = max(1, sizes // args.history // (28 * 24))
        times: dict[str, list[float]] = {name: [] for name in variants}
        for number, step in enumerate(es.STEPS):
            if step.new_rows_before:
                es.new_hour(conn, people, step.as_of, hourly, 100 + number)
                conn.execute("analyze public.quick_scans")
            if step.key != args.step:
                es.call(conn, "public.enqueue_weekly_analysis", step.as_of, commit=True)
                conn.execute("vacuum analyze public.jobs")
                continue
            if args.explain:
                for name, setup in variants.items():
                    print(f"== {name}: every statement of one call (auto_explain, ANALYZE, BUFFERS) ==")
                    with caller_for(name, cluster.url(), conn) as caller:
                        plans = explained(caller, setup, step.as_of)
                    print("\n-----\n".join(plans), flush=True)
                return 0
            order = list(variants.items())
            for round_ in range(args.rounds):
                # Each round starts one variant later, so no variant always runs first.
                first = round_ % len(order)
                for name, setup in order[first:] + order[:first]:
                    # fresh_session: the call is its connection's first, as each pg_cron run is.
                    with caller_for(name, cluster.url(), conn) as caller:
                        try:
                            with caller.transaction():
                                for statement in setup:
                                    caller.execute(statement.encode())
                                started = time.perf_counter()
                                caller.execute(
                                    "select public.enqueue_weekly_analysis(null::date, %s)", (step.as_of,)
                                )
                                times[name].append((time.perf_counter() - started) * 1000)
                                raise es.Rollback
                        except es.Rollback:
                            pass
                    conn.execute("vacuum analyze public.jobs")
            break
    base = times["as the migrations leave it"]
    what = WHAT[args.step]
    print(
        f"bench/enqueue_ab.py {' '.join(sys.argv[1:])}: {what}, {args.rounds} interleaved rounds,"
        f" shared_buffers {buffers}" + (", huge pages" if args.huge_pages else "")
    )
    for name, values in times.items():
        ratio = statistics.median(a / b for a, b in zip(values, base, strict=True))
        print(
            f"{name:30s} median {statistics.median(values):6.1f} ms  ratio {ratio:.3f}  {[round(v) for v in values]}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
