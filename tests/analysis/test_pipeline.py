"""The weekly pipeline end to end on a real database with the local provider."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg
import pytest
from db_support import rows
from pipeline_support import CountingProvider, due_week, run_person_week

from worker.analysis import store
from worker.demo.seed import AIKO, DEMO_PEOPLE, JONAS, MAYA, DemoPerson, seed_demo
from worker.errors import RetryableError
from worker.handlers import default_registry
from worker.queue.context import LeaseLostError
from worker.report import MAX_INSIGHTS, MAX_PREDICTIONS, MIN_INSIGHTS, MIN_PREDICTIONS, STRATEGIC_MOVES
from worker.runtime.worker import Worker, WorkerSettings

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def demo_db(db_url: str) -> str:
    seed_demo(db_url, now=NOW)
    return db_url


def _counts(url: str, user: UUID) -> dict[str, int]:
    counts = {}
    for table in ("health_insights", "health_predictions", "shadow_patterns", "strategic_moves"):
        counts[table] = rows(url, f"select count(*) from public.{table} where user_id = %s", (user,))[0][0]
    return counts


def _drain(url: str) -> None:
    """Run the weekly jobs through the real worker until none is left."""

    def unfinished() -> int:
        return int(rows(url, "select count(*) from jobs where status in ('queued', 'running')")[0][0])

    async def main() -> None:
        stop = asyncio.Event()
        worker = Worker(url, default_registry(), WorkerSettings(concurrency=3, poll_seconds=0.1))
        task = asyncio.create_task(worker.run(stop))
        for _ in range(600):
            await asyncio.sleep(0.05)
            if await asyncio.to_thread(unfinished) == 0:
                break
        stop.set()
        await asyncio.wait_for(task, 30)

    asyncio.run(main())


def last_day(person: DemoPerson) -> dt.date:
    """The Sunday that ends the week the person's due report covers."""
    return due_week(person.timezone, NOW) - dt.timedelta(days=1)


def _expected_shadow_dates(person: DemoPerson, symptom: str) -> dt.date:
    days_back = min(s.days_back for s in person.symptoms if s.name == symptom)
    return last_day(person) - dt.timedelta(days=days_back)


def test_the_weekly_batch_through_the_real_queue_fills_all_four_tables_within_the_counts(
    demo_db: str,
) -> None:
    with psycopg.connect(demo_db, autocommit=True) as conn:
        assert conn.execute("select public.enqueue_weekly_analysis()").fetchone() == (len(DEMO_PEOPLE),)
    _drain(demo_db)
    assert rows(demo_db, "select status, count(*) from jobs group by status") == [("succeeded", 3)]
    for person in DEMO_PEOPLE:
        counts = _counts(demo_db, person.id)
        assert MIN_INSIGHTS <= counts["health_insights"] <= MAX_INSIGHTS
        assert MIN_PREDICTIONS <= counts["health_predictions"] <= MAX_PREDICTIONS
        assert counts["strategic_moves"] == STRATEGIC_MOVES
        weeks = rows(
            demo_db, "select distinct week_of from public.health_insights where user_id = %s", (person.id,)
        )
        assert weeks == [(due_week(person.timezone, NOW),)], "week_of is the person's own Monday"
    generations = rows(demo_db, "select status, provider, round_trips from analysis_generations")
    assert sorted(generations) == [("succeeded", "local", 0)] * 3


def test_shadow_patterns_match_the_seeded_data(demo_db: str) -> None:
    week = due_week(MAYA.timezone, NOW)
    run_person_week(demo_db, MAYA.id, week, now=NOW)
    patterns = rows(
        demo_db,
        "select pattern_name, pattern_category, last_mentioned_date, days_missing, historical_frequency "
        "from shadow_patterns where user_id = %s",
        (MAYA.id,),
    )
    by_name = {row[0]: row[1:] for row in patterns}
    knee = by_name["Knee pain"]
    assert knee[0] == "symptom"
    assert knee[1] == _expected_shadow_dates(MAYA, "Knee pain")
    assert knee[2] == (last_day(MAYA) - knee[1]).days
    assert knee[3]["weeks_present"] == 3
    assert knee[3]["occurrences"] == sum(1 for s in MAYA.symptoms if s.name == "Knee pain")
    scans_last = last_day(MAYA) - dt.timedelta(days=min(s.days_back for s in MAYA.scans))
    assert by_name["Quick scans"][1] == scans_last
    assert "Headache" not in by_name, "present this week, so not a shadow"
    for person in (JONAS, AIKO):
        run_person_week(demo_db, person.id, due_week(person.timezone, NOW), now=NOW)
        assert rows(demo_db, "select count(*) from shadow_patterns where user_id = %s", (person.id,)) == [
            (0,)
        ]


