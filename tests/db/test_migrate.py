"""The migration runner: applies in order, records in the Supabase CLI ledger, rolls back failures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from worker.config import DatabaseTarget
from worker.db.devdb import free_port
from worker.db.migrate import MIGRATIONS_DIR, discover, migrate
from worker.errors import MigrationError

PROJECT = Path(__file__).resolve().parents[2]

# Everything a migration can change that a reader of the schema would notice.
_SCHEMA_FINGERPRINT = """
select md5(string_agg(item, ',' order by item)) from (
  select format('%s.%s:%s', n.nspname, c.relname, c.relkind) as item
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname in ('public', 'auth', 'storage', 'supabase_migrations')
  union all
  select format('policy %s.%s %s', schemaname, tablename, policyname) from pg_policies
  union all
  select format('fn %s', p.oid::regprocedure) from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace where n.nspname in ('public', 'auth', 'storage')
  union all
  select format('con %s', conname) from pg_constraint c
    join pg_namespace n on n.oid = c.connamespace where n.nspname = 'public'
  union all
  select format('ledger %s', version) from supabase_migrations.schema_migrations
) items
"""


def _fingerprint(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(_SCHEMA_FINGERPRINT).fetchone()
    assert row is not None
    return str(row[0])


def _ledger(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select version, name, array_length(statements, 1) from supabase_migrations.schema_migrations "
            "order by version"
        ).fetchall()


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        cwd=PROJECT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrations_apply_to_an_empty_database_and_are_recorded_in_the_ledger(empty_db_url: str) -> None:
    report = migrate(DatabaseTarget(empty_db_url))
    files = discover()
    assert report.bootstrapped
    assert [m.version for m in report.applied] == [m.version for m in files]
    assert _ledger(empty_db_url) == [(m.version, m.name, 1) for m in files]


def test_a_second_run_applies_nothing_and_changes_nothing(empty_db_url: str) -> None:
    migrate(DatabaseTarget(empty_db_url))
    before = _fingerprint(empty_db_url)
    report = migrate(DatabaseTarget(empty_db_url))
    assert report.applied == []
    assert not report.bootstrapped
    assert report.already_applied == len(discover())
    assert _fingerprint(empty_db_url) == before


def test_the_cli_says_nothing_is_pending_on_a_second_run(empty_db_url: str) -> None:
    first = _run_cli("migrate", "--database-url", empty_db_url)
    assert first.returncode == 0, first.stderr
    assert "applied 20261128090000_upstream_app_tables.sql" in first.stdout
    before = _fingerprint(empty_db_url)
    second = _run_cli("migrate", env={"DATABASE_URL": empty_db_url})
    assert second.returncode == 0, second.stderr
    assert "nothing to apply" in second.stdout
    assert "applied 2026" not in second.stdout
    assert _fingerprint(empty_db_url) == before


def test_migration_files_are_named_by_timestamp_and_in_order() -> None:
    files = discover()
    assert files, "no migrations found"
    assert [m.version for m in files] == sorted(m.version for m in files)
    for migration in files:
        text = migration.read()
        assert text == text.lower() or "'" in text, f"{migration.filename} should be lower-case SQL"


def _copy_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    return folder


def test_a_failing_migration_is_rolled_back_and_left_out_of_the_ledger(
    empty_db_url: str, tmp_path: Path
) -> None:
    folder = _copy_migrations(tmp_path)
    (folder / "29990101000000_broken.sql").write_text(
        "create table public.half_done (id int);\ninsert into public.half_done values (1);\nselect 1 / 0;\n"
    )
    (folder / "29990102000000_after_broken.sql").write_text("create table public.never_reached (id int);\n")
    with pytest.raises(MigrationError) as caught:
        migrate(DatabaseTarget(empty_db_url), discover(folder))
    message = str(caught.value)
    assert "29990101000000_broken.sql" in message
    assert "division by zero" in message
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("select to_regclass('public.half_done')").fetchone() == (None,)
        assert conn.execute("select to_regclass('public.never_reached')").fetchone() == (None,)
    versions = [row[0] for row in _ledger(empty_db_url)]
    assert versions == [m.version for m in discover()]


def test_a_failing_migration_leaves_an_up_to_date_database_exactly_as_it_was(
    empty_db_url: str, tmp_path: Path
) -> None:
    migrate(DatabaseTarget(empty_db_url))
    before = _fingerprint(empty_db_url)
    folder = _copy_migrations(tmp_path)
    (folder / "29990101000000_broken.sql").write_text(
        "alter table public.health_insights add column oops text;\ncreate table public.x (id no_such_type);\n"
    )
    result = _run_cli("migrate", "--database-url", empty_db_url, "--migrations-dir", str(folder))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: migration 29990101000000_broken.sql failed and was rolled back")
    assert 'type "no_such_type" does not exist' in lines[0]
    assert _fingerprint(empty_db_url) == before


def test_a_syntax_error_is_reported_with_its_line(empty_db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "29990101000000_typo.sql").write_text("create table public.a (id int);\n\nselec 1;\n")
    with pytest.raises(MigrationError, match=r'syntax error at or near "selec" at line 3'):
        migrate(DatabaseTarget(empty_db_url), discover(folder))


def test_a_misnamed_migration_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    folder = _copy_migrations(tmp_path)
    (folder / "add_things.sql").write_text("select 1;\n")
    with pytest.raises(MigrationError, match=r"add_things\.sql"):
        discover(folder)


def test_two_versions_in_one_folder_must_differ(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "20260101000000_a.sql").write_text("select 1;\n")
    (folder / "20260101000000_b.sql").write_text("select 1;\n")
    with pytest.raises(MigrationError, match="share version 20260101000000"):
        discover(folder)


def test_concurrent_runs_apply_each_migration_once(empty_db_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(DatabaseTarget(empty_db_url))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert [row[0] for row in _ledger(empty_db_url)] == [m.version for m in discover()]


def test_a_malformed_database_url_is_one_clear_line_and_touches_nothing() -> None:
    result = _run_cli("migrate", env={"DATABASE_URL": "postgresql://me:topsecret@[::1/db"})
    assert result.returncode == 2, "a malformed setting exits with code 2"
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: DATABASE_URL is malformed")
    assert "topsecret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_database_is_one_clear_line() -> None:
    url = f"postgresql://me:topsecret@127.0.0.1:{free_port()}/postgres"
    result = _run_cli("migrate", env={"DATABASE_URL": url})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: cannot connect to the database at 127.0.0.1:")
    assert "refused" in result.stderr.lower()
    assert "topsecret" not in result.stderr


def test_a_wrong_password_is_one_clear_line(empty_db_url: str) -> None:
    params = psycopg.conninfo.conninfo_to_dict(empty_db_url)
    url = f"postgresql://postgres:wrong-password@127.0.0.1:{params['port']}/{params['dbname']}"
    result = _run_cli("migrate", env={"DATABASE_URL": url})
    assert result.returncode == 1
    assert "password authentication failed" in result.stderr
    assert "wrong-password" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_seed_sql_applies_after_the_migrations(db_url: str) -> None:
    seed = (PROJECT / "supabase" / "seed.sql").read_text()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(seed.encode())  # type: ignore[call-overload]
        conn.execute(seed.encode())  # type: ignore[call-overload]
        row = conn.execute("select count(*), min(timezone) from public.profiles").fetchone()
    assert row == (1, "Europe/Berlin")
