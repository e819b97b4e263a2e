"""The real Supabase CLI against the test cluster: `db push` applies our migrations, `db lint` is clean.

The CLI is the npm package ``supabase`` at the version scripts/setup.sh pins, installed
in .tools/supabase-cli (see tests/support/supabase_cli.py). Without it these tests skip,
saying why; in CI they fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from supabase_cli import (
    SupabaseCli,
    output_of,
    require_plpgsql_check,
    require_supabase_cli,
    with_sslmode_disable,
)

from worker.db.devdb import LocalCluster
from worker.db.migrate import MIGRATIONS_DIR, apply_bootstrap, discover, migrate_connection

# What a reader of the schema would notice, without OIDs or anything else that differs
# between two databases built alike: relations, columns, functions, policies,
# constraints, indexes, triggers, privileges and extensions, in every schema but the
# system ones.
_SNAPSHOT = """
with ns as (
  select oid, nspname from pg_namespace
   where nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and nspname not like 'pg_temp%'
     and nspname not like 'pg_toast_temp%'
)
select item from (
  select format('rel %s.%s kind=%s rls=%s acl=%s', ns.nspname, c.relname, c.relkind,
                c.relrowsecurity, c.relacl) as item
    from pg_class c join ns on ns.oid = c.relnamespace
  union all
  select format('col %s.%s.%s %s notnull=%s default=%s', ns.nspname, c.relname, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
    from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join ns on ns.oid = c.relnamespace
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
   where a.attnum > 0 and not a.attisdropped
  union all
  select format('fn %s secdef=%s volatile=%s config=%s acl=%s src=%s', p.oid::regprocedure,
                p.prosecdef, p.provolatile, p.proconfig, p.proacl, md5(p.prosrc))
    from pg_proc p join ns on ns.oid = p.pronamespace
  union all
  select format('policy %s.%s %s %s %s roles=%s using=%s check=%s', schemaname, tablename,
                policyname, permissive, cmd, roles, qual, with_check)
    from pg_policies
  union all
  select format('con %s.%s %s', ns.nspname, c.conname, pg_get_constraintdef(c.oid))
    from pg_constraint c join ns on ns.oid = c.connamespace
  union all
  select format('index %s', indexdef)
    from pg_indexes where schemaname in (select nspname from ns)
  union all
  select format('trigger %s', pg_get_triggerdef(t.oid))
    from pg_trigger t join pg_class c on c.oid = t.tgrelid join ns on ns.oid = c.relnamespace
   where not t.tgisinternal
  union all
  select format('schema %s acl=%s', ns.nspname, n.nspacl)
    from ns join pg_namespace n on n.oid = ns.oid
  union all
  select format('extension %s %s', extname, extversion) from pg_extension
) items
order by item
"""


def _snapshot(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [str(row[0]) for row in conn.execute(_SNAPSHOT)]


def _ledger(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select version, name, statements from supabase_migrations.schema_migrations order by version"
        ).fetchall()


@pytest.fixture(scope="session")
def supabase_cli(tmp_path_factory: pytest.TempPathFactory) -> SupabaseCli:
    return require_supabase_cli(home=tmp_path_factory.mktemp("supabase-cli-home"))


def test_db_push_applies_every_migration_and_our_runner_then_has_nothing_to_do(
    supabase_cli: SupabaseCli, empty_db_url: str, db_url: str
) -> None:
    migrations = discover()
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        apply_bootstrap(conn)

    pushed = supabase_cli.run("db", "push", "--db-url", with_sslmode_disable(empty_db_url), "--yes")
    assert pushed.returncode == 0, output_of(pushed)

    # The ledger lists every file in supabase/migrations, as <version>_<name>.sql.
    ledger = _ledger(empty_db_url)
    files = sorted(path.name for path in Path(MIGRATIONS_DIR).glob("*.sql"))
    assert [f"{version}_{name}.sql" for version, name, _ in ledger] == files, output_of(pushed)
    assert [(m.version, m.name) for m in migrations] == [(v, n) for v, n, _ in ledger]

    # Our runner agrees that nothing is pending, and changes nothing.
    before = _snapshot(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        report = migrate_connection(conn, migrations)
    assert not report.bootstrapped
    assert report.applied == []
    assert report.already_applied == len(migrations)
    assert _ledger(empty_db_url) == ledger
    assert _snapshot(empty_db_url) == before

    # And the CLI built the schema our runner builds (the harness's template). The
    # ledger's `statements` differ by design: the CLI records each statement, we the file.
    assert before == _snapshot(db_url)


def _findings(result_stdout: str) -> list[dict[str, Any]] | None:
    """The lint results of ``--output-format json`` (``{"results": [...]}``); None if not that."""
    try:
        data = json.loads(result_stdout)
    except json.JSONDecodeError:
        return None
    results = data.get("results") if isinstance(data, dict) else None
    return results if isinstance(results, list) else None


def _describe_findings(findings: list[dict[str, Any]]) -> str:
    lines = []
    for finding in findings:
        for issue in finding.get("issues") or []:
            statement = issue.get("statement") or {}
            query = (issue.get("query") or {}).get("text")
            lines.append(
                f"{finding.get('function')}: {issue.get('level')}: {issue.get('message')} "
                f"(line {statement.get('lineNumber')}, {statement.get('text')}, sqlstate {issue.get('sqlState')})"
                + (f"\n    query: {' '.join(query.split())[:300]}" if query else "")
            )
    return "\n".join(lines)


def test_db_lint_reports_nothing_on_the_migrated_schema(
    supabase_cli: SupabaseCli, cluster: LocalCluster, db_url: str
) -> None:
    require_plpgsql_check(cluster, db_url)
    result = supabase_cli.run(
        "db",
        "lint",
        "--db-url",
        with_sslmode_disable(db_url),
        "--level",
        "warning",
        "--fail-on",
        "warning",
        "--output-format",
        "json",
    )
    findings = _findings(result.stdout)
    assert findings is not None, "no lint results on stdout\n" + output_of(result)
    assert findings == [], (
        f"supabase db lint found {len(findings)} function(s) with issues:\n"
        + _describe_findings(findings)
        + "\n\n"
        + output_of(result)
    )
    # What "no issues" looks like in 2.117.0: {"results": []} on stdout, exit code 0, and
    # "No schema errors found" on stderr.
    assert result.returncode == 0, output_of(result)
    assert "No schema errors found" in result.stderr, output_of(result)