def test_a_week_without_a_story_gets_one_and_a_week_with_one_keeps_it(demo_db: str) -> None:
    before = rows(demo_db, "select user_id, count(*) from health_stories group by user_id")
    for person in DEMO_PEOPLE:
        run_person_week(demo_db, person.id, due_week(person.timezone, NOW), now=NOW)
    after = dict(rows(demo_db, "select user_id, count(*) from health_stories group by user_id"))
    assert after[JONAS.id] == dict(before)[JONAS.id], "Jonas wrote his own story this week"
    assert after[MAYA.id] == dict(before)[MAYA.id] + 1
    assert after[AIKO.id] == 1
    jonas_story = rows(
        demo_db,
        "select distinct s.title from health_insights i join health_stories s on s.id = i.story_id "
        "where i.user_id = %s",
        (JONAS.id,),
    )
    assert jonas_story == [("Long days at the desk",)]


def test_confidence_never_exceeds_what_the_data_supports(demo_db: str) -> None:
    outcome, _ = run_person_week(demo_db, AIKO.id, due_week(AIKO.timezone, NOW), now=NOW)
    cap = outcome.facts.max_confidence
    assert cap < 60, "one entry in five weeks is thin data"
    values = rows(
        demo_db,
        "select confidence from health_insights where user_id = %(u)s "
        "union all select probability from health_predictions where user_id = %(u)s",
        {"u": AIKO.id},
    )
    assert values
    assert all(v[0] <= cap for v in values)


def test_every_insight_carries_its_evidence(demo_db: str) -> None:
    run_person_week(demo_db, JONAS.id, due_week(JONAS.timezone, NOW), now=NOW)
    evidence = rows(demo_db, "select evidence from health_insights where user_id = %s", (JONAS.id,))
    assert evidence
    assert all(isinstance(e[0], list) and e[0] for e in evidence)
    assert any("Tension headache" in item for e in evidence for item in e[0])


def test_rerunning_a_week_replaces_its_rows_rather_than_duplicating_them(demo_db: str) -> None:
    week = due_week(JONAS.timezone, NOW)
    run_person_week(demo_db, JONAS.id, week, now=NOW)
    first = _counts(demo_db, JONAS.id)
    assert first["health_insights"] > 0
    outcome, _ = run_person_week(demo_db, JONAS.id, week, force=True, trigger="refresh", now=NOW)
    assert outcome.status == "stored" and outcome.stored is not None
    # The refresh reads the seven local days ending now, the weekly run the whole week before,
    # so their reports may hold different numbers of rows (a habit quiet in one window and not
    # in the other, depending on the hour the test runs): what the tables hold is the refresh's
    # report alone, nothing of the first one left beside it.
    stored = outcome.stored
    assert _counts(demo_db, JONAS.id) == {
        "health_insights": stored.insights,
        "health_predictions": stored.predictions,
        "shadow_patterns": stored.shadow_patterns,
        "strategic_moves": stored.strategic_moves,
    }
    generations = rows(
        demo_db,
        "select distinct generation_id from health_insights where user_id = %s",
        (JONAS.id,),
    )
    assert outcome.stored is not None
    assert generations == [(outcome.stored.generation_id,)]
    assert rows(
        demo_db, "select trigger, count(*) from analysis_generations group by trigger order by 1"
    ) == [
        ("refresh", 1),
        ("weekly", 1),
    ]


def test_an_unchanged_week_makes_no_model_call_and_changes_nothing(demo_db: str) -> None:
    week = due_week(MAYA.timezone, NOW)
    run_person_week(demo_db, MAYA.id, week, now=NOW)
    snapshot = rows(demo_db, "select id from health_insights where user_id = %s order by id", (MAYA.id,))
    provider = CountingProvider()
    outcome, job = run_person_week(demo_db, MAYA.id, week, provider, now=NOW)
    assert outcome.status == "unchanged"
    assert provider.calls == []
    assert job["status"] == "succeeded"
    assert (
        rows(demo_db, "select id from health_insights where user_id = %s order by id", (MAYA.id,)) == snapshot
    )
    assert rows(demo_db, "select count(*) from analysis_generations where user_id = %s", (MAYA.id,)) == [(1,)]


def test_a_forced_refresh_of_an_unchanged_week_calls_the_model_twice(demo_db: str) -> None:
    week = due_week(JONAS.timezone, NOW)
    run_person_week(demo_db, JONAS.id, week, now=NOW)
    provider = CountingProvider()
    outcome, _ = run_person_week(demo_db, JONAS.id, week, provider, force=True, trigger="refresh", now=NOW)
    assert outcome.status == "stored"
    assert provider.calls == ["analysis", "moves"], "two round trips; the week already has a story"


