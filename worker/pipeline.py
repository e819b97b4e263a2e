"""The weekly analysis of one person-week: gather -> analyse -> generate -> validate -> store.

At most two model round trips per person-week (insights, predictions and shadow
wording; then strategic moves that build on them), plus one for the story when the
week has none. When nothing changed since the last successful generation (same input
hash) and the run is not a forced refresh, no model is called and nothing changes.
A failure leaves the person's stored week as it was and is recorded in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from worker.ai.base import AIProvider
from worker.analysis import analytics, store
from worker.analysis.gather import WeekError, gather_week
from worker.errors import PermanentError
from worker.queue.context import JobContext
from worker.queue.retry import describe
from worker.report import Report, StoryDraft, Usage, WeekFacts

PIPELINE_VERSION = "weekly-v1"


class WeeklyPayload(BaseModel):
    """A ``weekly_analysis`` job's payload, as the database functions write it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    week_of: dt.date
    force: bool = False
    trigger: Literal["weekly", "refresh", "manual"] = "weekly"


@dataclass(frozen=True)
class WeeklyOutcome:
    status: Literal["stored", "unchanged"]
    facts: WeekFacts
    stored: store.Stored | None
    usage: Usage


async def run_weekly_analysis(
    context: JobContext,
    provider: AIProvider,
    user_id: UUID,
    payload: WeeklyPayload,
    *,
    now: dt.datetime | None = None,
) -> WeeklyOutcome:
    started = time.monotonic()
    async with context.connection() as conn:
        try:
            raw = await gather_week(conn, user_id, payload.week_of, now=now)
        except WeekError as exc:
            raise PermanentError(str(exc)) from None
        facts = analytics.analyse(raw)
        story_id = analytics.week_story_id(raw)
        digest = analytics.input_hash(
            facts, provider=provider.name, model=provider.model, prompt_version=PIPELINE_VERSION
        )
        if not payload.force and await store.last_successful_hash(conn, user_id, payload.week_of) == digest:
            return WeeklyOutcome("unchanged", facts, None, Usage())

    usage = Usage()
    try:
        story: StoryDraft | None = None
        if facts.story is None:
            written = await provider.write_story(facts)
            story, usage = written.answer, usage + written.usage
        analysis = await provider.write_analysis(facts)
        usage += analysis.usage
        moves = await provider.write_moves(facts, analysis.answer)
        usage += moves.usage
        report = Report(
            facts=facts,
            story=story,
            analysis=analysis.answer,
            moves=moves.answer,
            usage=usage,
            provider=provider.name,
            model=provider.model,
        )
        async with context.complete() as conn:
            stored = await store.store_report(
                conn,
                user_id=user_id,
                report=report,
                story_id=story_id,
                trigger=payload.trigger,
                input_hash=digest,
                duration_ms=int((time.monotonic() - started) * 1000),
            )
    except Exception as exc:
        async with context.connection() as conn:
            await store.record_failed_generation(
                conn,
                user_id=user_id,
                week_of=payload.week_of,
                trigger=payload.trigger,
                provider=provider.name,
                model=provider.model,
                usage=usage,
                duration_ms=int((time.monotonic() - started) * 1000),
                error=describe(exc),
            )
        raise
    return WeeklyOutcome("stored", facts, stored, usage)
