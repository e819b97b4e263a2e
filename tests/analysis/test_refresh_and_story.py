"""Refreshes and stories on demand, through the real pipeline and worker.

A refresh during week W covers the seven local days ending as it runs and replaces week
W's report; every report records its period, and get_health_analysis returns it. A
scheduled report never replaces a refresh of the same week. A story on demand writes one
new story under the keys the app reads, and leaves the week's report alone.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
import pytest
from db_support import rows
from pipeline_support import due_week, run_person_week

from worker.db.migrate import discover, migrate_connection
from worker.demo.seed import JONAS, MAYA, seed_demo
from worker.handlers import default_registry
from worker.runtime.oneshot import run_until

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def demo_db(db_url: str) -> str:
    seed_demo(db_url, now=NOW)
    return db_url


def as_person(url: str, person: UUID, query: str, params: Any = None) -> Any:
    claims = json.dumps({"sub": str(person), "role": "authenticated"})
    with psycopg.connect(url) as conn:
        conn.execute("select set_config('role', 'authenticated', true)")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        row = conn.execute(query.encode(), params).fetchone()  # type: ignore[call-overload]
        conn.commit()
    assert row is not None
    return row[0]


def test_a_scheduled_report_records_the_whole_previous_week_as_its_period(demo_db: str) -> None:
    week = due_week(MAYA.timezone, NOW)
    run_person_week(demo_db, MAYA.id, week, now=NOW)
    analysis = as_person(demo_db, MAYA.id, "select public.get_health_analysis(%s)", (week,))
    zone = ZoneInfo(MAYA.timezone)
    assert analysis["period"] == {
        "start": (week - dt.timedelta(days=7)).isoformat(),
        "end": (week - dt.timedelta(days=1)).isoformat(),
        "starts_at": analysis["period"]["starts_at"],
        "ends_at": analysis["period"]["ends_at"],
        "time_zone": MAYA.timezone,
    }
    assert dt.datetime.fromisoformat(analysis["period"]["ends_at"]) == dt.datetime.combine(
        week, dt.time(0), tzinfo=zone
    )
    assert analysis["trigger"] == "weekly"


def test_a_refresh_covers_the_seven_days_ending_now_and_replaces_the_weeks_report(demo_db: str) -> None:
    zone = ZoneInfo(JONAS.timezone)
    local_now = NOW.astimezone(zone)
    week = local_now.date() - dt.timedelta(days=local_now.weekday())
    run_person_week(demo_db, JONAS.id, week, trigger="refresh", force=True, now=NOW)
    analysis = as_person(demo_db, JONAS.id, "select public.get_health_analysis(%s)", (week,))
    period = analysis["period"]
    assert analysis["trigger"] == "refresh"
    assert period["end"] == local_now.date().isoformat()
    assert period["start"] == (local_now.date() - dt.timedelta(days=6)).isoformat()
    assert dt.datetime.fromisoformat(period["ends_at"]) == NOW
    [(count,)] = rows(
        demo_db, "select count(distinct generation_id) from strategic_moves where user_id = %s", (JONAS.id,)
    )
    assert count == 1, "the week's rows come from one generation"


def test_a_scheduled_report_never_replaces_a_refresh_of_the_same_week(demo_db: str) -> None:
    week = due_week(MAYA.timezone, NOW)
    # A refresh "during" week W: pretend it ran at W 03:00 local, before the schedule's 06:00.
    early = dt.datetime.combine(week, dt.time(3), tzinfo=ZoneInfo(MAYA.timezone))
    run_person_week(demo_db, MAYA.id, week, trigger="refresh", force=True, now=early)
    outcome, job = run_person_week(demo_db, MAYA.id, week, trigger="weekly", now=NOW)
    assert outcome.status == "superseded"
    assert job["status"] == "succeeded"
    assert rows(
        demo_db,
        "select trigger from analysis_generations where user_id = %s and status = 'succeeded'",
        (MAYA.id,),
    ) == [("refresh",)]


def test_a_story_on_demand_writes_one_story_and_leaves_the_report_alone(demo_db: str) -> None:
    week = due_week(MAYA.timezone, NOW)
    run_person_week(demo_db, MAYA.id, week, now=NOW)
    before = rows(demo_db, "select id from health_insights where user_id = %s order by id", (MAYA.id,))
    stories_before = rows(demo_db, "select count(*) from health_stories where user_id = %s", (MAYA.id,))[0][0]
    result = as_person(demo_db, MAYA.id, "select public.request_story_refresh()")

    def finished() -> bool:
        return bool(
            rows(demo_db, "select count(*) = 0 from jobs where status in ('queued', 'running')")[0][0]
        )

    assert run_until(demo_db, default_registry(), finished, timeout=60)
    [(status,)] = rows(demo_db, "select status from jobs where id = %s", (result["job_id"],))
    assert status == "succeeded"
    assert (
        rows(demo_db, "select id from health_insights where user_id = %s order by id", (MAYA.id,)) == before
    )
    [(data_sources, date_range)] = rows(
        demo_db,
        "select data_sources, date_range from health_stories where user_id = %s order by created_at desc limit 1",
        (MAYA.id,),
    )
    assert rows(demo_db, "select count(*) from health_stories where user_id = %s", (MAYA.id,))[0][0] == (
        stories_before + 1
    )
    assert set(data_sources) >= {"oracle_chats", "quick_scans", "deep_dives", "symptom_entries"}
    assert "oracle_conversations" not in data_sources
    today = NOW.astimezone(ZoneInfo(MAYA.timezone)).date()
    assert date_range == {"start": (today - dt.timedelta(days=6)).isoformat(), "end": today.isoformat()}
    assert rows(
        demo_db,
        "select trigger, round_trips from analysis_generations where user_id = %s order by created_at",
        (MAYA.id,),
    ) == [("weekly", 0), ("story", 0)]
    analysis = as_person(demo_db, MAYA.id, "select public.get_health_analysis()")
    assert analysis["trigger"] == "weekly", "a story generation is not a report"


def test_stored_stories_with_the_old_key_are_readable_under_the_new_one(empty_db_url: str) -> None:
    migrations = discover()
    earlier = [m for m in migrations if m.filename < "20261130100000"]
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        migrate_connection(conn, earlier)
        [(user_id,)] = conn.execute(
            "insert into auth.users (id) values (gen_random_uuid()) returning id"
        ).fetchall()
        conn.execute(
            "insert into health_stories (user_id, story_text, data_sources) values (%s, 'Old.', %s), (%s, 'Theirs.', %s)",
            (
                user_id,
                json.dumps({"generated_by": "weekly_analysis", "oracle_conversations": 3}),
                user_id,
                json.dumps({"oracle_chats": 2}),
            ),
        )
        migrate_connection(conn, migrations)
        sources = [
            r[0]
            for r in conn.execute("select data_sources from health_stories order by story_text").fetchall()
        ]
    assert sources == [
        {"generated_by": "weekly_analysis", "oracle_conversations": 3, "oracle_chats": 3},
        {"oracle_chats": 2},
    ]
