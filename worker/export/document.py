"""Reading what an export prints: the chosen stories, and the analysis of their weeks.

``load_document`` makes every decision a rendering would otherwise make (the period the
stories cover, the weeks of the chart and its series), so the PDF and the share page,
given the same ``ExportDocument``, show the same content.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from worker.db.queries import load_queries
from worker.errors import PermanentError
from worker.report import (
    CHART_SERIES,
    ExportDocument,
    ExportInsight,
    ExportMove,
    ExportPrediction,
    ExportShadowPattern,
    ExportStory,
    ExportWeek,
    SymptomSeries,
)
from worker.timezones import UnknownTimeZone, load_zone


def query(name: str) -> sql.SQL:
    return load_queries("worker.export", "queries.sql")[name]


class ExportNotFoundError(PermanentError):
    """The export named by the job does not exist (or is not a PDF export)."""


class StoryGoneError(PermanentError):
    """A chosen story was deleted between the request and the rendering."""


@dataclass(frozen=True)
class ExportRequest:
    export_id: UUID
    user_id: UUID
    story_ids: list[UUID]
    include_analysis: bool
    include_notes: bool
    status: str | None

    @property
    def storage_path(self) -> str:
        return f"{self.user_id}/{self.export_id}.pdf"


async def get_export(conn: AsyncConnection[Any], export_id: UUID) -> ExportRequest:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query("get_export"), {"export_id": export_id})
        row = await cur.fetchone()
    if row is None:
        raise ExportNotFoundError(f"export {export_id} does not exist")
    metadata = row["metadata"] or {}
    return ExportRequest(
        export_id=row["id"],
        user_id=row["user_id"],
        story_ids=list(row["story_ids"] or []),
        include_analysis=bool(metadata.get("include_analysis", True)),
        include_notes=bool(metadata.get("include_notes", True)),
        status=row["status"],
    )


def weeks_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """The Mondays from the week of ``start`` to the week of ``end``."""
    first = start - dt.timedelta(days=start.weekday())
    weeks = []
    while first <= end:
        weeks.append(first)
        first += dt.timedelta(days=7)
    return weeks


def _date(value: object) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def story_days(date_range: object, written_on: dt.date) -> tuple[dt.date, dt.date]:
    """The local days a story tells of: its recorded range (``{"start", "end"}``, either
    may be missing or malformed in the app's rows), else the seven days up to the day it
    was written; never after that day."""
    recorded = date_range if isinstance(date_range, dict) else {}
    end = _date(recorded.get("end")) or written_on
    start = _date(recorded.get("start")) or end - dt.timedelta(days=6)
    end = min(end, written_on)
    return min(start, end), end


def _local_day(moment: dt.datetime, zone: str) -> dt.date:
    try:
        return moment.astimezone(load_zone(zone)).date()
    except UnknownTimeZone:
        return moment.astimezone(dt.UTC).date()


async def load_document(
    conn: AsyncConnection[Any], request: ExportRequest, *, now: dt.datetime | None = None
) -> ExportDocument:
    """Everything the PDF prints; every chosen story must still exist."""
    generated_at = now or dt.datetime.now(dt.UTC)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query("export_profile"), {"user_id": request.user_id})
        profile = await cur.fetchone()
        assert profile is not None
        tz = profile["timezone"]
        today = _local_day(generated_at, tz)
        await cur.execute(
            query("export_stories"), {"user_id": request.user_id, "story_ids": request.story_ids, "tz": tz}
        )
        story_rows = await cur.fetchall()
        found = {row["id"] for row in story_rows}
        missing = [story_id for story_id in request.story_ids if story_id not in found]
        if missing:
            raise StoryGoneError(
                f"{len(missing)} of the chosen stories no longer exist (first: {missing[0]}); request a new export"
            )
        stories = []
        for row in story_rows:
            covers_start, covers_end = story_days(row["date_range"], min(row["written_on"], today))
            stories.append(
                ExportStory(
                    title=row["title"],
                    subtitle=row["subtitle"],
                    week_of=row["week_of"],
                    generated_date=row["written_on"],
                    covers_start=covers_start,
                    covers_end=covers_end,
                    story_text=row["story_text"] or "",
                    notes=[str(note) for note in row["notes"]],
                )
            )
        story_weeks = sorted({story.week_of for story in stories})
        start = min((s.covers_start for s in stories if s.covers_start), default=today)
        end = max((s.covers_end for s in stories if s.covers_end), default=today)
        weeks: list[ExportWeek] = []
        series: list[SymptomSeries] = []
        chart_weeks = weeks_between(start, end) if stories else []
        if request.include_analysis and story_weeks:
            await cur.execute(query("export_analysis"), {"user_id": request.user_id, "weeks": story_weeks})
            for row in await cur.fetchall():
                weeks.append(
                    ExportWeek(
                        week_of=row["week_of"],
                        covers_start=row["covers_start"],
                        covers_end=row["covers_end"],
                        time_zone=row["time_zone"],
                        findings=[str(f) for f in row["findings"]],
                        insights=[ExportInsight.model_validate(i) for i in row["insights"]],
                        predictions=[ExportPrediction.model_validate(p) for p in row["predictions"]],
                        shadow_patterns=[
                            ExportShadowPattern.model_validate(s) for s in row["shadow_patterns"]
                        ],
                        strategic_moves=[ExportMove.model_validate(m) for m in row["strategic_moves"]],
                    )
                )
            await cur.execute(
                query("export_symptom_series"),
                {"user_id": request.user_id, "weeks": chart_weeks, "series": CHART_SERIES},
            )
            by_slot: dict[tuple[str | None, int], tuple[list[int], list[float | None]]] = {}
            for row in await cur.fetchall():
                counts, averages = by_slot.setdefault((row["symptom_name"], row["other_symptoms"]), ([], []))
                counts.append(int(row["count"]))
                severity = row["avg_severity"]
                averages.append(float(severity) if severity is not None else None)
            series = [
                SymptomSeries(
                    symptom_name=name if name is not None else "Other",
                    counts=counts,
                    avg_severity=averages,
                    other_symptoms=other,
                )
                for (name, other), (counts, averages) in by_slot.items()
            ]
    return ExportDocument(
        display_name=profile["display_name"],
        time_zone=tz,
        period_start=start,
        period_end=end,
        generated_at=generated_at,
        stories=stories,
        weeks=weeks,
        chart_weeks=chart_weeks,
        symptom_series=series,
        include_analysis=request.include_analysis,
        include_notes=request.include_notes,
    )


async def mark_export_ready(conn: AsyncConnection[Any], request: ExportRequest, *, size: int) -> bool:
    cur = await conn.execute(
        query("mark_export_ready"),
        {"export_id": request.export_id, "storage_path": request.storage_path, "size": size},
    )
    return cur.rowcount == 1
