"""Reading what an export prints: the chosen stories, and the analysis of their weeks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from worker.db.queries import load_queries
from worker.errors import PermanentError
from worker.export.pdf import weeks_between
from worker.report import (
    ExportDocument,
    ExportInsight,
    ExportMove,
    ExportPrediction,
    ExportShadowPattern,
    ExportStory,
    ExportWeek,
    SymptomSeries,
)


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


async def load_document(
    conn: AsyncConnection[Any], request: ExportRequest, *, now: dt.datetime | None = None
) -> ExportDocument:
    """Everything the PDF prints; every chosen story must still exist."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query("export_profile"), {"user_id": request.user_id})
        profile = await cur.fetchone()
        assert profile is not None
        tz = profile["timezone"]
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
        stories = [
            ExportStory(
                title=row["title"],
                subtitle=row["subtitle"],
                week_of=row["week_of"],
                generated_date=row["generated_date"].date()
                if isinstance(row["generated_date"], dt.datetime)
                else row["generated_date"],
                story_text=row["story_text"] or "",
                notes=[str(note) for note in row["notes"]],
            )
            for row in story_rows
        ]
        story_weeks = sorted({story.week_of for story in stories})
        weeks: list[ExportWeek] = []
        series: list[SymptomSeries] = []
        chart_weeks = weeks_between(story_weeks[0], story_weeks[-1]) if story_weeks else []
        if request.include_analysis and story_weeks:
            await cur.execute(query("export_analysis"), {"user_id": request.user_id, "weeks": story_weeks})
            for row in await cur.fetchall():
                weeks.append(
                    ExportWeek(
                        week_of=row["week_of"],
                        covers_start=row["covers_start"],
                        covers_end=row["covers_end"],
                        time_zone=row["time_zone"],
                        insights=[ExportInsight.model_validate(i) for i in row["insights"]],
                        predictions=[ExportPrediction.model_validate(p) for p in row["predictions"]],
                        shadow_patterns=[
                            ExportShadowPattern.model_validate(s) for s in row["shadow_patterns"]
                        ],
                        strategic_moves=[ExportMove.model_validate(m) for m in row["strategic_moves"]],
                    )
                )
            await cur.execute(
                query("export_symptom_series"), {"user_id": request.user_id, "weeks": chart_weeks, "tz": tz}
            )
            by_name: dict[str, SymptomSeries] = {}
            for row in await cur.fetchall():
                current = by_name.get(row["symptom_name"])
                counts = [*(current.counts if current else []), int(row["count"])]
                severity = row["avg_severity"]
                averages = [
                    *(current.avg_severity if current else []),
                    float(severity) if severity is not None else None,
                ]
                by_name[row["symptom_name"]] = SymptomSeries(
                    symptom_name=row["symptom_name"], counts=counts, avg_severity=averages
                )
            series = list(by_name.values())
    generated_at = now or dt.datetime.now(dt.UTC)
    start = story_weeks[0] if story_weeks else generated_at.date()
    end = story_weeks[-1] + dt.timedelta(days=6) if story_weeks else generated_at.date()
    return ExportDocument(
        display_name=profile["display_name"],
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
