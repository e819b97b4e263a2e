"""The PDF health report: something a clinician is glad to receive.

Guarantees:

* Any text a person or a model wrote prints as written: every string is escaped before
  it reaches ReportLab's markup (``<``, ``&``, ``</para>`` are just characters), control
  characters are dropped, and long texts wrap and split across pages.
* A Unicode TrueType font is embedded (DejaVu Sans), with per-character fallback to a
  CJK font and a symbol font when installed, so "Zoë Łukasiewicz", "温暖" and most emoji
  print. Without DejaVu the report still renders in Helvetica and says so in the log.
* Every page carries a running header, page numbers and a footer stating that the
  report is not a diagnosis; the PDF's metadata names title, subject and creator.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab import rl_config

# Attribute checking on chart shapes is a development aid that costs a third of the
# chart's drawing time; it must be off before the graphics modules are imported.
rl_config.shapeChecking = 0

from reportlab.graphics.charts.barcharts import VerticalBarChart  # noqa: E402
from reportlab.graphics.charts.legends import Legend  # noqa: E402
from reportlab.graphics.charts.linecharts import HorizontalLineChart  # noqa: E402
from reportlab.graphics.shapes import Drawing, String  # noqa: E402
from reportlab.lib import colors  # noqa: E402
from reportlab.lib.enums import TA_CENTER  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import ParagraphStyle  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.pdfbase import pdfmetrics  # noqa: E402
from reportlab.pdfbase.ttfonts import TTFont  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402
from reportlab.platypus import (  # noqa: E402
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from worker.log import get_logger  # noqa: E402
from worker.report import ExportDocument, ExportStory, ExportWeek  # noqa: E402

log = get_logger("worker.export.pdf")

TITLE = "Health Intelligence Report"
CREATOR = "Proxima Intelligence"
DISCLAIMER = (
    "This report describes patterns in what you logged. It is not a diagnosis and does not replace "
    "advice from a qualified clinician."
)

_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
)
_FALLBACK_FONTS = (
    ("ProximaCJK", ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",)),
    ("ProximaSymbols", ("/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",)),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
ACCENT = colors.HexColor("#2f6f8f")
RULE = colors.HexColor("#cbd2d9")
SERIES_COLOURS = [
    colors.HexColor(c) for c in ("#2f6f8f", "#d9822b", "#5a9e6f", "#a05195", "#c23b22", "#7a7a7a")
]
_TYPE_COLOURS = {"warning": "#b54708", "positive": "#2d7a46", "neutral": "#52606d"}


@dataclass(frozen=True)
class Fonts:
    """The registered font names, and which fallbacks cover characters the main font lacks."""

    regular: str
    bold: str
    unicode: bool
    fallbacks: tuple[tuple[str, frozenset[int]], ...]
    main_coverage: frozenset[int]


def _find_font(filename: str) -> Path | None:
    for folder in _FONT_DIRS:
        path = folder / filename
        if path.exists():
            return path
    return None


def _coverage(font: TTFont) -> frozenset[int]:
    return frozenset(font.face.charToGlyph.keys())


@cache
def fonts() -> Fonts:
    """Register the fonts once per process (parsing a TrueType file is the slow part)."""
    regular, bold = _find_font("DejaVuSans.ttf"), _find_font("DejaVuSans-Bold.ttf")
    if regular is None:
        log.warning("DejaVu Sans not found; the PDF uses Helvetica and cannot print non-Latin text")
        return Fonts("Helvetica", "Helvetica-Bold", False, (), frozenset(range(256)))
    main = TTFont("ProximaSans", str(regular))
    pdfmetrics.registerFont(main)
    bold_name = "ProximaSans"
    if bold is not None:
        pdfmetrics.registerFont(TTFont("ProximaSans-Bold", str(bold)))
        bold_name = "ProximaSans-Bold"
    pdfmetrics.registerFontFamily("ProximaSans", normal="ProximaSans", bold=bold_name)
    fallbacks: list[tuple[str, frozenset[int]]] = []
    for name, candidates in _FALLBACK_FONTS:
        for candidate in candidates:
            if Path(candidate).exists():
                font = TTFont(name, candidate)
                pdfmetrics.registerFont(font)
                pdfmetrics.registerFontFamily(name, normal=name, bold=name)
                fallbacks.append((name, _coverage(font)))
                break
    # Line breaks and tabs are layout, not glyphs: count them as covered.
    return Fonts("ProximaSans", bold_name, True, tuple(fallbacks), _coverage(main) | {9, 10, 13, 32})


def clean(text: object) -> str:
    """Plain text safe for the PDF: normalised, control characters dropped."""
    value = unicodedata.normalize("NFC", "" if text is None else str(text))
    return _CONTROL.sub("", value)


def font_covering(text: str) -> str:
    """One font for a label that cannot mix fonts: the main one, else a fallback covering it all."""
    face = fonts()
    needed = {ord(ch) for ch in text if not ch.isspace()}
    if needed <= face.main_coverage:
        return face.regular
    for name, covered in face.fallbacks:
        if needed <= covered:
            return name
    return face.regular


def markup(text: object) -> str:
    """Escaped Paragraph markup for ``text``, with fallback fonts for uncovered characters."""
    value = clean(text)
    face = fonts()
    if not face.fallbacks or face.main_coverage.issuperset(map(ord, value)):
        return escape(value).replace("\n", "<br/>")
    out: list[str] = []
    run: list[str] = []
    run_font: str | None = None

    def flush() -> None:
        if not run:
            return
        chunk = escape("".join(run)).replace("\n", "<br/>")
        out.append(f'<font name="{run_font}">{chunk}</font>' if run_font else chunk)
        run.clear()

    for ch in value:
        code = ord(ch)
        font: str | None = None
        if code not in face.main_coverage and ch not in "\n\t ":
            font = next((name for name, covered in face.fallbacks if code in covered), None)
        if font != run_font:
            flush()
            run_font = font
        run.append(ch)
    flush()
    return "".join(out)


@dataclass(frozen=True)
class Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    h3: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    note: ParagraphStyle
    cell: ParagraphStyle


@cache
def styles() -> Styles:
    face = fonts()
    base = ParagraphStyle("body", fontName=face.regular, fontSize=10, leading=14, textColor=INK)
    return Styles(
        title=ParagraphStyle(
            "title", parent=base, fontName=face.bold, fontSize=26, leading=32, alignment=TA_CENTER
        ),
        subtitle=ParagraphStyle(
            "subtitle", parent=base, fontSize=13, leading=18, alignment=TA_CENTER, textColor=MUTED
        ),
        h1=ParagraphStyle(
            "h1",
            parent=base,
            fontName=face.bold,
            fontSize=17,
            leading=22,
            spaceBefore=6,
            spaceAfter=8,
            textColor=ACCENT,
        ),
        h2=ParagraphStyle(
            "h2", parent=base, fontName=face.bold, fontSize=13, leading=17, spaceBefore=10, spaceAfter=4
        ),
        h3=ParagraphStyle("h3", parent=base, fontName=face.bold, fontSize=10.5, leading=14, spaceBefore=6),
        body=ParagraphStyle("body2", parent=base, spaceAfter=6),
        small=ParagraphStyle("small", parent=base, fontSize=8.5, leading=11, textColor=MUTED),
        note=ParagraphStyle(
            "note",
            parent=base,
            leftIndent=10,
            borderPadding=(4, 6, 4, 6),
            backColor=colors.HexColor("#f0f4f8"),
            spaceBefore=4,
            spaceAfter=8,
        ),
        cell=ParagraphStyle("cell", parent=base, fontSize=9, leading=12),
    )


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(markup(text), style)


def _paragraphs(text: str, style: ParagraphStyle) -> list[Flowable]:
    """A long text as one Paragraph per paragraph, so it wraps and splits across pages."""
    parts = [part.strip() for part in re.split(r"\n\s*\n", clean(text)) if part.strip()]
    return [_p(part, style) for part in parts] or [_p("(empty)", style)]


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _title_page(doc: ExportDocument, s: Styles) -> list[Flowable]:
    name = doc.display_name or "Personal report"
    period = f"{_day(doc.period_start)} – {_day(doc.period_end)}"
    facts = [
        ["Prepared for", _p(name, s.cell)],
        ["Period covered", _p(period, s.cell)],
        ["Stories", _p(str(len(doc.stories)), s.cell)],
        ["Generated", _p(f"{doc.generated_at:%d %B %Y, %H:%M} UTC", s.cell)],
    ]
    table = Table(facts, colWidths=[45 * mm, 95 * mm], hAlign="CENTER")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (0, -1), fonts().bold),
                ("FONTSIZE", (0, 0), (-1, -1), 9.5),
                ("TEXTCOLOR", (0, 0), (0, -1), MUTED),
                ("LINEBELOW", (0, 0), (-1, -2), 0.4, RULE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return [
        Spacer(1, 55 * mm),
        _p(TITLE, s.title),
        Spacer(1, 4 * mm),
        _p(name, s.subtitle),
        _p(period, s.subtitle),
        Spacer(1, 18 * mm),
        table,
        Spacer(1, 30 * mm),
        _p(DISCLAIMER, s.small),
        PageBreak(),
    ]


def _story(story: ExportStory, include_notes: bool, s: Styles) -> list[Flowable]:
    head = [
        _p(story.title or "Untitled story", s.h2),
        _p(
            f"Week of {_day(story.week_of)}" + (f" · {story.subtitle}" if story.subtitle else ""),
            s.small,
        ),
        Spacer(1, 2 * mm),
    ]
    body = _paragraphs(story.story_text, s.body)
    flow: list[Flowable] = [CondPageBreak(40 * mm), KeepTogether([*head, body[0]]), *body[1:]]
    if include_notes:
        for note in story.notes:
            flow.append(_p(f"Personal note: {clean(note)}", s.note))
    flow.append(Spacer(1, 4 * mm))
    return flow


def _table(rows: list[list[Any]], widths: Sequence[float]) -> Table:
    table = Table(rows, colWidths=list(widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), fonts().bold),
                ("FONTSIZE", (0, 0), (-1, 0), 8.5),
                ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, ACCENT),
                ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    return table


def _percent(value: int | None) -> str:
    return f"{value}%" if value is not None else "–"


def _week(week: ExportWeek, s: Styles) -> list[Flowable]:
    flow: list[Flowable] = [CondPageBreak(50 * mm), _p(f"Week of {_day(week.week_of)}", s.h2)]
    if week.covers_start and week.covers_end:
        flow.append(
            _p(
                f"This report covers {_day(week.covers_start)} to {_day(week.covers_end)} ({week.time_zone}).",
                s.small,
            )
        )
    if not (week.insights or week.predictions or week.shadow_patterns or week.strategic_moves):
        return [*flow, _p("No analysis was generated for this week.", s.small)]
    if week.insights:
        rows: list[list[Any]] = [["Insight", "Type", "Confidence"]]
        for insight in week.insights:
            colour = _TYPE_COLOURS.get(insight.insight_type or "", "#52606d")
            rows.append(
                [
                    [_p(insight.title, s.h3), _p(insight.description, s.cell)],
                    Paragraph(f'<font color="{colour}">{markup(insight.insight_type or "–")}</font>', s.cell),
                    _p(_percent(insight.confidence), s.cell),
                ]
            )
        flow += [CondPageBreak(30 * mm), _p("Key insights", s.h3), _table(rows, [120 * mm, 25 * mm, 25 * mm])]
    if week.predictions:
        rows = [["Prediction (a pattern, not a diagnosis)", "Probability", "Timeframe"]]
        for prediction in week.predictions:
            detail = [_p(prediction.event_description, s.h3)]
            if prediction.reasoning:
                detail.append(_p(prediction.reasoning, s.cell))
            if prediction.preventable:
                detail.append(_p("Preventable: small changes may help.", s.small))
            rows.append(
                [detail, _p(_percent(prediction.probability), s.cell), _p(prediction.timeframe, s.cell)]
            )
        flow += [
            CondPageBreak(30 * mm),
            _p("Health outlook", s.h3),
            _table(rows, [120 * mm, 25 * mm, 25 * mm]),
        ]
    if week.shadow_patterns:
        rows = [["Pattern (regular before, quiet this week)", "Significance", "Last seen"]]
        for pattern in week.shadow_patterns:
            last = pattern.last_mentioned_date.isoformat() if pattern.last_mentioned_date else "–"
            if pattern.days_missing is not None:
                last += f" ({pattern.days_missing} days)"
            rows.append(
                [
                    [_p(pattern.pattern_name, s.h3), _p(pattern.last_seen_description, s.cell)],
                    _p(pattern.significance or "–", s.cell),
                    _p(last, s.cell),
                ]
            )
        flow += [
            CondPageBreak(30 * mm),
            _p("Shadow patterns", s.h3),
            _table(rows, [110 * mm, 25 * mm, 35 * mm]),
        ]
    if week.strategic_moves:
        rows = [["Move", "Type", "Priority"]]
        for move in sorted(week.strategic_moves, key=lambda m: -(m.priority or 0)):
            detail = [_p(move.strategy, s.h3)]
            if move.rationale:
                detail.append(_p(move.rationale, s.cell))
            rows.append(
                [detail, _p(move.strategy_type or "–", s.cell), _p(str(move.priority or "–"), s.cell)]
            )
        flow += [
            CondPageBreak(30 * mm),
            _p("Strategic moves, by priority", s.h3),
            _table(rows, [120 * mm, 30 * mm, 20 * mm]),
        ]
    return flow


def symptom_chart(doc: ExportDocument, width: float = 170 * mm) -> Drawing | None:
    """Weekly frequency (bars) and average severity (lines) of the most logged symptoms."""
    series = [serie for serie in doc.symptom_series if any(serie.counts)]
    if not series or not doc.chart_weeks:
        return None
    face = fonts()
    labels = [f"{w.day} {w:%b}" for w in doc.chart_weeks]
    names = [clean(serie.symptom_name)[:28] for serie in series]
    legend_font = font_covering("".join(names))
    height = 62 * mm
    drawing = Drawing(width, height * 2 + 24)
    drawing.add(String(0, height * 2 + 12, "Symptom frequency per week", fontName=face.bold, fontSize=9))
    bars = VerticalBarChart()
    bars.x, bars.y, bars.width, bars.height = 30, height + 30, width - 150, height - 40
    bars.data = [serie.counts for serie in series]
    bars.categoryAxis.categoryNames = labels
    bars.categoryAxis.labels.fontName = face.regular
    bars.categoryAxis.labels.fontSize = 7
    bars.categoryAxis.labels.angle = 30 if len(labels) > 8 else 0
    bars.categoryAxis.labels.boxAnchor = "ne" if len(labels) > 8 else "n"
    bars.valueAxis.valueMin = 0
    bars.valueAxis.labels.fontName = face.regular
    bars.valueAxis.labels.fontSize = 7
    bars.valueAxis.forceZero = True
    peak = max(max(serie.counts) for serie in series)
    bars.valueAxis.valueMax = max(peak, 1)
    bars.valueAxis.valueStep = max(1, -(-peak // 6))  # whole numbers: these are counts
    bars.groupSpacing = 6
    for index in range(len(series)):
        bars.bars[index].fillColor = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        bars.bars[index].strokeColor = None
    drawing.add(bars)

    drawing.add(String(0, height - 4, "Average severity (1–10)", fontName=face.bold, fontSize=9))
    lines = HorizontalLineChart()
    lines.x, lines.y, lines.width, lines.height = 30, 20, width - 150, height - 40
    lines.data = [[value if value is not None else None for value in serie.avg_severity] for serie in series]
    lines.categoryAxis.categoryNames = labels
    lines.categoryAxis.labels.fontName = face.regular
    lines.categoryAxis.labels.fontSize = 7
    lines.categoryAxis.labels.angle = bars.categoryAxis.labels.angle
    lines.categoryAxis.labels.boxAnchor = bars.categoryAxis.labels.boxAnchor
    lines.valueAxis.valueMin, lines.valueAxis.valueMax, lines.valueAxis.valueStep = 0, 10, 2
    lines.valueAxis.labels.fontName = face.regular
    lines.valueAxis.labels.fontSize = 7
    lines.joinedLines = True
    for index in range(len(series)):
        lines.lines[index].strokeColor = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        lines.lines[index].strokeWidth = 1.6
    drawing.add(lines)

    legend = Legend()
    legend.x, legend.y = width - 105, height * 2 - 10
    legend.fontName = legend_font
    legend.fontSize = 8
    legend.alignment = "right"
    legend.columnMaximum = 8
    legend.colorNamePairs = [(SERIES_COLOURS[i % len(SERIES_COLOURS)], name) for i, name in enumerate(names)]
    drawing.add(legend)
    return drawing


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
        face = fonts()
        width, height = A4
        page = self.getPageNumber()
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        if page > 1:
            self.setFont(face.regular, 8)
            self.setFillColor(MUTED)
            self.drawString(20 * mm, height - 13 * mm, TITLE)
            self.drawRightString(width - 20 * mm, height - 13 * mm, self.subject)
            self.line(20 * mm, height - 15 * mm, width - 20 * mm, height - 15 * mm)
        self.line(20 * mm, 17 * mm, width - 20 * mm, 17 * mm)
        self.setFont(face.regular, 7)
        self.setFillColor(MUTED)
        self.drawString(
            20 * mm,
            12 * mm,
            "Not a diagnosis: patterns in self-reported data, for discussion with a clinician.",
        )
        self.drawRightString(width - 20 * mm, 12 * mm, f"Page {page} of {total}")
        self.restoreState()


def render_report_pdf(doc: ExportDocument) -> bytes:
    """The whole report as PDF bytes."""
    s = styles()
    period = f"{doc.period_start:%d %b %Y} – {doc.period_end:%d %b %Y}"
    story: list[Flowable] = _title_page(doc, s)
    story.append(_p("Health stories", s.h1))
    for item in doc.stories:
        story += _story(item, doc.include_notes, s)
    if doc.include_analysis:
        story += [PageBreak(), _p("Analysis", s.h1)]
        chart = symptom_chart(doc)
        if chart is not None:
            story += [_p("Symptoms over the period", s.h2), chart, Spacer(1, 6 * mm)]
        for week in doc.weeks:
            story += _week(week, s)
        if not doc.weeks:
            story.append(_p("No analysis exists yet for the weeks covered.", s.small))
    story += [Spacer(1, 8 * mm), _p(DISCLAIMER, s.small)]

    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=22 * mm,
        bottomMargin=24 * mm,
        title=TITLE,
        author=clean(doc.display_name or ""),
        subject=f"Health stories and analysis, {period}",
        creator=CREATOR,
        producer=CREATOR,
        keywords="health report, not a diagnosis",
    )
    canvas_class = type("_Canvas", (_NumberedCanvas,), {"subject": period})
    template.build(story, canvasmaker=canvas_class)
    return buffer.getvalue()


def weeks_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """The Mondays from the week of ``start`` to the week of ``end``."""
    first = start - dt.timedelta(days=start.weekday())
    weeks = []
    while first <= end:
        weeks.append(first)
        first += dt.timedelta(days=7)
    return weeks
