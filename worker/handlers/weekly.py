"""The ``weekly_analysis`` job (one person-week through the pipeline) and the
``weekly_story`` job (a story of the seven days ending now, on the person's request)."""

from __future__ import annotations

from worker.ai.base import AIProvider
from worker.errors import PermanentError
from worker.log import get_logger
from worker.pipeline import StoryPayload, WeeklyPayload, run_story_refresh, run_weekly_analysis
from worker.queue.context import JobContext
from worker.queue.jobs import Job
from worker.queue.registry import Handler

log = get_logger("worker.weekly")


def _person(job: Job) -> None:
    if job.user_id is None:
        raise PermanentError(f"a {job.kind} job needs a user_id")


def make_weekly_handler(provider: AIProvider) -> Handler:
    async def handle_weekly_analysis(job: Job, context: JobContext) -> None:
        _person(job)
        assert job.user_id is not None
        payload = WeeklyPayload.model_validate(job.payload)
        outcome = await run_weekly_analysis(context, provider, job.user_id, payload)
        log.info(
            "weekly analysis",
            job_id=job.id,
            outcome=outcome.status,
            round_trips=outcome.usage.round_trips,
            prompt_tokens=outcome.usage.prompt_tokens,
            cache_hit_tokens=outcome.usage.cache_hit_tokens,
        )

    return handle_weekly_analysis


def make_story_handler(provider: AIProvider) -> Handler:
    async def handle_weekly_story(job: Job, context: JobContext) -> None:
        _person(job)
        assert job.user_id is not None
        payload = StoryPayload.model_validate(job.payload)
        outcome = await run_story_refresh(context, provider, job.user_id, payload)
        log.info(
            "story written",
            job_id=job.id,
            round_trips=outcome.usage.round_trips,
            prompt_tokens=outcome.usage.prompt_tokens,
            cache_hit_tokens=outcome.usage.cache_hit_tokens,
        )

    return handle_weekly_story