def _insight_titles(url: str, user: UUID) -> list[tuple[Any, ...]]:
    return rows(url, "select id, title from health_insights where user_id = %s order by id", (user,))


def test_a_failure_after_generation_leaves_the_previous_week_intact(
    demo_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The week and the job's success are one statement: when its last row is refused, the
    rows before it, the new generation and the job's finish are all undone."""
    week = due_week(MAYA.timezone, NOW)
    run_person_week(demo_db, MAYA.id, week, now=NOW)
    snapshot = _insight_titles(demo_db, MAYA.id)
    real_rows: Callable[..., Any] = store.report_rows

    def last_move_refused(report: Any) -> dict[str, Any]:
        built = real_rows(report)
        built["strategic_moves"][-1]["priority"] = 99  # the table's CHECK allows 1 to 10
        return dict(built)

    monkeypatch.setattr(store, "report_rows", last_move_refused)
    with pytest.raises(RetryableError, match="the database refused the written report"):
        run_person_week(demo_db, MAYA.id, week, force=True, now=NOW)
    assert _insight_titles(demo_db, MAYA.id) == snapshot
    assert _counts(demo_db, MAYA.id)["strategic_moves"] == STRATEGIC_MOVES
    assert rows(
        demo_db,
        "select count(*) from analysis_generations where user_id = %s and status = 'succeeded'",
        (MAYA.id,),
    ) == [(1,)]
    failed = rows(
        demo_db,
        "select error from analysis_generations where user_id = %s and status = 'failed'",
        (MAYA.id,),
    )
    assert len(failed) == 1 and "the database refused the written report" in failed[0][0]
    assert rows(
        demo_db, "select status from jobs where user_id = %s order by id desc limit 1", (MAYA.id,)
    ) == [("running",)], "the job's finish was undone with the week"


def test_a_lost_lease_writes_nothing_of_the_week_and_does_not_finish_the_job(
    demo_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker took the job while the model was answering: the store statement
    finds the lease gone, fails as a lost lease, and leaves the week and the job as they were."""
    week = due_week(MAYA.timezone, NOW)
    run_person_week(demo_db, MAYA.id, week, now=NOW)
    snapshot = _insight_titles(demo_db, MAYA.id)
    real_store: Callable[..., Any] = store.store_report

    async def rescued_meanwhile(conn: Any, **kwargs: Any) -> Any:
        finish = kwargs["finish"]
        assert finish.job_id is not None, "the weekly store finishes its own job"
        with psycopg.connect(demo_db, autocommit=True) as other:
            other.execute(
                "update jobs set lease_owner = 'another-worker', attempts = attempts + 1 where id = %s",
                (finish.job_id,),
            )
        return await real_store(conn, **kwargs)

    monkeypatch.setattr(store, "store_report", rescued_meanwhile)
    with pytest.raises(LeaseLostError):
        run_person_week(demo_db, MAYA.id, week, force=True, now=NOW)
    assert _insight_titles(demo_db, MAYA.id) == snapshot
    assert rows(
        demo_db,
        "select count(*) from analysis_generations where user_id = %s and status = 'succeeded'",
        (MAYA.id,),
    ) == [(1,)]
    assert rows(
        demo_db,
        "select status, lease_owner from jobs where user_id = %s order by id desc limit 1",
        (MAYA.id,),
    ) == [("running", "another-worker")]


def test_a_malformed_payload_or_week_fails_the_job_readably(demo_db: str) -> None:
    with psycopg.connect(demo_db, autocommit=True) as conn:
        ids = [
            conn.execute(
                "insert into jobs (kind, user_id, payload) values ('weekly_analysis', %s, %s) returning id",
                (MAYA.id, payload),
            ).fetchone()[0]  # type: ignore[index]
            for payload in (
                '{"week_of": "next tuesday"}',
                '{"week_of": "2026-11-24"}',
                '{"week_of": "2999-01-07"}',
                '{"week_of": "2026-11-23", "surprise": 1}',
            )
        ]
    _drain(demo_db)
    errors = dict(rows(demo_db, "select id, last_error from jobs where id = any(%s)", (ids,)))
    statuses = rows(demo_db, "select distinct status, attempts from jobs where id = any(%s)", (ids,))
    assert statuses == [("failed", 1)], "bad input fails at once"
    assert "week_of" in errors[ids[0]] and "ValidationError" in errors[ids[0]]
    assert errors[ids[1]] == "week_of must be a Monday; 2026-11-24 is a Tuesday"
    assert "has not begun yet" in errors[ids[2]]
    assert "surprise" in errors[ids[3]]
