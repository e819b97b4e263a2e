"""A misbehaving model, through the real pipeline, against a chat-completions server on 127.0.0.1.

Every case ends in a valid stored week or a retryable failure, never an invalid row, and
never with health text in a stored error or a log line: NUL and direction characters,
loose types, tied priorities, a 5 MB answer, a request refused as longer than the
model's context, two bad answers in a row. No request carries the person's name, e-mail
or user id.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from db_support import rows
from fake_deepseek import FakeDeepSeek, Reply, analysis_answer, moves_answer
from pipeline_support import due_week, run_person_week

from worker.ai import prompts
from worker.ai.base import AIRetryableError
from worker.ai.deepseek import DeepSeekProvider
from worker.config import AISettings
from worker.demo.seed import JONAS, MAYA, seed_demo
from worker.handlers import default_registry
from worker.queue import manager
from worker.queue.jobs import JobSpec
from worker.runtime.oneshot import run_until

NOW = dt.datetime.now(dt.UTC)
KEY = "sk-test-hostile"
SECRET_WORDS = "zygomatic lanternfish"  # health text the model wrote: never in an error or log


@pytest.fixture
def demo_db(db_url: str) -> str:
    seed_demo(db_url, now=NOW)
    return db_url


@pytest.fixture
def fake() -> Iterator[FakeDeepSeek]:
    with FakeDeepSeek(api_key=KEY) as server:
        yield server


def provider(fake: FakeDeepSeek) -> DeepSeekProvider:
    return DeepSeekProvider(AISettings(provider="deepseek", api_key=KEY, base_url=fake.url), backoff_base=0.0)


def jonas_facts(fake: FakeDeepSeek) -> dict[str, Any]:
    """The facts the fake server would answer for (from a first, unscripted run)."""
    body = fake.requests[0].messages[-1]["content"]
    start = body.index(prompts.WEEK_OPEN) + len(prompts.WEEK_OPEN)
    facts, _ = json.JSONDecoder().raw_decode(body, start)
    return dict(facts)


def bad_analysis(facts: dict[str, Any], **change: Any) -> str:
    answer = analysis_answer(facts)
    answer["insights"][0] = {**answer["insights"][0], **change}
    return json.dumps(answer)


def run_jonas(url: str, fake: FakeDeepSeek) -> Any:
    return run_person_week(
        url, JONAS.id, due_week(JONAS.timezone, NOW), provider(fake), now=NOW, close_provider=True, force=True
    )


def stored_insight_titles(url: str) -> list[str]:
    return [r[0] for r in rows(url, "select title from health_insights where user_id = %s", (JONAS.id,))]


def facts_for_jonas(url: str, fake: FakeDeepSeek) -> dict[str, Any]:
    run_jonas(url, fake)
    facts = jonas_facts(fake)
    fake.clear()
    return facts


@pytest.mark.parametrize(
    "change",
    [
        {"title": f"Headaches \x00 {SECRET_WORDS}"},
        {"description": f"A calmer week \u202e {SECRET_WORDS} for your neck."},
        {"confidence": True},
        {"confidence": "55"},
        {"insight_type": 1},
    ],
    ids=["nul", "bidi-override", "bool-as-number", "string-as-number", "number-as-string"],
)
def test_a_bad_answer_is_repaired_and_the_stored_week_is_valid(
    demo_db: str, fake: FakeDeepSeek, change: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    facts = facts_for_jonas(demo_db, fake)
    fake.script(Reply(content=bad_analysis(facts, **change)))
    outcome, job = run_jonas(demo_db, fake)
    assert outcome.status == "stored" and job["status"] == "succeeded"
    assert [r.task for r in fake.requests] == ["analysis", "analysis", "moves"], "one repair"
    repair = fake.requests[1].messages[-1]["content"]
    assert "insights.0" in repair, "the repair names the field that failed"
    for title in stored_insight_titles(demo_db):
        assert "\x00" not in title and SECRET_WORDS not in title
    logged = capfd.readouterr()
    assert SECRET_WORDS not in logged.out + logged.err


def test_a_prediction_that_says_yes_for_a_flag_is_repaired(demo_db: str, fake: FakeDeepSeek) -> None:
    facts = facts_for_jonas(demo_db, fake)
    answer = analysis_answer(facts)
    answer["predictions"][0]["preventable"] = "yes"
    fake.script(Reply(content=json.dumps(answer)))
    outcome, _ = run_jonas(demo_db, fake)
    assert outcome.status == "stored"
    assert all(isinstance(r[0], bool) for r in rows(demo_db, "select preventable from health_predictions"))


def test_five_moves_with_one_priority_are_repaired_to_distinct_ones(demo_db: str, fake: FakeDeepSeek) -> None:
    facts = facts_for_jonas(demo_db, fake)
    tied = moves_answer(facts)
    for move in tied["strategic_moves"]:
        move["priority"] = 5
    fake.script(Reply(), Reply(content=json.dumps(tied)))
    outcome, _ = run_jonas(demo_db, fake)
    assert outcome.status == "stored"
    [(priorities,)] = rows(
        demo_db,
        "select array_agg(priority order by priority) from strategic_moves where user_id = %s",
        (JONAS.id,),
    )
    assert len(set(priorities)) == 5


def test_a_5_mb_answer_is_not_sent_back_in_the_repair(demo_db: str, fake: FakeDeepSeek) -> None:
    facts = facts_for_jonas(demo_db, fake)
    huge = bad_analysis(facts, description=SECRET_WORDS + " word" * 1_000_000)
    assert len(huge) > 5_000_000
    fake.script(Reply(content=huge))
    outcome, _ = run_jonas(demo_db, fake)
    assert outcome.status == "stored"
    repair = fake.requests[1].messages
    size = sum(len(m["content"]) for m in repair)
    first = sum(len(m["content"]) for m in fake.requests[0].messages)
    assert size < first + 5_000, "the repair asks again from scratch, without the answer"
    assert all(m["role"] != "assistant" for m in repair)


def test_a_request_longer_than_the_context_is_made_again_shorter(demo_db: str, fake: FakeDeepSeek) -> None:
    with psycopg.connect(demo_db, autocommit=True) as conn:
        conn.execute(
            "update health_stories set story_text = story_text || repeat(' More about the week.', 150)"
            " where user_id = %s",
            (JONAS.id,),
        )
    facts_for_jonas(demo_db, fake)
    too_long = "This model's maximum context length is 65536 tokens. However, you requested 70000 tokens."
    fake.script(Reply(status=400, error=too_long))
    outcome, job = run_jonas(demo_db, fake)
    assert outcome.status == "stored" and job["status"] == "succeeded"
    first, again = (sum(len(m["content"]) for m in r.messages) for r in fake.requests[:2])
    assert again < first, "the second request is the compact one"
    assert prompts.WEEK_OPEN in fake.requests[1].messages[-1]["content"]


def test_a_repair_longer_than_the_context_asks_again_from_scratch(demo_db: str, fake: FakeDeepSeek) -> None:
    facts = facts_for_jonas(demo_db, fake)
    fake.script(
        Reply(content=bad_analysis(facts, confidence="high")),
        Reply(status=400, error="maximum context length exceeded"),
    )
    outcome, _ = run_jonas(demo_db, fake)
    assert outcome.status == "stored"
    assert any(m["role"] == "assistant" for m in fake.requests[1].messages)
    assert all(m["role"] != "assistant" for m in fake.requests[2].messages)


def test_two_bad_answers_are_a_retryable_failure_with_no_health_text_anywhere(
    demo_db: str, fake: FakeDeepSeek, capfd: pytest.CaptureFixture[str]
) -> None:
    facts = facts_for_jonas(demo_db, fake)
    bad = bad_analysis(facts, title=f"\x00 {SECRET_WORDS}")
    fake.script(Reply(content=bad), Reply(content=bad))
    with pytest.raises(AIRetryableError):
        run_jonas(demo_db, fake)
    errors = rows(demo_db, "select error from analysis_generations where status = 'failed'")
    assert errors and all(SECRET_WORDS not in e[0] for e in errors)
    logged = capfd.readouterr()
    assert SECRET_WORDS not in logged.out + logged.err


def test_through_the_worker_a_failed_attempt_is_retried_and_its_error_holds_no_health_text(
    demo_db: str, fake: FakeDeepSeek, capfd: pytest.CaptureFixture[str]
) -> None:
    facts = facts_for_jonas(demo_db, fake)
    bad = bad_analysis(facts, description=f"A note \u202e {SECRET_WORDS} about your week.")
    fake.script(Reply(content=bad), Reply(content=bad))
    week = due_week(JONAS.timezone, NOW)
    with psycopg.connect(demo_db, autocommit=True) as conn:
        [job_id] = manager.enqueue_sync(
            conn,
            [
                JobSpec(
                    "weekly_analysis",
                    {"week_of": week.isoformat(), "force": True, "trigger": "refresh"},
                    user_id=JONAS.id,
                )
            ],
        )

    def attempted() -> bool:
        return bool(
            rows(demo_db, "select attempts >= 1 and status = 'queued' from jobs where id = %s", (job_id,))[0][
                0
            ]
        )

    settings = AISettings(provider="deepseek", api_key=KEY, base_url=fake.url)
    assert run_until(demo_db, default_registry(settings), attempted, kinds=("weekly_analysis",), timeout=60)
    [(status, error)] = rows(demo_db, "select status, last_error from jobs where id = %s", (job_id,))
    assert status == "queued", "retried later, not failed for good"
    assert "invalid answer after one repair" in error
    assert SECRET_WORDS not in error and "\u202e" not in error
    logged = capfd.readouterr()
    assert SECRET_WORDS not in logged.out + logged.err


def test_no_request_carries_the_persons_name_email_or_user_id(demo_db: str, fake: FakeDeepSeek) -> None:
    for person in (MAYA, JONAS):
        run_person_week(
            demo_db,
            person.id,
            due_week(person.timezone, NOW),
            provider(fake),
            now=NOW,
            close_provider=True,
        )
    assert len(fake.requests) >= 5
    for request in fake.requests:
        sent = json.dumps(request.body)
        for person in (MAYA, JONAS):
            for private in (person.name, person.name.split()[0], person.email, str(person.id)):
                assert private not in sent
