"""Storing a person-week: all of it in one statement, inside the job's own transaction.

The generation row, the story (when one was written) and the replacement of the
person-week's rows in the four tables commit together with the job's completion, so a
reader sees the previous week or the new one, never a mix, never nothing; and a re-run
replaces rather than duplicates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from worker.analysis.analytics import GENERATED_BY
from worker.analysis.gather import LastReport, query
from worker.queue.jobs import NO_JOB, JobFinish
from worker.report import Insight, PatternFact, Report, StoryDraft, Usage, WeekFacts


@dataclass(frozen=True)
class Stored:
    generation_id: UUID
    story_id: UUID
    insights: int
    predictions: int
    shadow_patterns: int
    strategic_moves: int
    # Whether the statement also finished the job it was given (``finish``).
    job_finished: bool = False


def _jsonb(value: Any) -> Jsonb:
    """A jsonb parameter written by orjson rather than json.dumps. Its values come from
    ``model_dump(mode="json")`` and validated answers: no NaN to refuse."""
    return Jsonb(value, dumps=orjson.dumps)


def _capped(value: int, cap: int) -> int:
    return max(0, min(value, cap))


def _insight_metadata(insight: Insight, cap: int, findings: list[PatternFact]) -> dict[str, Any]:
    """What the stored insight says of itself: the model's own confidence when it was capped,
    and the pattern findings it cites (a finding's sentence in its evidence or its text)."""
    metadata: dict[str, Any] = {}
    if insight.confidence > cap:
        metadata["model_confidence"] = insight.confidence
    cited = [
        f.model_dump(mode="json")
        for f in findings
        if any(f.sentence.casefold() in text.casefold() for text in [*insight.evidence, insight.description])
    ]
    if cited:
        metadata["findings"] = cited
    return metadata


def report_rows(report: Report) -> dict[str, Any]:
    """The four tables' rows as JSON arrays; confidences capped by the data's strength,
    shadow patterns' names, dates and counts taken from the analytics, not the model."""
    cap = report.facts.max_confidence
    wording = {w.pattern_name.casefold(): w for w in report.analysis.shadow_patterns}
    insights = [
        {
            "insight_type": i.insight_type,
            "title": i.title,
            "description": i.description,
            "confidence": _capped(i.confidence, cap),
            "evidence": i.evidence,
            "metadata": _insight_metadata(i, cap, report.facts.findings),
        }
        for i in report.analysis.insights
    ]
    predictions = [
        {
            "event_description": p.event_description,
            "probability": _capped(p.probability, cap),
            "timeframe": p.timeframe,
            "preventable": p.preventable,
            "reasoning": p.reasoning,
            "suggested_actions": p.suggested_actions,
        }
        for p in report.analysis.predictions
    ]
    patterns = []
    for fact in report.facts.shadow_patterns:
        words = wording.get(fact.pattern_name.casefold())
        patterns.append(
            {
                "pattern_name": fact.pattern_name,
                "pattern_category": fact.pattern_category,
                "last_seen_description": words.last_seen_description
                if words
                else f"Last seen {fact.last_mentioned_date.isoformat()}, {fact.days_missing} days ago.",
                "significance": fact.significance,
                "last_mentioned_date": fact.last_mentioned_date.isoformat(),
                "days_missing": fact.days_missing,
                "historical_frequency": fact.historical_frequency,
            }
        )
    moves = [m.model_dump() for m in report.moves.strategic_moves]
    return {
        "insights": insights,
        "predictions": predictions,
        "shadow_patterns": patterns,
        "strategic_moves": moves,
    }


async def last_report(conn: AsyncConnection[Any], user_id: UUID, week_of: dt.date) -> LastReport | None:
    """The week's latest succeeded report generation, if any."""
    cur = await conn.execute(query("last_report_generation"), {"user_id": user_id, "week_of": week_of})
    row = await cur.fetchone()
    return LastReport(input_hash=row[0], trigger=str(row[1])) if row else None


def story_row(facts: WeekFacts, story: StoryDraft) -> dict[str, Any]:
    """A story we wrote, as health_stories stores it. ``data_sources`` uses the keys the
    app reads (``oracle_chats``, ``quick_scans``, ``deep_dives``, ``symptom_entries``)."""
    return {
        **story.model_dump(),
        "date_range": {"start": facts.window.start.isoformat(), "end": facts.window.end.isoformat()},
        "data_sources": {
            "generated_by": GENERATED_BY,
            "oracle_chats": facts.activity.oracle_conversations,
            "quick_scans": facts.activity.quick_scans,
            "deep_dives": facts.activity.deep_dives,
            "symptom_entries": facts.activity.symptom_entries,
            "story_notes": facts.activity.story_notes,
        },
    }


def _period(facts: WeekFacts) -> dict[str, Any]:
    window = facts.window
    return {"period_start": window.starts_at, "period_end": window.ends_at, "time_zone": window.timezone}


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cache_hit_tokens": usage.cache_hit_tokens,
        "round_trips": usage.round_trips,
    }


async def store_report(
    conn: AsyncConnection[Any],
    *,
    user_id: UUID,
    report: Report,
    story_id: UUID | None,
    trigger: str,
    input_hash: str,
    duration_ms: int,
    finish: JobFinish = NO_JOB,
) -> Stored:
    """Write the person-week. Given ``finish``, the same statement finishes the job (on an
    autocommit connection, see ``JobContext.complete_in_statement``); without it, call
    inside the job's completion transaction."""
    facts = report.facts
    story: dict[str, Any] | None = None
    if story_id is None:
        if report.story is None:
            raise ValueError("a week without a story needs a generated one")
        story = story_row(facts, report.story)
    rows = report_rows(report)
    params = {
        "findings": _jsonb([f.model_dump(mode="json") for f in facts.findings]),
        "user_id": user_id,
        "week_of": facts.window.week_of,
        "trigger": trigger,
        "provider": report.provider,
        "model": report.model,
        **_usage(report.usage),
        **_period(facts),
        "input_hash": input_hash,
        "duration_ms": duration_ms,
        "story": _jsonb(story) if story is not None else None,
        "story_id": story_id,
        **{name: _jsonb(value) for name, value in rows.items()},
        **finish.params(),
    }
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query("store_week"), params)
        row = await cur.fetchone()
    assert row is not None
    return Stored(**row)


@dataclass(frozen=True)
class StoredStory:
    story_id: UUID
    generation_id: UUID


async def store_story(
    conn: AsyncConnection[Any],
    *,
    user_id: UUID,
    facts: WeekFacts,
    story: StoryDraft,
    provider: str,
    model: str,
    usage: Usage,
    duration_ms: int,
) -> StoredStory:
    """Write a story on demand and its generation (call inside the job's completion)."""
    params = {
        "user_id": user_id,
        "week_of": facts.window.week_of,
        "provider": provider,
        "model": model,
        **_usage(usage),
        **_period(facts),
        "duration_ms": duration_ms,
        "story": _jsonb(story_row(facts, story)),
    }
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query("store_story"), params)
        row = await cur.fetchone()
    assert row is not None
    return StoredStory(**row)


async def record_failed_generation(
    conn: AsyncConnection[Any],
    *,
    user_id: UUID,
    week_of: dt.date,
    trigger: str,
    provider: str,
    model: str,
    usage: Usage,
    duration_ms: int,
    error: str,
) -> None:
    await conn.execute(
        query("record_failed_generation"),
        {
            "user_id": user_id,
            "week_of": week_of,
            "trigger": trigger,
            "provider": provider,
            "model": model,
            **_usage(usage),
            "duration_ms": duration_ms,
            "error": error,
        },
    )
