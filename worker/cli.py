"""The command line: ``python -m worker <command>`` (also installed as ``proxima-worker``).

Every failure a person can act on is printed as one line, ``error: ...``, with exit
code 1; a malformed command line or a missing or malformed setting (an environment
variable, named in the line) exits with code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import re
import signal
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg

from worker.config import (
    MAX_JOB_SLOTS,
    DatabaseTarget,
    ai_settings_from_env,
    database_url_from_env,
    default_job_slots,
    parse_database_url,
    require_production_settings,
    service_settings_from_env,
    storage_settings_from_env,
)
from worker.db import devdb
from worker.db.connect import connect
from worker.db.migrate import MigrationReport, discover, migrate
from worker.errors import ConfigError, ProximaError
from worker.ops.steps import step

DEFAULT_EVAL_SET = Path(__file__).resolve().parents[1] / "tests" / "safety" / "eval_set.jsonl"


def _target(args: argparse.Namespace) -> DatabaseTarget:
    """``--database-url``, else ``DATABASE_URL``, else the local development cluster."""
    if getattr(args, "database_url", None):
        return parse_database_url(args.database_url, source="--database-url")
    from_env = database_url_from_env()
    if from_env is not None:
        return from_env
    if service_settings_from_env().production:
        raise ConfigError("DATABASE_URL is required when PROXIMA_ENV=production")
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


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a UUID") from None


def _uuid_list(text: str) -> list[uuid.UUID]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError("name at least one story id")
    return [_uuid(item) for item in items]


def cmd_export(args: argparse.Namespace) -> int:
    """Request a PDF export as the person, run it, and save the file."""
    from worker.exporting import request_export, run_export, save_to  # noqa: PLC0415
    from worker.log import configure  # noqa: PLC0415

    configure("WARNING")
    ai, storage = ai_settings_from_env(), storage_settings_from_env()
    target = _target(args)
    with connect(target):
        pass
    with step("requesting the export"):
        export_id = request_export(
            target.conninfo,
            args.user,
            args.stories,
            include_analysis=not args.no_analysis,
            include_notes=not args.no_notes,
        )
    with step("rendering and storing the PDF"):
        result = run_export(target.conninfo, export_id, ai, storage)
    with step("saving the file"):
        saved = save_to(result, Path(args.out))
    print(f"export {result.export_id}: {result.size:,} bytes stored at {result.storage_path}")
    print(f"saved to {saved}")
    if not result.url.startswith("file:"):
        print("a download link valid for one hour was created (not printed: it grants access)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job end to end on the embedded default (see worker/demo/run.py)."""
    from worker.demo.run import run_demo  # noqa: PLC0415 - the demo pulls in the whole worker
    from worker.log import configure  # noqa: PLC0415

    configure("WARNING")
    return run_demo(ai_settings_from_env(), storage_settings_from_env(), serve=args.serve)


def cmd_safety_eval(args: argparse.Namespace) -> int:
    """The medical-claim guard against its evaluation set: the figures and every miss."""
    from worker.safety.evaluation import evaluate, load_cases, report  # noqa: PLC0415

    try:
        cases = load_cases(args.set)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = evaluate(cases)
    print(report(result, show_misses=not args.no_misses))
    return 0 if result.passes else 1


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _job_slots(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_JOB_SLOTS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_JOB_SLOTS}, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value):  # inf, nan, and 1e400 (read as inf)
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = _seconds(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


# Bounds of `run`'s timing flags. A lease is written as `now() + seconds` (a lease of
# years overflows the timestamp; one of days keeps a dead worker's jobs that long); the
# grace period is bounded by the platform's own drain time in practice.
MAX_LEASE_SECONDS = 86400.0
MAX_GRACE_SECONDS = 86400.0
MAX_POLL_SECONDS = 600.0


def _lease(text: str) -> float:
    value = _seconds(text)
    if not 1 <= value <= MAX_LEASE_SECONDS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_LEASE_SECONDS:g} seconds, got {text}")
    return value


def _grace(text: str) -> float:
    value = _seconds(text)
    if not 0 <= value <= MAX_GRACE_SECONDS:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_GRACE_SECONDS:g} seconds, got {text}")
    return value


def _poll(text: str) -> float:
    value = _positive_float(text)
    if value > MAX_POLL_SECONDS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_POLL_SECONDS:g} seconds, got {text}")
    return value


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    for kind in kinds:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", kind):
            raise argparse.ArgumentTypeError(f"{kind!r} is not a job kind (lower_snake_case)")
    if not kinds:
        raise argparse.ArgumentTypeError("name at least one kind")
    return kinds


