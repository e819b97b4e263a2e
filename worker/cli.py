"""The command line: ``python -m worker <command>`` (also installed as ``proxima-worker``).

Every failure a person can act on is printed as one line, ``error: ...``, with exit
code 1; a malformed command line exits with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from worker.config import DatabaseTarget, database_url_from_env, parse_database_url
from worker.db import devdb
from worker.db.migrate import MigrationReport, discover, migrate
from worker.errors import ProximaError


def _target(args: argparse.Namespace) -> DatabaseTarget:
    """``--database-url``, else ``DATABASE_URL``, else the local development cluster."""
    if getattr(args, "database_url", None):
        return parse_database_url(args.database_url, source="--database-url")
    from_env = database_url_from_env()
    if from_env is not None:
        return from_env
    cluster = devdb.LocalCluster.development()
    if not cluster.running():
        print("starting the local development database ...", file=sys.stderr)
        cluster.start()
    return DatabaseTarget(cluster.url())


def _print_report(report: MigrationReport, where: str) -> None:
    if report.bootstrapped:
        print(f"{where}: applied the local Supabase bootstrap (auth and storage schemas were missing)")
    for migration in report.applied:
        print(f"{where}: applied {migration.filename}")
    if not report.applied:
        print(f"{where}: nothing to apply, all {report.already_applied} migrations are applied")
    else:
        print(f"{where}: {len(report.applied)} applied, {report.already_applied} already applied")


def cmd_migrate(args: argparse.Namespace) -> int:
    migrations = discover(Path(args.migrations_dir)) if args.migrations_dir else None
    target = _target(args)
    report = migrate(target, migrations)
    _print_report(report, target.description)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    cluster = devdb.LocalCluster.development()
    if args.action == "start":
        if cluster.running():
            print(f"already running on 127.0.0.1:{cluster.port} ({cluster.root})")
            return 0
        cluster.start()
        cron = "with pg_cron" if cluster.pg_cron else "without pg_cron"
        print(
            f"started PostgreSQL {cluster.binaries.major} {cron} on 127.0.0.1:{cluster.port} ({cluster.root})"
        )
        print(f"export DATABASE_URL='{cluster.url()}'")
    elif args.action == "stop":
        if not cluster.running():
            print("not running")
            return 0
        cluster.stop()
        print("stopped")
    elif args.action == "url":
        if not cluster.running():
            raise ProximaError("the local database is not running: python -m worker db start")
        print(cluster.url())
    elif args.action == "status":
        print(f"running on 127.0.0.1:{cluster.port}" if cluster.running() else "not running")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Until the weekly pipeline exists: a database with every migration, then stop."""
    with devdb.temporary_server() as server:
        target = DatabaseTarget(server.url())
        print(f"started a private PostgreSQL server ({'with' if server.pg_cron else 'without'} pg_cron)")
        report = migrate(target)
        _print_report(report, "demo database")
        print("the schema is in place; the weekly analysis arrives with the pipeline")
    print("stopped the demo database and removed its files")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    p_migrate = sub.add_parser("migrate", help="apply pending migrations")
    p_migrate.add_argument(
        "--database-url", help="PostgreSQL URL (default: DATABASE_URL, else the local database)"
    )
    p_migrate.add_argument("--migrations-dir", help="folder of migrations (default: supabase/migrations)")
    p_migrate.set_defaults(func=cmd_migrate)

    p_db = sub.add_parser("db", help="the local development database")
    p_db.add_argument("action", choices=["start", "stop", "url", "status"])
    p_db.set_defaults(func=cmd_db)

    p_demo = sub.add_parser("demo", help="run the main job end to end on the embedded default")
    p_demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ProximaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code
