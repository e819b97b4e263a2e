"""The product guide's CHECK constraints: out-of-range values are rejected, the edges accepted.

Each case inserts one otherwise valid row (as the superuser, as the worker's writes
would land) with a single column set to the value under test. The database is built
once per module; each test runs in a transaction rolled back afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from db_support import create_database, drop_database
from psycopg import sql

from worker.db.devdb import LocalCluster

MONDAY = "2026-11-23"
SUNDAY = "2026-11-29"
USER_ID = uuid.UUID("0b7e4a0c-8f34-4a4c-a1d6-2f0d6c1a9e01")
STORY_ID = uuid.UUID("0b7e4a0c-8f34-4a4c-a1d6-2f0d6c1a9e02")

Row = dict[str, object]

VALID_ROWS: dict[str, Row] = {
    "profiles": {"user_id": USER_ID, "name": "Ada", "timezone": "UTC"},
    # The app keys symptoms by the user id's text.
    "symptom_tracking": {
        "user_id": str(USER_ID),
        "symptom_name": "headache",
        "body_part": "head",
        "severity": 5,
    },
    "analysis_generations": {"user_id": USER_ID, "week_of": MONDAY},
    "analysis_refreshes": {"user_id": USER_ID, "week_of": MONDAY},
    "health_insights": {
        "user_id": USER_ID,
        "story_id": STORY_ID,
        "insight_type": "positive",
        "title": "Better sleep",
        "description": "Seven hours on most nights.",
        "confidence": 70,
        "week_of": MONDAY,
    },
    "health_predictions": {
        "user_id": USER_ID,
        "story_id": STORY_ID,
        "event_description": "A tension headache",
        "probability": 30,
        "timeframe": "this week",
        "status": "active",
        "week_of": MONDAY,
    },
    "shadow_patterns": {
        "user_id": USER_ID,
        "pattern_name": "Evening runs",
        "last_seen_description": "Three runs a week until October.",
        "significance": "medium",
        "week_of": MONDAY,
    },
    "strategic_moves": {
        "user_id": USER_ID,
        "strategy": "Walk after lunch",
        "strategy_type": "prevention",
        "priority": 5,
        "completion_status": "pending",
        "week_of": MONDAY,
    },
    "export_history": {"user_id": USER_ID, "export_type": "pdf"},
}


def case(table: str, column: str, value: object, constraint: str | None = None) -> Any:
    """One (table, column, value[, violated constraint]) case, with a readable id."""
    values = (table, column, value) if constraint is None else (table, column, value, constraint)
    return pytest.param(*values, id=f"{table}.{column}={value}")


REJECTED = [
    case("health_insights", "insight_type", "bogus", "health_insights_insight_type_check"),
    case("health_insights", "confidence", -1, "health_insights_confidence_check"),
    case("health_insights", "confidence", 101, "health_insights_confidence_check"),
    case("health_predictions", "probability", -1, "health_predictions_probability_check"),
    case("health_predictions", "probability", 101, "health_predictions_probability_check"),
    case("health_predictions", "status", "bogus", "health_predictions_status_check"),
    case("shadow_patterns", "significance", "bogus", "shadow_patterns_significance_check"),
    case("strategic_moves", "strategy_type", "bogus", "strategic_moves_strategy_type_check"),
    case("strategic_moves", "priority", 0, "strategic_moves_priority_check"),
    case("strategic_moves", "priority", 11, "strategic_moves_priority_check"),
    case("strategic_moves", "completion_status", "bogus", "strategic_moves_completion_status_check"),
    case("export_history", "export_type", "bogus", "export_history_export_type_check"),
    case("symptom_tracking", "severity", 0, "symptom_tracking_severity_check"),
    case("symptom_tracking", "severity", 11, "symptom_tracking_severity_check"),
    case("analysis_generations", "week_of", SUNDAY, "analysis_generations_week_of_is_monday"),
    case("health_insights", "week_of", SUNDAY, "health_insights_week_of_is_monday"),
    case("health_predictions", "week_of", SUNDAY, "health_predictions_week_of_is_monday"),
    case("shadow_patterns", "week_of", SUNDAY, "shadow_patterns_week_of_is_monday"),
    case("strategic_moves", "week_of", SUNDAY, "strategic_moves_week_of_is_monday"),
    case("analysis_refreshes", "week_of", SUNDAY, "analysis_refreshes_week_of_is_monday"),
    case("analysis_generations", "prompt_tokens", -1, "analysis_generations_prompt_tokens_check"),
    case("analysis_generations", "completion_tokens", -1, "analysis_generations_completion_tokens_check"),
    case("analysis_generations", "cache_hit_tokens", -1, "analysis_generations_cache_hit_tokens_check"),
]

# Refused before the CHECK by the profile's normalising trigger (SQLSTATE 22023).
# PostgreSQL would accept the last three as zones, but they are not IANA names, and the
# POSIX form is read with its sign inverted ('UTC+10' is ten hours behind UTC).
REFUSED_ZONES = ["Mars/Olympus", "UTC+10", "PST", "posix/Europe/Berlin"]

ACCEPTED = [
    case("health_insights", "confidence", 0),
    case("health_insights", "confidence", 100),
    case("health_predictions", "probability", 0),
    case("health_predictions", "probability", 100),
    case("strategic_moves", "priority", 1),
    case("strategic_moves", "priority", 10),
    case("strategic_moves", "strategy_type", "optimization"),
    case("symptom_tracking", "severity", 1),
    case("symptom_tracking", "severity", 10),
    case("profiles", "timezone", "Europe/Berlin"),
    case("profiles", "timezone", "Pacific/Honolulu"),
    case("profiles", "timezone", "UTC"),
    case("profiles", "timezone", "America/Argentina/Buenos_Aires"),
    case("profiles", "timezone", "America/Port-au-Prince"),
    case("analysis_generations", "prompt_tokens", 0),
]


@pytest.fixture(scope="module")
def migrated_db_url(cluster: LocalCluster, template_db: str) -> Iterator[str]:
    name = create_database(cluster, template_db, prefix="constraints")
    try:
        with psycopg.connect(cluster.url(name), autocommit=True) as conn:
            conn.execute("insert into auth.users (id, email) values (%s, 'ada@example.com')", (USER_ID,))
        yield cluster.url(name)
    finally:
        drop_database(cluster, name)


@pytest.fixture
def db(migrated_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection inside a transaction that is rolled back afterwards."""
    with (
        psycopg.connect(migrated_db_url, autocommit=True) as conn,
        conn.transaction(force_rollback=True),
    ):
        yield conn