def _monday(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None
    if day.isoweekday() != 1:
        raise argparse.ArgumentTypeError(f"{text} is a {day:%A}; a week starts on a Monday")
    return day


def cmd_run(args: argparse.Namespace) -> int:
    from worker.handlers import default_registry, load_plugin  # noqa: PLC0415 - only the worker needs them
    from worker.log import configure  # noqa: PLC0415
    from worker.runtime.health import HealthServer  # noqa: PLC0415
    from worker.runtime.loop import event_loop_from_env, loop_factory, run  # noqa: PLC0415
    from worker.runtime.schedule import run_schedule  # noqa: PLC0415
    from worker.runtime.worker import Worker, WorkerSettings  # noqa: PLC0415
    from worker.share.mail import mail_settings_from_env  # noqa: PLC0415

    # Every setting is read and checked before anything starts: a missing or malformed
    # one stops the process here with exit code 2 and one line naming it.
    service = service_settings_from_env()
    event_loop = event_loop_from_env()
    loop_factory(event_loop)  # uvloop asked for but not installed: said here, before anything starts
    require_production_settings()
    ai = ai_settings_from_env()
    storage = storage_settings_from_env()
    mail = mail_settings_from_env()
    configure(args.log_level or service.log_level)
    registry = default_registry(ai, storage, mail)
    concurrency = args.concurrency
    if concurrency is None:
        concurrency = default_job_slots(ai)
    for plugin in args.plugin or []:
        try:
            load_plugin(registry, plugin)
        except ValueError as exc:
            raise ProximaError(str(exc)) from None
    unknown = [kind for kind in args.kinds or () if kind not in registry.kinds()]
    if unknown:
        # A typo would otherwise leave the worker idle for good, claiming nothing.
        raise ConfigError(
            f"--kinds names {'a kind' if len(unknown) == 1 else 'kinds'} this worker cannot run:"
            f" {', '.join(unknown)} (known: {', '.join(sorted(registry.kinds()))})"
        )
    try:
        settings = WorkerSettings(
            concurrency=concurrency,
            kinds=args.kinds,
            lease_seconds=args.lease,
            poll_seconds=args.poll,
            shutdown_grace_seconds=args.grace,
            rescue_seconds=min(15.0, args.lease / 2),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    target = _target(args)
    with connect(target):
        pass  # fail fast, in one line, when the database cannot be reached
    health: HealthServer | None = None
    if service.port is not None:
        try:
            health = HealthServer(target.conninfo, host=service.health_host, port=service.port)
        except OSError as exc:
            raise ProximaError(
                f"cannot serve /health on {service.health_host}:{service.port}: {exc.strerror or exc}"
            ) from None

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        worker = Worker(target.conninfo, registry, settings, settle_heap=True)
        tasks = {"worker": asyncio.create_task(worker.run(stop))}
        if not args.no_schedule:
            tasks["schedule"] = asyncio.create_task(run_schedule(target.conninfo, stop))
        if health is not None:
            for name, task in tasks.items():
                health.watch(name, task)
            health.start(loop)
        try:
            await asyncio.gather(*tasks.values())
        finally:
            if health is not None:
                health.stop()

    run(main(), loop=event_loop)
    return 0


def cmd_enqueue_weekly(args: argparse.Namespace) -> int:
    from worker.runtime.schedule import enqueue_weekly  # noqa: PLC0415

    target = _target(args)
    with connect(target):
        pass
    notices: list[str] = []
    with step("enqueuing the weekly analysis"):
        added = enqueue_weekly(target.conninfo, args.week, notices)
    week = args.week.isoformat() if args.week else "each person's due week"
    print(f"enqueued {added} weekly analysis jobs for {week}")
    for notice in notices:
        print(f"note: {notice}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from worker.ops import progress  # noqa: PLC0415
    from worker.ops.schedule_health import describe_schedule, read_schedule_health  # noqa: PLC0415
    from worker.queue import manager  # noqa: PLC0415

    target = _target(args)
    if args.watch:
        with connect(target, autocommit=True) as conn:
            week = args.week.isoformat() if args.week else progress.latest_run(conn)
            if week is None:
                print("no weekly run has been enqueued yet")
                return 0
            run_week: str = week

            def read() -> progress.RunProgress:
                return progress.read_progress(conn, run_week)

            progress.watch(
                read,
                out=sys.stdout,
                terminal=sys.stdout.isatty(),
                interval=args.interval,
                timeout=args.timeout,
            )
        return 0
    with connect(target) as conn:
        depth = manager.queue_depth(conn)
        failures = manager.recent_failures(conn, limit=args.failures)
        week = args.week.isoformat() if args.week else progress.latest_run(conn)
        run = progress.read_progress(conn, week) if week else None
        schedule = read_schedule_health(conn)
    if not depth:
        print("the queue is empty")
    else:
        print(f"{'kind':<24} {'status':<10} {'jobs':>8}  oldest due")
        for row in depth:
            age = f"{row.oldest_due_seconds:,.0f} s" if row.oldest_due_seconds is not None else ""
            print(f"{row.kind:<24} {row.status:<10} {row.jobs:>8}  {age}")
    if run is not None and run.total:
        print(f"\nweekly run: {progress.summary(run)}")
    print()
    for line in describe_schedule(schedule):
        print(line)
    if failures:
        print("\nrecent failures:")
        for failure in failures:
            print(
                f"  #{failure.id} {failure.kind} after {failure.attempts}/{failure.max_attempts} attempts "
                f"at {failure.updated_at:%Y-%m-%d %H:%M:%S}: {failure.last_error}"
            )
    return 0


def _interval(text: str) -> float:
    value = _positive_float(text)
    if value > 3600:
        raise argparse.ArgumentTypeError(f"at most 3600 seconds, got {text}")
    return value


def _weeks(text: str) -> int:
    value = _positive_int(text)
    if value > 104:
        raise argparse.ArgumentTypeError(f"at most 104 weeks, not {value}")
    return value


def cmd_costs(args: argparse.Namespace) -> int:
    from worker.config import prices_from_env  # noqa: PLC0415
    from worker.ops import costs  # noqa: PLC0415

    prices = prices_from_env()
    with connect(_target(args)) as conn:
        last = args.week or costs.latest_week(conn) or costs.monday_of(dt.datetime.now(dt.UTC).date())
        weeks = costs.weekly_costs(conn, last, args.weeks)
    print(costs.render(weeks, prices))
    return 0


def cmd_retry_failed(args: argparse.Namespace) -> int:
    from worker.queue import manager  # noqa: PLC0415

    with connect(_target(args), autocommit=True) as conn, step("putting failed jobs back in the queue"):
        ids = manager.retry_failed_jobs(conn, kind=args.kind, ids=args.id)
    print(f"put {len(ids)} failed jobs back in the queue")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from worker.queue import manager  # noqa: PLC0415

    if not args.id and not args.kind:
        raise ProximaError("name the jobs to cancel: --id N (repeatable) or --kind KIND")
    with connect(_target(args), autocommit=True) as conn:
        ids = manager.cancel_jobs(conn, ids=args.id or [], kind=args.kind)
    print(f"cancelled {len(ids)} queued jobs")
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

    url_help = "PostgreSQL URL (default: DATABASE_URL, else the local database)"

    p_run = sub.add_parser("run", help="run the worker until SIGTERM/SIGINT")
    p_run.add_argument(
        "--concurrency",
        type=_job_slots,
        help=f"jobs at once, at most {MAX_JOB_SLOTS} (default 8; with DeepSeek, twice DEEPSEEK_MAX_CONCURRENCY)",
    )
    p_run.add_argument("--kinds", type=_kinds, help="comma-separated kinds to run (default: all)")
    p_run.add_argument(
        "--lease",
        type=_lease,
        default=60.0,
        help=f"lease in seconds, 1 to {MAX_LEASE_SECONDS:g} (default 60)",
    )
    p_run.add_argument(
        "--poll",
        type=_poll,
        default=1.0,
        help=f"poll interval in seconds, at most {MAX_POLL_SECONDS:g} (default 1)",
    )
    p_run.add_argument(
        "--grace",
        type=_grace,
        default=30.0,
        help=f"shutdown grace in seconds, 0 to {MAX_GRACE_SECONDS:g} (default 30)",
    )
    p_run.add_argument("--plugin", action="append", help="module whose register(registry) adds handlers")
    p_run.add_argument("--no-schedule", action="store_true", help="do not run the weekly schedule loop")
    p_run.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default: PROXIMA_LOG_LEVEL, else INFO",
    )
    p_run.add_argument("--database-url", help=url_help)
    p_run.set_defaults(func=cmd_run)

    p_weekly = sub.add_parser("enqueue-weekly", help="enqueue the weekly analysis now")
    p_weekly.add_argument("--week", type=_monday, help="the Monday of the week (default: each person's own)")
    p_weekly.add_argument("--database-url", help=url_help)
    p_weekly.set_defaults(func=cmd_enqueue_weekly)

    p_status = sub.add_parser(
        "status", help="queue depth by kind and status, whether the hourly enqueue runs, recent failures"
    )
    p_status.add_argument("--failures", type=_positive_int, default=10, help="how many failures to list")
    p_status.add_argument(
        "--watch",
        action="store_true",
        help="follow the weekly run until it finishes: done, rate, ETA, causes",
    )
    p_status.add_argument("--week", type=_monday, help="the Monday of the run (default: the latest run)")
    p_status.add_argument(
        "--interval", type=_interval, default=2.0, help="seconds between readings with --watch (default 2)"
    )
    p_status.add_argument("--timeout", type=_interval, help="stop watching after this many seconds")
    p_status.add_argument("--database-url", help=url_help)
    p_status.set_defaults(func=cmd_status)

    p_costs = sub.add_parser(
        "costs", help="what the model cost per week: people, round trips, tokens, dollars"
    )
    p_costs.add_argument("--week", type=_monday, help="the Monday of the week (default: the latest analysed)")
    p_costs.add_argument(
        "--weeks", type=_weeks, default=12, help="weeks in the chart, ending with --week (default 12)"
    )
    p_costs.add_argument("--database-url", help=url_help)
    p_costs.set_defaults(func=cmd_costs)

    p_retry = sub.add_parser("retry-failed", help="put failed jobs back in the queue")
    p_retry.add_argument("--kind", type=lambda t: _kinds(t)[0], help="only this kind")
    p_retry.add_argument("--id", type=_positive_int, action="append", help="only this job (repeatable)")
    p_retry.add_argument("--database-url", help=url_help)
    p_retry.set_defaults(func=cmd_retry_failed)

    p_cancel = sub.add_parser("cancel", help="cancel queued jobs")
    p_cancel.add_argument("--kind", type=lambda t: _kinds(t)[0], help="every queued job of this kind")
    p_cancel.add_argument("--id", type=_positive_int, action="append", help="this job (repeatable)")
    p_cancel.add_argument("--database-url", help=url_help)
    p_cancel.set_defaults(func=cmd_cancel)

    p_export = sub.add_parser("export", help="export a person's stories and analysis as a PDF")
    p_export.add_argument("--user", type=_uuid, required=True, help="the person's user id")
    p_export.add_argument("--stories", type=_uuid_list, help="comma-separated story ids (default: all)")
    p_export.add_argument("--out", required=True, help="where to save the PDF")
    p_export.add_argument("--no-analysis", action="store_true", help="leave the analysis out")
    p_export.add_argument("--no-notes", action="store_true", help="leave personal notes out")
    p_export.add_argument("--database-url", help=url_help)
    p_export.set_defaults(func=cmd_export)

    p_safety = sub.add_parser("safety-eval", help="measure the medical-claim guard on its evaluation set")
    p_safety.add_argument(
        "--set", type=Path, default=DEFAULT_EVAL_SET, help="a JSON-lines set (default: %(default)s)"
    )
    p_safety.add_argument("--no-misses", action="store_true", help="print the figures only")
    p_safety.set_defaults(func=cmd_safety_eval)

    p_demo = sub.add_parser("demo", help="run the main job end to end on the embedded default")
    p_demo.add_argument(
        "--serve",
        action="store_true",
        help="afterwards, keep the database and the share page (Edge Functions) serving until Ctrl-C",
    )
    p_demo.set_defaults(func=cmd_demo)
    return parser


_SCHEMA_OR_ROLE_ERRORS = (
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedFunction,
    psycopg.errors.InsufficientPrivilege,
)


def _schema_or_role_error(exc: psycopg.Error) -> str:
    """One line for a database the migrations never reached, or a role it refuses."""
    what = (exc.diag.message_primary or type(exc).__name__).strip()
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return (
            f"the database refused this role ({what}): connect as the role that owns the migrations"
            " or as service_role"
        )
    return (
        f"the database lacks what this command reads ({what}): apply the migrations first"
        " (python -m worker migrate, or supabase db push)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ProximaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except _SCHEMA_OR_ROLE_ERRORS as exc:
        print(f"error: {_schema_or_role_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. piped into head): not an error of ours.
        sys.stderr.close()
        return 0
    return code
