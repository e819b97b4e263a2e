"""Our migrations on a project where the app's own tables already exist, as it publishes them.

The fixture builds a database the way a real project is: the local Supabase bootstrap,
then the app's tables exactly as published (tests/support/published_app_tables.sql:
``text`` user ids, messages owned through conversations, story notes without a foreign
key), then every migration by the real runner. The app's tables must come out as they
went in, but for the worker's own indexes; and the demo people's week must run through
the real queue and worker and give the report their owners read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from db_support import create_database, drop_database, rows

from worker.db.devdb import LocalCluster
from worker.db.migrate import apply_bootstrap, migrate_connection
from worker.demo.seed import DEMO_PEOPLE, JONAS, MAYA, seed_demo
from worker.handlers import default_registry
from worker.report import MIN_INSIGHTS, STRATEGIC_MOVES
from worker.runtime.oneshot import run_until

PUBLISHED = Path(__file__).resolve().parents[1] / "support" / "published_app_tables.sql"
APP_TABLES = (
    "conversations",
    "messages",
    "quick_scans",
    "symptom_tracking",
    "deep_dive_sessions",
    "story_notes",
)

# Everything about a table that a migration could change, but its indexes.
SHAPE = """
select 'column', a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || case when a.attnotnull then ' not null' else '' end
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
  from pg_attribute a
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
 where a.attrelid = %(table)s::regclass and a.attnum > 0 and not a.attisdropped
union all
select 'constraint', conname || ' ' || pg_get_constraintdef(oid)
  from pg_constraint where conrelid = %(table)s::regclass
union all
select 'policy', polname || ' ' || polcmd::text || ' ' || coalesce(pg_get_expr(polqual, polrelid), '')
       || ' ' || coalesce(pg_get_expr(polwithcheck, polrelid), '') || ' ' || polroles::text
  from pg_policy where polrelid = %(table)s::regclass
union all
select 'trigger', pg_get_triggerdef(oid)
  from pg_trigger where tgrelid = %(table)s::regclass and not tgisinternal
union all
select 'table', relrowsecurity::text || ' ' || relforcerowsecurity::text || ' ' || coalesce(relacl::text, '')
  from pg_class where oid = %(table)s::regclass
order by 1, 2
"""

INDEXES = "select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename = %(name)s"


def shape(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: conn.execute(SHAPE, {"table": f"public.{table}"}).fetchall()  # type: ignore[arg-type]
        for table in APP_TABLES
    }


def indexes(conn: psycopg.Connection[Any]) -> dict[str, set[tuple[Any, ...]]]:
    return {table: set(conn.execute(INDEXES, {"name": table}).fetchall()) for table in APP_TABLES}  # type: ignore[arg-type]


@pytest.fixture
def published(cluster: LocalCluster) -> Iterator[tuple[str, dict[str, Any]]]:
    """A database with the app's published tables, then every migration; and the tables'
    shape and indexes before the migrations."""
    name = create_database(cluster, None, prefix="published")
    url = cluster.url(name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            apply_bootstrap(conn)
            conn.execute(PUBLISHED.read_text().encode())  # type: ignore[call-overload]
            before = {"shape": shape(conn), "indexes": indexes(conn)}
            migrate_connection(conn)
        yield url, before
    finally:
        drop_database(cluster, name)


def test_migrations_change_nothing_of_the_apps_tables_but_add_the_workers_indexes(
    published: tuple[str, dict[str, Any]],
) -> None:
    url, before = published
    with psycopg.connect(url) as conn:
        assert shape(conn) == before["shape"]
        after = indexes(conn)
    for table in APP_TABLES:
        assert before["indexes"][table] <= after[table], f"{table} lost an index"
        added = {name for name, _ in after[table] - before["indexes"][table]}
        assert added, f"{table}: the worker's indexes are missing"
        assert all(name.startswith("proxima_") for name in added), added


def test_the_demo_week_runs_through_the_worker_on_the_apps_tables(
    published: tuple[str, dict[str, Any]],
) -> None:
    url, _ = published
    now = dt.datetime.now(dt.UTC)
    seed_demo(url, now=now)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select public.enqueue_weekly_analysis()").fetchone() == (len(DEMO_PEOPLE),)

    def finished() -> bool:
        return bool(rows(url, "select count(*) = 0 from jobs where status in ('queued', 'running')")[0][0])

    assert run_until(url, default_registry(), finished, timeout=120)
    assert rows(url, "select status, count(*) from jobs group by status") == [("succeeded", len(DEMO_PEOPLE))]

    reports = {}
    for person in (MAYA, JONAS):
        claims = json.dumps({"sub": str(person.id), "role": "authenticated"})
        with psycopg.connect(url) as conn:
            conn.execute("select set_config('role', 'authenticated', true)")
            conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
            row = conn.execute("select public.get_health_analysis()").fetchone()
            assert row is not None
            reports[person.name] = row[0]
            scans = conn.execute("select count(*) from public.quick_scans").fetchone()
            assert scans == (len(person.scans) - sum(s.deep_dive for s in person.scans),), "own scans only"
    maya = reports[MAYA.name]
    assert len(maya["insights"]) >= MIN_INSIGHTS
    assert len(maya["strategic_moves"]) == STRATEGIC_MOVES
    assert "Knee pain" in {p["pattern_name"] for p in maya["shadow_patterns"]}
    assert maya["period"]["time_zone"] == MAYA.timezone
    jonas = reports[JONAS.name]
    assert any("Tension headache" in i["title"] for i in jonas["insights"])
    # Jonas's oracle messages were counted through his conversations.
    [(chats,)] = rows(
        url,
        "select (data_sources ->> 'oracle_chats')::int from health_stories"
        " where user_id = %s and data_sources ->> 'generated_by' = 'weekly_analysis'",
        (MAYA.id,),
    )
    assert chats == sum(1 for c in MAYA.chats if c.days_back <= 6)
