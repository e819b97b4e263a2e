"""An attempt cut short by its kind's timeout still leaves its failed generation, with the
tokens already billed, in the audit trail; the job is kept as failed with the timeout as
its error. (The cancellation skips ``except Exception``: the pipeline records it apart.)"""

from __future__ import annotations

import asyncio
import datetime as dt

import psycopg
from db_support import rows
from pipeline_support import CountingProvider, due_week
from queue_support import run_worker, scalar

from worker.ai.base import Generated
from worker.demo.seed import MAYA, seed_demo
from worker.handlers.weekly import make_story_handler, make_weekly_handler
from worker.pipeline import StoryPayload, WeeklyPayload
from worker.queue import manager
from worker.queue.jobs import JobSpec
from worker.queue.registry import Registry
from worker.queue.retry import RetryPolicy
from worker.report import AnalysisAnswer, MovesAnswer, StoryDraft, Usage, WeekFacts
from worker.runtime.worker import WorkerSettings

NOW = dt.datetime.now(dt.UTC)
BILLED = Usage(prompt_tokens=1200, completion_tokens=800, cache_hit_tokens=300, round_trips=1)


class BilledThenSlow(CountingProvider):
    """Each answer billed ``BILLED``; the moves (and stories, when ``slow_story``) come after
    the kind's timeout."""

    def __init__(self, *, slow_story: bool = False) -> None:
        super().__init__()
        self.slow_story = slow_story

    async def write_story(self, facts: WeekFacts) -> Generated[StoryDraft]:
        if self.slow_story:
            await asyncio.sleep(30)
        written = await super().write_story(facts)
        return Generated(written.answer, BILLED)

    async def write_analysis(self, facts: WeekFacts) -> Generated[AnalysisAnswer]:
        written = await super().write_analysis(facts)
        return Generated(written.answer, BILLED)

    async def write_moves(self, facts: WeekFacts, analysis: AnalysisAnswer) -> Generated[MovesAnswer]:
        await asyncio.sleep(30)
        raise AssertionError("the timeout comes first")


def _run_until_failed(url: str, registry: Registry, spec: JobSpec) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        [job_id] = manager.enqueue_sync(conn, [spec])
    run_worker(
        url,
        lambda: scalar(url, "select status from jobs where id = %s", (job_id,)) == "failed",
        registry=registry,
        settings=WorkerSettings(concurrency=1, poll_seconds=0.05, lease_seconds=10),
        timeout=30,
    )
    return job_id


def test_a_weekly_analysis_past_its_timeout_leaves_a_failed_generation_with_its_tokens(db_url: str) -> None:
    seed_demo(db_url, now=NOW)
    provider = BilledThenSlow()
    registry = Registry()
    registry.register(
        "weekly_analysis",
        make_weekly_handler(provider),
        retry=RetryPolicy(max_attempts=1, base_seconds=0, cap_seconds=0),
        timeout_seconds=1.0,
    )
    payload = WeeklyPayload(week_of=due_week(MAYA.timezone, NOW))
    job_id = _run_until_failed(
        db_url,
        registry,
        JobSpec("weekly_analysis", payload.model_dump(mode="json"), user_id=MAYA.id, max_attempts=1),
    )
    assert scalar(db_url, "select last_error from jobs where id = %s", (job_id,)) == (
        "TimeoutError: weekly_analysis timed out after 1 s"
    )
    generations = rows(
        db_url,
        "select status, round_trips, prompt_tokens, completion_tokens, cache_hit_tokens, error"
        " from analysis_generations where user_id = %s",
        (MAYA.id,),
    )
    assert len(generations) == 1, generations
    status, round_trips, prompt, completion, cache_hits, error = generations[0]
    billed_calls = provider.calls.count("story") + provider.calls.count("analysis")
    assert status == "failed"
    assert (round_trips, prompt, completion, cache_hits) == (
        billed_calls,
        1200 * billed_calls,
        800 * billed_calls,
        300 * billed_calls,
    )
    assert error.startswith("the attempt was cancelled before it finished"), error


def test_a_story_past_its_timeout_leaves_a_failed_generation(db_url: str) -> None:
    seed_demo(db_url, now=NOW)
    registry = Registry()
    registry.register(
        "weekly_story",
        make_story_handler(BilledThenSlow(slow_story=True)),
        retry=RetryPolicy(max_attempts=1, base_seconds=0, cap_seconds=0),
        timeout_seconds=1.0,
    )
    payload = StoryPayload(week_of=due_week(MAYA.timezone, NOW))
    _run_until_failed(
        db_url,
        registry,
        JobSpec("weekly_story", payload.model_dump(mode="json"), user_id=MAYA.id, max_attempts=1),
    )
    generations = rows(
        db_url, "select status, round_trips, error from analysis_generations where user_id = %s", (MAYA.id,)
    )
    assert [(g[0], g[1]) for g in generations] == [("failed", 0)], generations
    assert generations[0][2].startswith("the attempt was cancelled before it finished")
