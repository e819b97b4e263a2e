"""The weekly analysis of one person-week: gather -> analyse -> generate -> validate -> store.

At most two model round trips per person-week (insights, predictions and shadow
wording; then strategic moves that build on them), plus one for the story when the
week has none. When nothing changed since the last successful generation (same input
hash) and the run is not a forced refresh, no model is called and nothing changes.
A failure leaves the person's stored week as it was and is recorded in the audit trail,
with the tokens already billed: also an attempt cancelled by its kind's timeout or by the
worker's shutdown (the record is written shielded from the cancellation, then the
cancellation goes on).

Which days: a scheduled report (trigger ``weekly`` or ``manual``) of week W covers the
previous whole local week; a refresh covers the seven local days ending as it runs. A
scheduled report never replaces a refresh of the same week: the person asked for that
one, and it already holds the days since Monday.

The story on demand (``weekly_story``, ``run_story_refresh``) is the same gather and
analysis over the seven days ending now, with one model round trip, and stores a new
story only.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict

from worker.ai.base import AIProvider
from worker.analysis import analytics, store
from worker.analysis.gather import RawWeek, WeekError, gather_week
from worker.analysis.window import WHOLE_WEEK_TRIGGERS
from worker.errors import PermanentError, RetryableError
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

    @property
    def whole_week(self) -> bool:
        return self.trigger in WHOLE_WEEK_TRIGGERS


class StoryPayload(BaseModel):
    """A ``weekly_story`` job's payload, as ``request_story_refresh`` writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    week_of: dt.date
    trigger: Literal["story"] = "story"


@contextlib.asynccontextmanager
async def _model_text_refusals() -> AsyncIterator[None]:
    """A database refusal of what the model wrote (a value a CHECK or a type does not take)
    is worth another attempt with a new answer, never a permanent failure."""
    try:
        yield
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
        raise RetryableError(f"the database refused the written report: {describe(exc)}") from None


async def _gather(
    conn: AsyncConnection[Any],
    user_id: UUID,
    week_of: dt.date,
    *,
    whole_week: bool,
    now: dt.datetime | None,
    with_last_report: bool = False,
) -> RawWeek:
    """The person's week; a week that cannot be analysed fails the job for good."""
    try:
        return await gather_week(
            conn, user_id, week_of, whole_week=whole_week, now=now, with_last_report=with_last_report
        )
    except WeekError as exc:
        raise PermanentError(str(exc)) from None


async def _record_failure(
    context: JobContext,
    provider: AIProvider,
    user_id: UUID,
    week_of: dt.date,
    trigger: str,
    usage: Usage,
    started: float,
    exc: BaseException,
) -> None:
    """The audit trail keeps failed generations too; the person's week stays as it was."""
    async with context.connection() as conn:
        await store.record_failed_generation(
            conn,
            user_id=user_id,
            week_of=week_of,
            trigger=trigger,
            provider=provider.name,
            model=provider.model,
            usage=usage,
            duration_ms=int((time.monotonic() - started) * 1000),
            error=describe(exc),
        )


# How long a cancelled attempt may take to record its failure before the cancellation goes on.
_CANCELLED_RECORD_SECONDS = 10.0


async def _record_cancellation(
    context: JobContext,
    provider: AIProvider,
    user_id: UUID,
    week_of: dt.date,
    trigger: str,
    usage: Usage,
    started: float,
) -> None:
    """:func:`_record_failure` for an attempt that was cancelled (its kind's timeout, or a
    shutdown past its grace): shielded, so the cancellation that is under way does not
    abandon the write, and bounded, so a database that does not answer does not hold it."""
    if context.completed:  # cancelled after the week was stored: nothing failed
        return
    reason = RetryableError("the attempt was cancelled before it finished (its kind's timeout or a shutdown)")
    write = _record_failure(context, provider, user_id, week_of, trigger, usage, started, reason)
    # A failure to record (the database away) must not replace the cancellation.
    with contextlib.suppress(Exception):
        await asyncio.shield(asyncio.wait_for(write, _CANCELLED_RECORD_SECONDS))


@dataclass(frozen=True)
class WeeklyOutcome:
    status: Literal["stored", "unchanged", "superseded"]
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

    async def gather() -> RawWeek:
        async with context.connection() as conn:
            return await _gather(
                conn,
                user_id,
                payload.week_of,
                whole_week=payload.whole_week,
                now=now,
                with_last_report=not payload.force,
            )

    # An outage of the database costs no attempt: the reads and the store wait for it,
    # and the model's answers wait with the store.
    raw = await context.outlast_outage(gather)
    # The connection went back to the pool before the analysis and every model call: the
    # pool's few connections serve any number of jobs in flight.
    facts = analytics.analyse(raw)
    story_id = analytics.week_story_id(raw)
    digest = analytics.input_hash(
        facts, provider=provider.name, model=provider.model, prompt_version=PIPELINE_VERSION
    )
    if not payload.force:
        last = raw.last_report  # read with the profile, in the gather's first round trip
        if last is not None and payload.whole_week and last.trigger == "refresh":
            return WeeklyOutcome("superseded", facts, None, Usage())
        if last is not None and last.input_hash == digest:
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

        async def store_week() -> store.Stored:
            # One statement writes the week and finishes the job: one round trip.
            async with context.complete_in_statement() as (conn, finish), _model_text_refusals():
                stored = await store.store_report(
                    conn,
                    user_id=user_id,
                    report=report,
                    story_id=story_id,
                    trigger=payload.trigger,
                    input_hash=digest,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    finish=finish,
                )
                if stored.job_finished:
                    context.mark_finished()
                return stored

        stored = await context.outlast_outage(store_week)
    except asyncio.CancelledError:
        await _record_cancellation(
            context, provider, user_id, payload.week_of, payload.trigger, usage, started
        )
        raise
    except Exception as exc:
        await _record_failure(
            context, provider, user_id, payload.week_of, payload.trigger, usage, started, exc
        )
        raise
    return WeeklyOutcome("stored", facts, stored, usage)


@dataclass(frozen=True)
class StoryOutcome:
    facts: WeekFacts
    stored: store.StoredStory
    usage: Usage


async def run_story_refresh(
    context: JobContext,
    provider: AIProvider,
    user_id: UUID,
    payload: StoryPayload,
    *,
    now: dt.datetime | None = None,
) -> StoryOutcome:
    """Write a new story of the seven local days ending now; the week's report is untouched."""
    started = time.monotonic()

    async def gather() -> RawWeek:
        async with context.connection() as conn:
            return await _gather(conn, user_id, payload.week_of, whole_week=False, now=now)

    raw = await context.outlast_outage(gather)
    # The new story replaces whatever the window held: it is written from the data alone.
    facts = analytics.analyse(raw).model_copy(update={"story": None})
    usage = Usage()
    try:
        written = await provider.write_story(facts)
        usage += written.usage

        async def store_new_story() -> store.StoredStory:
            async with context.complete() as conn, _model_text_refusals():
                return await store.store_story(
                    conn,
                    user_id=user_id,
                    facts=facts,
                    story=written.answer,
                    provider=provider.name,
                    model=provider.model,
                    usage=usage,
                    duration_ms=int((time.monotonic() - started) * 1000),
                )

        stored = await context.outlast_outage(store_new_story)
    except asyncio.CancelledError:
        await _record_cancellation(
            context, provider, user_id, payload.week_of, payload.trigger, usage, started
        )
        raise
    except Exception as exc:
        await _record_failure(
            context, provider, user_id, payload.week_of, payload.trigger, usage, started, exc
        )
        raise
    return StoryOutcome(facts, stored, usage)
