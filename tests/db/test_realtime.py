"""The realtime publication: the week's tables and export_history, each protected by RLS."""

from __future__ import annotations

from typing import Any

import psycopg

from worker.db.migrate import MIGRATIONS_DIR

MIGRATION = MIGRATIONS_DIR / "20261201100000_realtime_publication.sql"
PUBLISHED = {
    "analysis_generations",
    "health_insights",
    "health_predictions",
    "shadow_patterns",
    "strategic_moves",
    "export_history",
}


def _published(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute(
        "select tablename from pg_publication_tables where pubname = 'supabase_realtime' and schemaname = 'public'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def test_migrations_publish_the_weeks_tables_and_exports(conn: psycopg.Connection[Any]) -> None:
    assert _published(conn) == PUBLISHED


def test_every_published_table_is_protected_by_row_level_security(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relname = any(%s)",
        (sorted(PUBLISHED),),
    ).fetchall()
    assert {str(name): bool(rls) for name, rls in rows} == dict.fromkeys(PUBLISHED, True)


def test_the_migration_runs_again_without_change(conn: psycopg.Connection[Any]) -> None:
    conn.execute(MIGRATION.read_text())
    assert _published(conn) == PUBLISHED


def test_a_table_added_by_hand_is_kept_and_the_rest_added(conn: psycopg.Connection[Any]) -> None:
    conn.execute("drop publication supabase_realtime")
    conn.execute("create publication supabase_realtime for table public.export_history, public.jobs")
    conn.execute(MIGRATION.read_text())
    assert _published(conn) == PUBLISHED | {"jobs"}


def test_a_publication_for_all_tables_is_left_alone(conn: psycopg.Connection[Any]) -> None:
    conn.execute("drop publication supabase_realtime")
    conn.execute("create publication supabase_realtime for all tables")
    conn.execute(MIGRATION.read_text())
    row = conn.execute(
        "select puballtables from pg_publication where pubname = 'supabase_realtime'"
    ).fetchone()
    assert row == (True,)
    assert _published(conn) >= PUBLISHED


def test_a_missing_publication_is_created(conn: psycopg.Connection[Any]) -> None:
    conn.execute("drop publication supabase_realtime")
    conn.execute(MIGRATION.read_text())
    assert _published(conn) == PUBLISHED
