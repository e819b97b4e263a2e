"""The worker's reads of the app's tables use indexes: gathering a person's twelve weeks, and
the hourly enqueue's search for who was active.

Each plan is taken with sequential scans disabled, so a table with no usable index still
shows up as a ``Seq Scan`` (the planner has no other way in) while one with an index
shows an index scan: the assertion holds however few rows the test database has. The
enqueue runs inside a PL/pgSQL function, so its plan comes from auto_explain, sent to
the client as a notice.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg

from worker.analysis.gather import query

APP_TABLES = {
    "symptom_tracking",
    "quick_scans",
    "deep_dive_sessions",
    "conversations",
    "messages",
    "health_stories",
    "story_notes",
}


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scanned(plan: dict[str, Any]) -> dict[str, set[str]]:
    """Node types used on each app table."""
    found: dict[str, set[str]] = {}
    for node in nodes(plan):
        relation = node.get("Relation Name")
        if relation in APP_TABLES:
            found.setdefault(relation, set()).add(node["Node Type"])
    return found


def test_gathering_a_week_reads_every_app_table_through_an_index(conn: psycopg.Connection[Any]) -> None:
    """The profile's zone comes from the same statement; each branch range-scans its
    (person, time) index."""
    user_id = uuid.uuid4()
    week_of = dt.date(2026, 11, 30)
    start = week_of - dt.timedelta(days=84)
    params = {
        "user_id": user_id,
        "user_key": str(user_id),
        "week_of": week_of,
        "start_date": start,
        "end_date": week_of - dt.timedelta(days=1),
        "lo": dt.datetime.combine(start - dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC),
        "hi": dt.datetime.combine(week_of + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC),
    }
    with conn.transaction():
        conn.execute("set local enable_seqscan = off")
        [(plan,)] = conn.execute(
            b"explain (format json) " + query("gather_profile_and_activity").as_bytes(conn), params
        ).fetchall()
    found = scanned(plan[0]["Plan"])
    assert set(found) == APP_TABLES
    for table, types in found.items():
        assert "Seq Scan" not in types, f"{table}: {types}"
    index_names = {
        node.get("Index Name") for node in nodes(plan[0]["Plan"]) if node.get("Relation Name") in APP_TABLES
    }
    assert None not in index_names, index_names


def test_the_hourly_enqueue_finds_active_people_through_indexes(conn: psycopg.Connection[Any]) -> None:
    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    with conn.transaction():
        conn.execute("load 'auto_explain'")
        for setting, value in {
            "auto_explain.log_min_duration": "0",
            "auto_explain.log_nested_statements": "on",
            "auto_explain.log_format": "json",
            "auto_explain.log_level": "notice",
            "enable_seqscan": "off",
        }.items():
            conn.execute("select set_config(%s, %s, true)", (setting, value))
        conn.execute("select public.enqueue_weekly_analysis()")
    plans = []
    for notice in notices:
        if notice.startswith("duration:"):
            body = json.loads(notice.split("plan:", 1)[1])
            if "insert into public.jobs" in body["Query Text"] and "active(user_id" in body["Query Text"]:
                plans.append(body["Plan"])
    assert len(plans) == 1, notices
    found = scanned(plans[0])
    assert set(found) == APP_TABLES
    for table, types in found.items():
        assert "Seq Scan" not in types, f"{table}: {types}"
