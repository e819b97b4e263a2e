"""Helpers for pipeline tests: run one person-week through the real pipeline and queue."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from uuid import UUID

import psycopg
from psycopg_pool import AsyncConnectionPool

from worker.ai.base import AIProvider, Generated
from worker.ai.local import LocalProvider
from worker.pipeline import WeeklyOutcome, WeeklyPayload, run_weekly_analysis
from worker.queue import manager
from worker.queue.context import JobContext
from worker.queue.jobs import JobSpec
from worker.report import AnalysisAnswer, MovesAnswer, StoryDraft, WeekFacts


class CountingProvider:
    """The local provider, counting its calls (round trips)."""

    def __init__(self, inner: AIProvider | None = None) -> None:
        self.inner = inner or LocalProvider()
        self.name = self.inner.name
        self.model = self.inner.model
        self.calls: list[str] = []

    async def write_story(self, facts: WeekFacts) -> Generated[StoryDraft]:
        self.calls.append("story")
        return await self.inner.write_story(facts)

    async def write_analysis(self, facts: WeekFacts) -> Generated[AnalysisAnswer]:
        self.calls.append("analysis")
        return await self.inner.write_analysis(facts)

    async def write_moves(self, facts: WeekFacts, analysis: AnalysisAnswer) -> Generated[MovesAnswer]:
        self.calls.append("moves")
        return await self.inner.write_moves(facts, analysis)

    async def aclose(self) -> None:
        await self.inner.aclose()


def due_week(timezone: str, now: dt.datetime | None = None) -> dt.date:
    """The latest week whose scheduled report is due (the person's Monday 06:00 has passed)."""
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    local = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(timezone))
    monday = local.date() - dt.timedelta(days=local.weekday())
    return monday if local.weekday() > 0 or local.hour >= 6 else monday - dt.timedelta(days=7)


def run_person_week(
    url: str,
    user_id: UUID,
    week_of: dt.date,
    provider: AIProvider | None = None,
    *,
    force: bool = False,
    trigger: str = "weekly",
    now: dt.datetime | None = None,
    close_provider: bool = False,
) -> tuple[WeeklyOutcome, dict[str, Any]]:
    """Enqueue, claim and run one weekly_analysis job; returns the outcome and the job row.

    Each call runs its own event loop: a provider holding connections (deepseek) must be
    used for one call only and closed by it (``close_provider``).
    """
    payload = WeeklyPayload.model_validate({"week_of": week_of, "force": force, "trigger": trigger})
    with psycopg.connect(url, autocommit=True) as conn:
        [job_id] = manager.enqueue_sync(
            conn, [JobSpec("weekly_analysis", payload.model_dump(mode="json"), user_id=user_id)]
        )

    async def scenario() -> WeeklyOutcome:
        async with AsyncConnectionPool(url, kwargs={"autocommit": True}, min_size=1, max_size=3) as pool:
            async with pool.connection() as conn:
                jobs = await manager.claim_jobs(conn, owner="test", limit=1, lease_seconds=60)
            [job] = [j for j in jobs if j.id == job_id]
            context = JobContext(job, pool, "test")
            outcome = await run_weekly_analysis(
                context, provider or LocalProvider(), user_id, payload, now=now
            )
            if not context.completed:
                async with pool.connection() as conn:
                    await manager.finish_jobs(conn, [job], owner="test")
            return outcome

    outcome = asyncio.run(scenario())
    with psycopg.connect(url) as conn:
        row = manager.get_job(conn, job_id)
    assert row is not None
    return outcome, row
