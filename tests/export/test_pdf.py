"""The PDF report: every section, hostile text, Unicode, long stories, a page that is not blank."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from pathlib import Path

import pypdf
import pytest

from worker.export.pdf import CREATOR, DISCLAIMER, TITLE, render_report_pdf
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

MONDAY = dt.date(2026, 11, 2)


def _week(index: int, *, title_prefix: str = "Insight") -> ExportWeek:
    week_of = MONDAY + dt.timedelta(days=7 * index)
    return ExportWeek(
        week_of=week_of,
        insights=[
            ExportInsight(
                insight_type=kind,
                title=f"{title_prefix} {index}.{n} {kind}",
                description=f"Grounded observation number {n} for week {index}.",
                confidence=40 + n * 10,
            )
            for n, kind in enumerate(("warning", "positive", "neutral"))
        ],
        predictions=[
            ExportPrediction(
                event_description=f"Energy dips may follow long days (week {index}, {n})",
                probability=55 + n,
                timeframe="Next 7 days",
                preventable=True,
                reasoning="Afternoon fatigue followed the longest days.",
            )
            for n in range(2)
        ],
        shadow_patterns=[
            ExportShadowPattern(
                pattern_name=f"Knee pain {index}",
                significance="high",
                last_seen_description="Regular for three weeks, then quiet.",
                last_mentioned_date=week_of - dt.timedelta(days=3),
                days_missing=9,
            )
        ],
        strategic_moves=[
            ExportMove(
                strategy=f"Move {index}.{n}: keep a two-line log after each headache",
                strategy_type="prevention",
                priority=9 - n,
                rationale="It came up more than usual.",
                completion_status="pending",
            )
            for n in range(5)
        ],
    )


def _story(
    index: int, text: str = "A steady week with a few afternoon headaches.", **kwargs: object
) -> ExportStory:
    defaults: dict[str, object] = {
        "title": f"Story title {index}",
        "subtitle": "Sunday to Saturday",
        "week_of": MONDAY + dt.timedelta(days=7 * index),
        "generated_date": MONDAY + dt.timedelta(days=7 * index),
        "story_text": text,
        "notes": [f"Personal note {index}"],
    }
    defaults.update(kwargs)
    return ExportStory.model_validate(defaults)


def _document(stories: list[ExportStory], week_count: int = 2, **kwargs: object) -> ExportDocument:
    chart_weeks = [MONDAY + dt.timedelta(days=7 * i) for i in range(max(week_count, 1))]
    values: dict[str, object] = {
        "display_name": "Maya Lindqvist",
        "period_start": MONDAY,
        "period_end": chart_weeks[-1] + dt.timedelta(days=6),
        "generated_at": dt.datetime(2026, 11, 28, 9, 30, tzinfo=dt.UTC),
        "stories": stories,
        "weeks": [_week(i) for i in range(week_count)],
        "chart_weeks": chart_weeks,
        "symptom_series": [
            SymptomSeries(
                symptom_name="Headache",
                counts=[i % 3 + 1 for i in range(len(chart_weeks))],
                avg_severity=[4.0] * len(chart_weeks),
            ),
        ],
    }
    values.update(kwargs)
    return ExportDocument.model_validate(values)


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_report_holds_every_section_story_and_insight_and_the_disclaimer() -> None:
    pdf = render_report_pdf(_document([_story(0), _story(1)]))
    text = _flat(_text(pdf))
    for section in (
        TITLE,
        "Health stories",
        "Analysis",
        "Symptoms over the period",
        "Key insights",
        "Health outlook",
        "Shadow patterns",
        "Strategic moves, by priority",
    ):
        assert section in text, section
    for story in ("Story title 0", "Story title 1", "Personal note 0"):
        assert story in text
    for week in range(2):
        for n, kind in enumerate(("warning", "positive", "neutral")):
            assert f"Insight {week}.{n} {kind}" in text
        assert f"Knee pain {week}" in text
    assert _flat(DISCLAIMER) in text
    assert "Maya Lindqvist" in text
    assert "Page 1 of" in text


def test_the_metadata_names_title_subject_and_creator() -> None:
    reader = pypdf.PdfReader(io.BytesIO(render_report_pdf(_document([_story(0)]))))
    meta = reader.metadata
    assert meta is not None
    assert meta.title == TITLE
    assert meta.creator == CREATOR
    assert meta.subject is not None and "Health stories and analysis" in meta.subject


def test_the_page_count_grows_with_the_stories() -> None:
    long_text = "A full paragraph about the week, with details of sleep and energy. " * 60
    few = _pages(render_report_pdf(_document([_story(i, long_text) for i in range(2)])))
    many = _pages(render_report_pdf(_document([_story(i, long_text) for i in range(12)])))
    assert many > few


@pytest.mark.parametrize(
    "hostile",
    [
        "<b>bold</b>",
        "&amp; &lt;",
        "</para>",
        "<font name='x'>",
        "a < b & c > d",
        "\x00\x07 control",
        '"quotes"',
    ],
)
def test_markup_in_text_prints_as_written(hostile: str) -> None:
    pdf = render_report_pdf(_document([_story(0, f"Before {hostile} after.", title=f"Title {hostile}")]))
    text = _flat(_text(pdf))
    printable = "".join(ch for ch in hostile if ch.isprintable())
    assert _flat(f"Before {printable} after.") in text


def test_accents_cjk_and_emoji_print_with_an_embedded_unicode_font() -> None:
    doc = _document(
        [_story(0, "温暖な一週間。 Good sleep 😀 and calm ☀", title="Zoë Łukasiewicz 温暖")],
        display_name="Zoë Łukasiewicz",
    )
    pdf = render_report_pdf(doc)
    text = _text(pdf)
    assert "Zoë Łukasiewicz" in text
    assert "温暖" in text
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    embedded = set()
    for page in reader.pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            obj = font.get_object()
            embedded.add(str(obj.get("/BaseFont")))
    assert any("ProximaSans" in name or "DejaVu" in name for name in embedded), embedded


def test_a_30000_character_story_wraps_and_splits_across_pages() -> None:
    sentence = "Every day this week I wrote down how my knee felt after the stairs. "
    story = (sentence * (30_000 // len(sentence) + 1))[:30_000]
    pdf = render_report_pdf(_document([_story(0, story)], week_count=1))
    assert _pages(pdf) >= 8
    assert _flat(_text(pdf)).count("how my knee felt") >= 400


def test_a_story_without_a_note_a_week_without_analysis_and_no_chart_data_render() -> None:
    doc = _document([_story(0, notes=[])], weeks=[ExportWeek(week_of=MONDAY)], symptom_series=[])
    text = _flat(_text(render_report_pdf(doc)))
    assert "No analysis was generated for this week." in text
    assert "Personal note" not in text
    assert "Symptoms over the period" not in text


def test_notes_and_analysis_can_be_left_out() -> None:
    doc = _document([_story(0)], include_notes=False, include_analysis=False)
    text = _flat(_text(render_report_pdf(doc)))
    assert "Personal note 0" not in text
    assert "Key insights" not in text
    assert "Story title 0" in text


def _dark_share(pgm: bytes) -> float:
    """Share of dark pixels in a binary PGM (P5) image."""
    header, rest = pgm.split(b"\n", 1)
    assert header == b"P5"
    size, rest = rest.split(b"\n", 1)
    width, height = (int(v) for v in size.split())
    _, pixels = rest.split(b"\n", 1)
    pixels = pixels[: width * height]
    return sum(1 for value in pixels if value < 160) / len(pixels)


def test_rendered_pages_are_not_blank(tmp_path: Path) -> None:
    pdf_path = tmp_path / "report.pdf"
    pdf_path.write_bytes(render_report_pdf(_document([_story(0), _story(1)])))
    subprocess.run(
        ["pdftoppm", "-gray", "-r", "40", "-f", "1", "-l", "4", str(pdf_path), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    pages = sorted(tmp_path.glob("page-*.pgm"))
    assert len(pages) == 4
    for page in pages:
        assert _dark_share(page.read_bytes()) > 0.004, page.name
