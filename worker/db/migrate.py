"""Apply ``supabase/migrations`` in order, recording each in the Supabase CLI's ledger.

Guarantees:

* Each migration runs in its own transaction together with its ledger row: it is
  either applied and recorded, or (on any error) rolled back and not recorded.
* A failed migration stops the run; the migrations before it stay applied, the ones
  after it are not attempted.
* Re-running applies nothing that the ledger already lists, so it is a no-op on an
  up-to-date database, and ``supabase db push`` sees the same versions as applied.
* An advisory lock makes concurrent runs against one database take turns.
* Where Supabase's own schemas (``auth``, ``storage``) are missing, the local
  bootstrap that emulates them is applied first, in its own transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from worker.config import DatabaseTarget
from worker.db.connect import connect
from worker.db.queries import load_queries
from worker.errors import MigrationError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS_DIR = PROJECT_ROOT / "supabase" / "migrations"
BOOTSTRAP_FILE = PROJECT_ROOT / "supabase" / "local" / "bootstrap.sql"
_FILENAME = re.compile(r"^(\d{14})_([a-z0-9_]+)\.sql$")


def _q(name: str) -> sql.SQL:
    return load_queries("worker.db", "sql/migrations.sql")[name]


@dataclass(frozen=True)
class Migration:
    """One migration file: ``<YYYYMMDDHHMMSS>_<name>.sql``."""

    version: str
    name: str
    path: Path

    @property
    def filename(self) -> str:
        return self.path.name

    def read(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclass
class MigrationReport:
    """What a run did."""

    bootstrapped: bool = False
    applied: list[Migration] = field(default_factory=list)
    already_applied: int = 0


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in ``directory`` in version order; a misnamed file is an error."""
    if not directory.is_dir():
        raise MigrationError(f"no migrations folder at {directory}")
    found: dict[str, Migration] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILENAME.match(path.name)
        if not match:
            raise MigrationError(
                f"migration file {path.name!r} is not named <YYYYMMDDHHMMSS>_<lower_case_name>.sql"
            )
        version, name = match.groups()
        if version in found:
            raise MigrationError(
                f"migrations {found[version].filename} and {path.name} share version {version}"
            )
        found[version] = Migration(version, name, path)
    return [found[v] for v in sorted(found)]


def _line_of(text: str, position: int | None) -> int | None:
    if not position:
        return None
    return text.count("\n", 0, position - 1) + 1


def _describe(exc: psycopg.Error, text: str) -> str:
    diag = exc.diag
    message = diag.message_primary or str(exc).strip().splitlines()[0]
    position = int(diag.statement_position) if diag.statement_position else None
    line = _line_of(text, position)
    where = f" at line {line}" if line else ""
    return f"{message}{where}"


def _execute_script(conn: psycopg.Connection[Any], text: str) -> None:
    # A whole file goes to the server in one simple-protocol query: no parameters,
    # so psycopg sends it as written and the server runs its statements in order.
    conn.execute(text.encode("utf-8"))  # type: ignore[call-overload]


def bootstrap_needed(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(_q("supabase_present")).fetchone()
    return not (row and row[0])


def apply_bootstrap(conn: psycopg.Connection[Any], path: Path = BOOTSTRAP_FILE) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        with conn.transaction():
            _execute_script(conn, text)
    except psycopg.Error as exc:
        raise MigrationError(f"local bootstrap {path.name} failed: {_describe(exc, text)}") from None


def pending(conn: psycopg.Connection[Any], migrations: list[Migration]) -> list[Migration]:
    applied = {row[0] for row in conn.execute(_q("applied_versions"))}
    return [m for m in migrations if m.version not in applied]


def migrate_connection(
    conn: psycopg.Connection[Any],
    migrations: list[Migration] | None = None,
    *,
    bootstrap: bool = True,
) -> MigrationReport:
    """Apply what is pending over an open autocommit connection."""
    migrations = discover() if migrations is None else migrations
    report = MigrationReport()
    conn.execute(_q("lock_migrations"))
    try:
        if bootstrap and bootstrap_needed(conn):
            apply_bootstrap(conn)
            report.bootstrapped = True
        with conn.transaction():
            conn.execute(_q("create_ledger"))
        todo = pending(conn, migrations)
        report.already_applied = len(migrations) - len(todo)
        for migration in todo:
            text = migration.read()
            try:
                with conn.transaction():
                    _execute_script(conn, text)
                    conn.execute(
                        _q("record_migration"),
                        {"version": migration.version, "name": migration.name, "statements": [text]},
                    )
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {migration.filename} failed and was rolled back: {_describe(exc, text)}"
                ) from None
            report.applied.append(migration)
    finally:
        if not conn.closed and not conn.broken:
            conn.execute(_q("unlock_migrations"))
    return report


def migrate(
    target: DatabaseTarget, migrations: list[Migration] | None = None, *, bootstrap: bool = True
) -> MigrationReport:
    """Connect to ``target`` and apply what is pending."""
    with connect(target, autocommit=True) as conn:
        return migrate_connection(conn, migrations, bootstrap=bootstrap)