def insert_with(conn: psycopg.Connection[Any], table: str, column: str, value: object) -> Any:
    """Insert the table's valid row with ``column`` set to ``value``; return the stored value."""
    row = {**VALID_ROWS[table], column: value}
    query = sql.SQL("insert into {} ({}) values ({}) returning {}").format(
        sql.Identifier("public", table),
        sql.SQL(", ").join(sql.Identifier(name) for name in row),
        sql.SQL(", ").join(sql.Placeholder(name) for name in row),
        sql.Identifier(column),
    )
    with conn.transaction():
        stored = conn.execute(query, row).fetchone()
    assert stored is not None
    return stored[0]


@pytest.mark.parametrize("table", sorted(VALID_ROWS))
def test_the_valid_row_of_each_table_is_accepted(db: psycopg.Connection[Any], table: str) -> None:
    # The baseline the other cases vary: without it, a rejection could have any cause.
    assert str(insert_with(db, table, "user_id", USER_ID)) == str(USER_ID)


@pytest.mark.parametrize(("table", "column", "value", "constraint"), REJECTED)
def test_a_value_outside_the_allowed_range_is_rejected_by_its_check(
    db: psycopg.Connection[Any], table: str, column: str, value: object, constraint: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation) as raised:
        insert_with(db, table, column, value)
    assert raised.value.diag.constraint_name == constraint


@pytest.mark.parametrize(("table", "column", "value"), ACCEPTED)
def test_a_value_at_the_edge_of_the_allowed_range_is_accepted(
    db: psycopg.Connection[Any], table: str, column: str, value: object
) -> None:
    assert insert_with(db, table, column, value) == value


@pytest.mark.parametrize("zone", REFUSED_ZONES)
def test_a_zone_that_is_no_canonical_iana_name_is_refused(db: psycopg.Connection[Any], zone: str) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown time zone"):
        insert_with(db, "profiles", "timezone", zone)


def test_the_zone_check_still_guards_a_write_that_bypasses_the_trigger(db: psycopg.Connection[Any]) -> None:
    db.execute("alter table public.profiles disable trigger user")
    with pytest.raises(psycopg.errors.CheckViolation) as raised:
        insert_with(db, "profiles", "timezone", "Mars/Olympus")
    assert raised.value.diag.constraint_name == "profiles_timezone_is_iana"
