"""The PDF health report: something a clinician is glad to receive.

Guarantees:

* Any text the document model accepts renders, in any script (``worker.export.text``:
  per-character font fallback, shaping, bidirectional order, an exact text layer), and
  never as markup: no text is ever parsed by ReportLab.
* Nothing is too large for a page: paragraphs split between lines, table rows between
  the lines of their cells (``worker.export.flow``). Should rendering fail all the same,
  ``render_report_pdf`` raises ``RenderError``, a permanent job error that names the kind
  of failure and nothing of the content: the same document would fail again.
* Headings stay with the first lines of what follows them; a long first paragraph does
  not leave a near-blank page; the closing disclaimer shares its page with the end of
  the report. One date format throughout (``worker.report.short_date``: "2 Nov 2026").
* Every page carries a running header, "page X of Y" and a footer stating that the
  report is not a diagnosis; the PDF's metadata names title, subject and creator.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from reportlab import rl_config

# Attribute checking on graphics shapes is a development aid that costs time; it must be
# off before any graphics module is imported.
rl_config.shapeChecking = 0

from reportlab.lib import colors  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402
from reportlab.platypus import Flowable, PageBreak, SimpleDocTemplate, Spacer  # noqa: E402

from worker.errors import PermanentError  # noqa: E402
from worker.export.chart import SymptomChart  # noqa: E402
from worker.export.flow import Keep, KeepWithPrevious, Row, RowStyle  # noqa: E402
from worker.export.text import Text, TextStyle, draw_text, truncate  # noqa: E402
from worker.log import get_logger  # noqa: E402
from worker.report import ExportDocument, ExportStory, ExportWeek, date_span, short_date  # noqa: E402
from worker.timezones import UnknownTimeZone, load_zone  # noqa: E402

log = get_logger("worker.export.pdf")

TITLE = "Health Intelligence Report"
CREATOR = "Proxima Intelligence"
DISCLAIMER = (
    "This report describes patterns in what you logged. It is not a diagnosis and does not replace "
    "advice from a qualified clinician."
)
FOOTER = "Not a diagnosis: patterns in self-reported data, for discussion with a clinician."
NO_SYMPTOMS = "No symptoms were logged in the weeks this report covers."

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
ACCENT = colors.HexColor("#2f6f8f")
RULE = colors.HexColor("#cbd2d9")
NOTE = colors.HexColor("#f0f4f8")
_TYPE_COLOURS = {"warning": "#b54708", "positive": "#2d7a46", "neutral": "#52606d"}

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 20 * mm
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN_X


class RenderError(PermanentError):
    """The document could not be rendered; rendering it again would fail the same way."""


@dataclass(frozen=True)
class Styles:
    title: TextStyle
    subtitle: TextStyle
    h1: TextStyle
    h2: TextStyle
    h3: TextStyle
    body: TextStyle
    small: TextStyle
    note: TextStyle
    cell: TextStyle
    cell_title: TextStyle
    head: TextStyle
    label: TextStyle


@cache
def styles() -> Styles:
    return Styles(
        title=TextStyle(24, 30, bold=True, colour=INK, align="center", space_after=6),
        subtitle=TextStyle(13, 18, colour=MUTED, align="center"),
        h1=TextStyle(17, 22, bold=True, colour=ACCENT, space_before=6, space_after=8),
        h2=TextStyle(13, 17, bold=True, colour=INK, space_before=10, space_after=3),
        h3=TextStyle(10.5, 14, bold=True, colour=INK, space_before=8, space_after=3),
        body=TextStyle(10, 14, colour=INK, space_after=6),
        small=TextStyle(8.5, 11, colour=MUTED, space_after=4),
        note=TextStyle(
            10, 14, colour=INK, background=NOTE, padding=5, indent=6, space_before=4, space_after=8
        ),
        cell=TextStyle(9, 12, colour=INK),
        cell_title=TextStyle(9.5, 12.5, bold=True, colour=INK, space_after=2),
        head=TextStyle(8.5, 11, bold=True, colour=MUTED),
        label=TextStyle(9.5, 13, bold=True, colour=MUTED),
    )


def _text(text: str, style: TextStyle) -> Text:
    return Text(text, style)


_BLANK_LINE = re.compile(r"\n[ ]*\n")


def _paragraphs(text: str, style: TextStyle) -> list[Flowable]:
    """A long text as one Text per paragraph (blank lines separate paragraphs)."""
    texts = [part.strip("\n ") for part in _BLANK_LINE.split(text)]
    texts = [part for part in texts if part]
    return [_text(part, style) for part in texts] or [_text("(empty)", style)]


def _generated(doc: ExportDocument) -> str:
    try:
        local = doc.generated_at.astimezone(load_zone(doc.time_zone))
        zone = doc.time_zone
    except UnknownTimeZone:
        local, zone = doc.generated_at, "UTC"
    return f"{short_date(local.date())}, {local:%H:%M} ({zone})"


# -- tables ----------------------------------------------------------------------------------------

_HEAD_ROW = RowStyle(rule=ACCENT, rule_width=0.6, pad_top=2, pad_bottom=4)
_BODY_ROW = RowStyle(rule=RULE, rule_width=0.3)


def _table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[Sequence[Flowable]]], widths: Sequence[float]
) -> list[Flowable]:
    """A section heading, a header row and the rows, the first kept with the heading."""
    s = styles()
    head = Row([[_text(label, s.head)] for label in header], widths, _HEAD_ROW)
    body = [Row(cells, widths, _BODY_ROW) for cells in rows]
    if not body:
        return []
    return [Keep([_text(title, s.h3), head], body[0]), *body[1:]]


def _percent(value: int | None) -> str:
    return f"{value}%" if value is not None else "–"


def _week(week: ExportWeek) -> list[Flowable]:
    s = styles()
    if week.covers_start and week.covers_end:
        heading = f"Analysis of {date_span(week.covers_start, week.covers_end)}"
        covers = (
            f"This report covers {short_date(week.covers_start)} to {short_date(week.covers_end)}"
            f" ({week.time_zone or 'UTC'})."
        )
    else:
        heading = f"Analysis of the week before {short_date(week.week_of)}"
        covers = f"This report was made in the week starting {short_date(week.week_of)}."
    head: list[Flowable] = [_text(heading, s.h2), _text(covers, s.small)]
    if not (week.insights or week.predictions or week.shadow_patterns or week.strategic_moves):
        return [Keep(head, _text("No analysis was generated for this week.", s.small))]
    blocks: list[list[Flowable]] = []
    if week.insights:
        rows = []
        for insight in week.insights:
            colour = colors.HexColor(_TYPE_COLOURS.get(insight.insight_type or "", "#52606d"))
            rows.append(
                [
                    [_text(insight.title, s.cell_title), _text(insight.description, s.cell)],
                    [_text(insight.insight_type or "–", TextStyle(9, 12, colour=colour))],
                    [_text(_percent(insight.confidence), s.cell)],
                ]
            )
        blocks.append(
            _table("Key insights", ["Insight", "Type", "Confidence"], rows, [120 * mm, 25 * mm, 25 * mm])
        )
    if week.predictions:
        rows = []
        for prediction in week.predictions:
            detail: list[Flowable] = [_text(prediction.event_description, s.cell_title)]
            if prediction.reasoning:
                detail.append(_text(prediction.reasoning, s.cell))
            if prediction.preventable:
                detail.append(_text("Preventable: small changes may help.", s.small))
            rows.append(
                [
                    detail,
                    [_text(_percent(prediction.probability), s.cell)],
                    [_text(prediction.timeframe, s.cell)],
                ]
            )
        blocks.append(
            _table(
                "Health outlook",
                ["Prediction (a pattern, not a diagnosis)", "Probability", "Timeframe"],
                rows,
                [120 * mm, 25 * mm, 25 * mm],
            )
        )
    if week.shadow_patterns:
        rows = []
        for pattern in week.shadow_patterns:
            last = short_date(pattern.last_mentioned_date) if pattern.last_mentioned_date else "–"
            if pattern.days_missing is not None:
                last += f" ({pattern.days_missing} days)"
            rows.append(
                [
                    [_text(pattern.pattern_name, s.cell_title), _text(pattern.last_seen_description, s.cell)],
                    [_text(pattern.significance or "–", s.cell)],
                    [_text(last, s.cell)],
                ]
            )
        blocks.append(
            _table(
                "Shadow patterns",
                ["Pattern (regular before, quiet this week)", "Significance", "Last seen"],
                rows,
                [110 * mm, 25 * mm, 35 * mm],
            )
        )
    if week.findings:
        rows = [[[_text(finding, s.cell)]] for finding in week.findings]
        blocks.append(
            _table(
                "Patterns in your history",
                ["Tested against chance over up to twelve weeks; only what held up is shown"],
                rows,
                [170 * mm],
            )
        )
    if week.strategic_moves:
        rows = []
        for move in week.strategic_moves:  # in the document's order: priority first
            detail = [_text(move.strategy, s.cell_title)]
            if move.rationale:
                detail.append(_text(move.rationale, s.cell))
            rows.append(
                [
                    detail,
                    [_text(move.strategy_type or "–", s.cell)],
                    [_text(str(move.priority or "–"), s.cell)],
                ]
            )
        blocks.append(
            _table(
                "Strategic moves, by priority",
                ["Move", "Type", "Priority"],
                rows,
                [120 * mm, 30 * mm, 20 * mm],
            )
        )
    blocks = [block for block in blocks if block]
    first, *rest = blocks
    return [Keep(head, first[0]), *first[1:], *(item for block in rest for item in block)]


# -- the document -------------------------------------------------------------------------------------


def _title_page(doc: ExportDocument) -> list[Flowable]:
    s = styles()
    name = doc.display_name or "Personal report"
    period = date_span(doc.period_start, doc.period_end)
    facts = [
        ("Prepared for", name),
        ("Period covered", period),
        ("Stories", str(len(doc.stories))),
        ("Generated", _generated(doc)),
    ]
    rows: list[Flowable] = [
        Row([[_text(label, s.label)], [_text(value, s.cell)]], [45 * mm, 95 * mm], _BODY_ROW)
        for label, value in facts
    ]
    for row in rows:
        row.hAlign = "CENTER"
    return [
        Spacer(1, 50 * mm),
        _text(TITLE, s.title),
        _text(name, s.subtitle),
        _text(period, s.subtitle),
        Spacer(1, 16 * mm),
        *rows,
        Spacer(1, 24 * mm),
        _text(DISCLAIMER, s.small),
        PageBreak(),
    ]


def _story(story: ExportStory, include_notes: bool) -> list[Flowable]:
    s = styles()
    if story.covers_start and story.covers_end:
        when = date_span(story.covers_start, story.covers_end)
    else:
        when = f"Written {short_date(story.generated_date)}"
    head = [
        _text(story.title or "Untitled story", s.h2),
        _text(when + (f" · {story.subtitle}" if story.subtitle else ""), s.small),
    ]
    body = _paragraphs(story.story_text, s.body)
    flow: list[Flowable] = [Keep(head, body[0]), *body[1:]]
    if include_notes:
        flow += [_text(f"Personal note: {note}", s.note) for note in story.notes]
    return flow


def build_story(doc: ExportDocument) -> list[Flowable]:
    """The flowables of the whole report, in order."""
    s = styles()
    flow: list[Flowable] = _title_page(doc)
    stories = [item for story in doc.stories for item in _story(story, doc.include_notes)]
    heading = _text("Health stories", s.h1)
    flow += [Keep([heading], stories[0]), *stories[1:]] if stories else [heading]
    if doc.include_analysis:
        flow.append(PageBreak())
        head = [_text("Analysis", s.h1), _text("Symptoms over the period", s.h2)]
        if any(any(serie.counts) for serie in doc.symptom_series) and doc.chart_weeks:
            flow.append(Keep(head, SymptomChart(doc.chart_weeks, doc.symptom_series)))
        else:
            flow.append(Keep(head, _text(NO_SYMPTOMS, s.small)))
        for week in doc.weeks:
            flow += _week(week)
        if not doc.weeks:
            flow.append(_text("No analysis exists yet for the weeks covered.", s.small))
    closing = _text(DISCLAIMER, TextStyle(8.5, 11, colour=MUTED, space_before=14))
    last = flow.pop()
    flow.append(KeepWithPrevious(last, [closing]))
    return flow


class _NumberedCanvas(Canvas):
    """Draws the running header and "page X of Y" once the page count is known."""

    subject = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        page = self.getPageNumber()
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        if page > 1:
            draw_text(self, TITLE, MARGIN_X, PAGE_HEIGHT - 13 * mm, 8, colour=MUTED)
            draw_text(
                self,
                self.subject,
                PAGE_WIDTH - MARGIN_X,
                PAGE_HEIGHT - 13 * mm,
                8,
                colour=MUTED,
                anchor="end",
            )
            self.line(MARGIN_X, PAGE_HEIGHT - 15 * mm, PAGE_WIDTH - MARGIN_X, PAGE_HEIGHT - 15 * mm)
        self.line(MARGIN_X, 17 * mm, PAGE_WIDTH - MARGIN_X, 17 * mm)
        draw_text(self, FOOTER, MARGIN_X, 12 * mm, 7, colour=MUTED)
        draw_text(
            self, f"Page {page} of {total}", PAGE_WIDTH - MARGIN_X, 12 * mm, 7, colour=MUTED, anchor="end"
        )
        self.restoreState()


def _render(doc: ExportDocument) -> bytes:
    period = date_span(doc.period_start, doc.period_end)
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=22 * mm,
        bottomMargin=24 * mm,
        title=TITLE,
        author=truncate(doc.display_name or "", 8, 400),
        subject=f"Health stories and analysis, {period}",
        creator=CREATOR,
        producer=CREATOR,
        keywords="health report, not a diagnosis",
    )
    canvas_class = type("_Canvas", (_NumberedCanvas,), {"subject": period})
    template.build(build_story(doc), canvasmaker=canvas_class)
    return buffer.getvalue()


def render_report_pdf(doc: ExportDocument) -> bytes:
    """The whole report as PDF bytes; ``RenderError`` (permanent, content-free) if it cannot be made."""
    try:
        return _render(doc)
    except Exception as error:
        # ReportLab's messages quote the flowable's text: keep them out of errors and logs.
        raise RenderError(
            f"the PDF could not be rendered ({type(error).__name__}); the same document would fail again"
        ) from error
