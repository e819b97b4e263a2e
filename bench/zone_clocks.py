"""What reading time zones' clocks costs PostgreSQL in a new session and in a warm one.

The hourly enqueue works out a zone's week from its local time (``as_of at time zone
zone``). A session's first such read of a zone loads that zone's rules from disk; pg_cron
starts a new session for every run. For 0, 1, 25, 100 and 400 canonical zones
(``public.time_zone_names``), the median time of one statement that reads every zone's clock
as the first statement of a new connection, and in a connection that has read them before;
per zone, the new session's time beyond that of the same statement over no zone.

    flock /tmp/proxima-bench.lock .venv/bin/python bench/zone_clocks.py --repeat 9
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import psycopg

from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate_connection

READ = "select count(now() at time zone z) from unnest(%s::text[]) z"
SIZES = (0, 1, 25, 100, 400)


def timed(conn: psycopg.Connection[Any], zones: list[str]) -> float:
    started = time.perf_counter()
    conn.execute(READ, (zones,))
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=9, help="new connections per size (9)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    with LocalCluster.ephemeral() as cluster, psycopg.connect(cluster.url(), autocommit=True) as conn:
        migrate_connection(conn)
        names = [
            str(row[0])
            for row in conn.execute(
                "select name from public.time_zone_names where name = canonical order by name"
            ).fetchall()
        ]
        print(f"bench/zone_clocks.py {' '.join(sys.argv[1:])}: {len(names)} canonical zones\n")
        print("| Zones | New session | Warm session | Per zone, new session (beyond the 0-zone row) |")
        print("|---:|---:|---:|---:|")
        base = 0.0
        for size in SIZES:
            zones = names[:size]
            fresh = []
            for _ in range(args.repeat):
                with psycopg.connect(cluster.url(), autocommit=True) as new:
                    new.execute("select 1")
                    fresh.append(timed(new, zones))
            timed(conn, zones)
            warm = [timed(conn, zones) for _ in range(args.repeat)]
            first, again = statistics.median(fresh), statistics.median(warm)
            if size == 0:
                base = first
                print(f"| 0 | {first:.2f} ms | {again:.2f} ms | |")
            else:
                print(f"| {size} | {first:.2f} ms | {again:.2f} ms | {(first - base) / size:.3f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
