"""The PDF report: every section, every script, hostile text, long content, a readable chart,
a layout without stranded headings or near-blank pages, and a render that never fails.

Rendering is the expensive part: most assertions read one of a few module-scoped renders.
Text is read back with pdftotext (poppler-utils), as a person copying it would get it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pypdf
import pytest
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus.doctemplate import LayoutError

import worker.export.pdf as pdf_module
from worker.errors import PermanentError, describe_error
from worker.export.chart import PALETTE, SymptomChart
from worker.export.document import story_days
from worker.export.pdf import (
    CREATOR,
    DISCLAIMER,
    FRAME_WIDTH,
    NO_SYMPTOMS,
    TITLE,
    RenderError,
    render_report_pdf,
)
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

PROJECT = Path(__file__).resolve().parents[2]
MONDAY = dt.date(2026, 11, 2)
GENERATED = dt.datetime(2027, 11, 28, 9, 30, tzinfo=dt.UTC)

# One line per script, each short enough for one printed line.
SCRIPTS = {
    "latin, greek, cyrillic": "Zoë Łukasiewicz, Γειά σου κόσμε, Привет мир",
    "chinese and japanese": "温暖な一週間でした。头痛减轻了。",
    "korean": "오늘 오후에 가벼운 두통이 있었어요",
    "arabic": "كان لدي صداع خفيف بعد الظهر",
    "hebrew": "היה לי כאב ראש קל אחרי הצהריים",
    "devanagari": "आज दोपहर के बाद हल्का सिरदर्द था",
    "thai": "วันนี้ปวดหัวเล็กน้อยหลังอาหารกลางวัน",
}
RTL = {"arabic", "hebrew"}
EMOJI = {"grinning face": "😀", "family (ZWJ)": "👨\u200d👩\u200d👧", "flag": "🇫🇷", "skin tone": "👍🏽"}
MIXED = "Mixed مرحبا and שלום with 温暖 and 한국어 and 😀 in one line"
ZALGO = "Z̷̢̛a̸̡l̴g̵o̶ t̷e̸x̵t"
MARKUP = ["<b>bold</b>", "&amp; &lt;", "</para>", "<font name='x'>", "a < b & c > d", '"quotes"']
CONTROLS = "Before\x00\x07\x80\x9f\ufffe\uffff\U0010ffff\u202e after"
CJK_CELL = ("睡眠不足时下午加重更明显症状" * 90)[:1200]
CJK_TITLE = CJK_CELL[:120]
LEGEND = ["Headache", "Кашель", "صداع", "두통", "頭痛", "Mixed נשימה Atem", "Knee pain"]
EARLIER_MONTH = re.compile(
    r"\b(January|February|March|April|June|July|August|September|October|November|December)\b"
)


# -- building documents ------------------------------------------------------------------------------


def _week(index: int, *, text: Callable[[str], str] = lambda s: s) -> ExportWeek:
    week_of = MONDAY + dt.timedelta(days=7 * (index + 1))
    return ExportWeek(
        week_of=week_of,
        covers_start=week_of - dt.timedelta(days=7),
        covers_end=week_of - dt.timedelta(days=1),
        time_zone="Europe/Stockholm",
        insights=[
            ExportInsight(
                insight_type=kind,
                title=text(f"Insight {index}.{n} {kind}"),
                description=text(f"Grounded observation number {n} for week {index}."),
                confidence=40 + n * 10,
            )
            for n, kind in enumerate(("warning", "positive", "neutral"))
        ],
        predictions=[
            ExportPrediction(
                event_description=text(f"Energy dips may follow long days (week {index}, {n})"),
                probability=55 + n,
                timeframe=text("Next 7 days"),
                preventable=True,
                reasoning=text("Afternoon fatigue followed the longest days."),
            )
            for n in range(2)
        ],
        shadow_patterns=[
            ExportShadowPattern(
                pattern_name=text(f"Knee pain {index}"),
                significance="high",
                last_seen_description=text("Regular for three weeks, then quiet."),
                last_mentioned_date=week_of - dt.timedelta(days=10),
                days_missing=9,
            )
        ],
        strategic_moves=[
            ExportMove(
                strategy=text(f"Move {index}.{n}: keep a two-line log after each headache"),
                strategy_type="prevention",
                priority=9 - n,
                rationale=text("It came up more than usual."),
                completion_status="pending",
            )
            for n in range(5)
        ],
    )


def _story(
    index: int, text: str = "A steady week with a few afternoon headaches.", **kwargs: object
) -> ExportStory:
    start = MONDAY + dt.timedelta(days=7 * index)
    values: dict[str, object] = {
        "title": f"Story title {index}",
        "subtitle": "Monday to Sunday",
        "week_of": start + dt.timedelta(days=7),
        "generated_date": start + dt.timedelta(days=7),
        "covers_start": start,
        "covers_end": start + dt.timedelta(days=6),
        "story_text": text,
        "notes": [f"Personal note {index}"],
    }
    values.update(kwargs)
    return ExportStory.model_validate(values)


def _series(weeks: int, names: list[str], *, other: int = 0) -> list[SymptomSeries]:
    series = [
        SymptomSeries(
            symptom_name=name,
            counts=[(i + n) % 4 for i in range(weeks)],
            avg_severity=[float(1 + (i * 3 + n) % 9) if (i + n) % 4 else None for i in range(weeks)],
        )
        for n, name in enumerate(names)
    ]
    if other:
        series.append(
            SymptomSeries(
                symptom_name="Other", counts=[2] * weeks, avg_severity=[4.0] * weeks, other_symptoms=other
            )
        )
    return series


def _document(stories: list[ExportStory], week_count: int = 2, **kwargs: object) -> ExportDocument:
    chart_weeks = [MONDAY + dt.timedelta(days=7 * i) for i in range(max(week_count, 1))]
    values: dict[str, object] = {
        "display_name": "Maya Lindqvist",
        "time_zone": "Europe/Stockholm",
        "period_start": MONDAY,
        "period_end": chart_weeks[-1] + dt.timedelta(days=6),
        "generated_at": GENERATED,
        "stories": stories,
        "weeks": [_week(i) for i in range(week_count)],
        "chart_weeks": chart_weeks,
        "symptom_series": _series(len(chart_weeks), ["Headache"]),
    }
    values.update(kwargs)
    return ExportDocument.model_validate(values)


# -- reading PDFs ------------------------------------------------------------------------------------


def pdftotext(pdf: bytes) -> list[str]:
    """The text of each page, as poppler extracts it (UTF-8, reading order)."""
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True, timeout=120
    ).stdout.decode("utf-8")
    return out.split("\f")[:-1] if out.endswith("\f") else out.split("\f")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _compact(text: str) -> str:
    """Without whitespace and the bidi marks pdftotext adds around right-to-left runs."""
    return "".join(ch for ch in text if not ch.isspace() and not "\u202a" <= ch <= "\u202e")


def _words(text: str) -> list[str]:
    """Letters and marks only, word by word (punctuation and digits aside)."""
    cleaned = "".join(ch if unicodedata.category(ch)[0] in "LM" else " " for ch in text)
    return cleaned.split()


def _fonts(pdf: bytes) -> set[str]:
    names = set()
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            names.add(str(font.get_object().get("/BaseFont")))
    return names


def _pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _body(page: str) -> str:
    """A page's text without the running header and footer."""
    lines = [line for line in page.splitlines() if line.strip()]
    keep = [
        line
        for line in lines
        if not line.startswith(("Health Intelligence Report", "Not a diagnosis:", "Page "))
        and not re.fullmatch(r"\d{1,2} \w{3} \d{4} – \d{1,2} \w{3} \d{4}", line.strip())
    ]
    return "\n".join(keep)


# -- the hostile document: one render, many assertions ----------------------------------------------------


LONG_TITLE = " ".join(f"Title{n}" for n in range(300))[:2000]
SENTENCE = "Every day this week I wrote down how my knee felt after the stairs. "
LONG_STORY = (SENTENCE * (20_000 // len(SENTENCE) + 1))[:20_000]
LONG_NOTE = "\n".join(f"Note line {n}: the knee again" for n in range(300))


@pytest.fixture(scope="module")
def hostile() -> tuple[bytes, list[str]]:
    stories = [_story(i, text, title=f"Script {name}") for i, (name, text) in enumerate(SCRIPTS.items())]
    stories += [
        _story(10, " ".join(f"{name}: {emoji}" for name, emoji in EMOJI.items()), title="Emoji"),
        _story(11, MIXED, title="Mixed"),
        _story(12, ZALGO, title="Zalgo"),
        _story(13, "\n\n".join(f"Before {m} after." for m in MARKUP), title="Markup <b>x</b>"),
        _story(14, CONTROLS, title="Controls"),
        _story(15, LONG_STORY, title=LONG_TITLE, notes=[LONG_NOTE]),
    ]
    cjk = _week(0, text=lambda s: CJK_CELL)
    cjk = cjk.model_copy(
        update={
            "insights": [i.model_copy(update={"title": CJK_TITLE}) for i in cjk.insights],
            "shadow_patterns": [
                p.model_copy(update={"pattern_name": CJK_TITLE}) for p in cjk.shadow_patterns
            ],
        }
    )
    weeks = 104
    chart_weeks = [MONDAY + dt.timedelta(days=7 * i) for i in range(weeks)]
    doc = _document(
        stories,
        display_name="Zoë Łukasiewicz 김민지",
        weeks=[cjk],
        chart_weeks=chart_weeks,
        period_end=chart_weeks[-1] + dt.timedelta(days=6),
        symptom_series=_series(weeks, LEGEND, other=8),
    )
    pdf = render_report_pdf(doc)
    return pdf, pdftotext(pdf)


@pytest.mark.parametrize("script", sorted(set(SCRIPTS) - RTL))
def test_each_left_to_right_script_extracts_exactly(hostile: tuple[bytes, list[str]], script: str) -> None:
    _, pages = hostile
    assert SCRIPTS[script] in "\n".join(pages)


@pytest.mark.parametrize("script", sorted(RTL))
def test_right_to_left_text_is_shaped_and_extracts_in_logical_order(
    hostile: tuple[bytes, list[str]], script: str
) -> None:
    _, pages = hostile
    lines = [_compact(line) for page in pages for line in page.splitlines()]
    assert _compact(SCRIPTS[script]) in lines, "the whole line, words in logical order"


def test_every_script_prints_in_a_face_that_has_it(hostile: tuple[bytes, list[str]]) -> None:
    pdf, _ = hostile
    fonts = " ".join(_fonts(pdf))
    for face in (
        "DejaVuSans",
        "NotoSansArabic",
        "NotoSansHebrew",
        "NotoSansDevanagari",
        "NotoSansThai",
        "NanumGothic",
        "DroidSansFallback",
        "Symbola",
    ):
        assert face in fonts, face


@pytest.mark.parametrize("name", sorted(EMOJI))
def test_emoji_extract_as_their_code_points(hostile: tuple[bytes, list[str]], name: str) -> None:
    _, pages = hostile
    assert f"{name}: {EMOJI[name]}" in "\n".join(pages)


def test_mixed_scripts_in_one_line_keep_every_word(hostile: tuple[bytes, list[str]]) -> None:
    _, pages = hostile
    line = next(line for page in pages for line in page.splitlines() if line.startswith("Mixed "))
    assert sorted(_words(line)) == sorted(_words(MIXED))
    assert "😀" in line


def test_zalgo_and_markup_print_as_written(hostile: tuple[bytes, list[str]]) -> None:
    _, pages = hostile
    text = "\n".join(pages)
    assert ZALGO in text
    for markup in MARKUP:
        assert f"Before {markup} after." in text, markup
    assert "Markup <b>x</b>" in text


def test_controls_and_noncharacters_are_removed(hostile: tuple[bytes, list[str]]) -> None:
    _, pages = hostile
    text = "\n".join(pages)
    assert "Before after" in text
    assert not re.search(
        "[\x00-\x08\x80-\x9f\ufffe\uffff\u202e]", text.replace("\u202b", "").replace("\u202c", "")
    )


def test_a_2000_character_title_20000_character_story_and_300_line_note_all_print(
    hostile: tuple[bytes, list[str]],
) -> None:
    pdf, pages = hostile
    flat = _flat("\n".join(_body(page) for page in pages))
    assert LONG_TITLE in flat
    assert flat.count("how my knee felt") == LONG_STORY.count("how my knee felt")
    assert "Note line 0: the knee again" in flat and "Note line 299: the knee again" in flat
    assert _pages(pdf) > 20


def test_1200_character_cjk_cells_in_every_table_split_across_pages(hostile: tuple[bytes, list[str]]) -> None:
    _, pages = hostile
    text = _compact("\n".join(_body(page) for page in pages))
    tables = ("Key insights", "Health outlook", "Shadow patterns", "Strategic moves, by priority")
    for table in tables:
        assert _compact(table) in text, table
    # Every character of: 3 insights (title, description), 2 predictions (event, reasoning,
    # timeframe), 1 pattern (name, description), 5 moves (strategy, rationale). Cells of one
    # row split side by side, so pdftotext may interleave their lines: count characters.
    cjk = set(CJK_CELL)
    printed = sum(1 for ch in text if ch in cjk)
    assert printed == (3 + 2 * 3 + 1 + 5 * 2) * len(CJK_CELL) + (3 + 1) * len(CJK_TITLE)
    assert text.count(CJK_CELL[:300]) >= 10, "long runs of a cell stay in order"


def test_the_chart_legend_names_every_series_in_any_script(hostile: tuple[bytes, list[str]]) -> None:
    _, pages = hostile
    chart_page = next(page for page in pages if "Entries per week" in page)
    lines = {_compact(line) for line in chart_page.splitlines()}
    joined = _compact(chart_page)
    for name in LEGEND:
        assert _compact(name) in joined or _compact(name) in lines, name
    assert "Other (8 symptoms)" in chart_page


def test_104_weeks_of_labels_are_thinned_to_fit(hostile: tuple[bytes, list[str]]) -> None:
    _, pages = hostile
    chart_page = next(page for page in pages if "Entries per week" in page)
    labels = re.findall(r"\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b", chart_page)
    per_axis = len(labels) / 2
    assert 6 <= per_axis <= 16, labels
    assert "Week starting" in chart_page and "Severity" in chart_page and "Entries" in chart_page


def test_one_date_format_throughout(hostile: tuple[bytes, list[str]]) -> None:
    _, pages = hostile
    text = "\n".join(pages)
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", text), "no ISO dates"
    assert not EARLIER_MONTH.search(text), "no month names in full"
    assert "2 Nov 2026 – 29 Oct 2028" in text, "the period covered"
    assert "28 Nov 2027, 10:30 (Europe/Stockholm)" in text, "generated, in the person's zone"


def test_words_wider_than_a_line_break_between_grapheme_clusters() -> None:
    latin = "x" * 3000
    thai = ("ปวดหัวเล็กน้อยหลังอาหาร" * 60)[:1200]
    doc = _document([_story(0, f"{latin}\n\n{thai}")], include_analysis=False)
    text = _compact("\n".join(_body(page) for page in pdftotext(render_report_pdf(doc))))
    assert latin in text
    assert thai in text


# -- the plain document -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain() -> bytes:
    return render_report_pdf(_document([_story(0), _story(1)]))


def test_the_report_holds_every_section_story_and_insight_and_the_disclaimer(plain: bytes) -> None:
    text = _flat("\n".join(pdftotext(plain)))
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
    assert "This report covers 2 Nov 2026 to 8 Nov 2026 (Europe/Stockholm)." in text
    assert _flat(DISCLAIMER) in text
    assert "Maya Lindqvist" in text
    assert "Page 1 of" in text


def test_the_metadata_names_title_subject_and_creator(plain: bytes) -> None:
    meta = pypdf.PdfReader(io.BytesIO(plain)).metadata
    assert meta is not None
    assert meta.title == TITLE
    assert meta.creator == CREATOR
    assert meta.subject == "Health stories and analysis, 2 Nov 2026 – 15 Nov 2026"


def test_pypdf_reads_the_text_layer_too(plain: bytes) -> None:
    text = " ".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(plain)).pages)
    assert "Story title 0" in text and "Key insights" in text


def test_rendered_pages_are_not_blank(plain: bytes, tmp_path: Path) -> None:
    pdf_path = tmp_path / "report.pdf"
    pdf_path.write_bytes(plain)
    subprocess.run(
        ["pdftoppm", "-gray", "-r", "40", str(pdf_path), str(tmp_path / "page")], check=True, timeout=60
    )
    pages = sorted(tmp_path.glob("page-*.pgm"))
    assert len(pages) == _pages(plain)
    for page in pages:
        assert _dark_share(page.read_bytes()) > 0.004, page.name


def _dark_share(pgm: bytes) -> float:
    """Share of dark pixels in a binary PGM (P5) image."""
    header, rest = pgm.split(b"\n", 1)
    assert header == b"P5"
    size, rest = rest.split(b"\n", 1)
    width, height = (int(v) for v in size.split())
    _, pixels = rest.split(b"\n", 1)
    pixels = pixels[: width * height]
    return sum(1 for value in pixels if value < 160) / len(pixels)


def test_zero_symptoms_print_a_note_instead_of_a_chart() -> None:
    doc = _document([_story(0, notes=[])], weeks=[ExportWeek(week_of=MONDAY)], symptom_series=[])
    text = _flat("\n".join(pdftotext(render_report_pdf(doc))))
    assert NO_SYMPTOMS in text
    assert "Entries per week" not in text
    assert "No analysis was generated for this week." in text
    assert "Personal note" not in text


def test_notes_and_analysis_can_be_left_out() -> None:
    doc = _document([_story(0)], include_notes=False, include_analysis=False)
    text = _flat("\n".join(pdftotext(render_report_pdf(doc))))
    assert "Personal note 0" not in text
    assert "Key insights" not in text
    assert "Story title 0" in text


# -- layout --------------------------------------------------------------------------------------------


def test_headings_stay_with_the_first_lines_of_what_follows() -> None:
    # Stories of many lengths put their titles at every height of a page.
    stories = [
        _story(
            i,
            " ".join(f"Para{i} line {n} of a story about sleep and knees." for n in range(3 + (i * 7) % 23)),
        )
        for i in range(24)
    ]
    pages = pdftotext(render_report_pdf(_document(stories, include_analysis=False)))
    for i in range(24):
        title_page = next(n for n, page in enumerate(pages) if f"Story title {i}\n" in page)
        assert f"Para{i} line 0 " in _flat(pages[title_page]), (
            f"story {i}'s title is alone at the foot of a page"
        )


def test_a_first_paragraph_longer_than_a_page_starts_on_the_page_of_its_title() -> None:
    long_paragraph = "A very long first paragraph about the week. " * 200
    stories = [_story(0), _story(1, long_paragraph)]
    pages = pdftotext(render_report_pdf(_document(stories, include_analysis=False)))
    title_page = next(n for n, page in enumerate(pages) if "Story title 1" in page)
    assert "A very long first paragraph" in pages[title_page]
    assert "Story title 0" in pages[title_page], "no near-blank page between the stories"


@pytest.mark.parametrize("lines", range(38, 58, 3))
def test_the_disclaimer_is_never_alone_on_the_last_page(lines: int) -> None:
    text = "\n\n".join(f"Paragraph {n} of the week." for n in range(lines))
    pages = pdftotext(render_report_pdf(_document([_story(0, text, notes=[])], include_analysis=False)))
    last = _flat(_body(pages[-1]))
    assert _flat(DISCLAIMER) in last
    assert last.replace(_flat(DISCLAIMER), "").strip(), "something of the report shares the disclaimer's page"


# -- the chart, drawn on a canvas that records -------------------------------------------------------------


class _Recorder(Canvas):  # type: ignore[misc]  # ReportLab ships no types
    def __init__(self) -> None:
        super().__init__(io.BytesIO())
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def circle(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("circle", args))
        super().circle(*args, **kwargs)

    def rect(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("rect", args))
        super().rect(*args, **kwargs)


def _draw(chart: SymptomChart) -> _Recorder:
    canvas = _Recorder()
    chart.wrapOn(canvas, FRAME_WIDTH, 800)
    chart.drawOn(canvas, 0, 0)
    return canvas


def test_a_one_week_severity_line_still_shows_its_marker() -> None:
    series = [SymptomSeries(symptom_name="Headache", counts=[3], avg_severity=[6.0])]
    canvas = _draw(SymptomChart([MONDAY], series))
    legend_and_point = [call for call in canvas.calls if call[0] == "circle"]
    assert len(legend_and_point) == 2, "one legend marker, one point"


def test_the_legend_wraps_within_the_page_and_series_have_distinct_colours() -> None:
    names = [f"A fairly long symptom name number {n}" for n in range(7)]
    chart = SymptomChart([MONDAY, MONDAY + dt.timedelta(days=7)], _series(2, names, other=8))
    chart.wrap(FRAME_WIDTH, 800)
    rows = chart._legend
    assert len(rows) > 1
    for row in rows:
        x, *_ = row[-1]
        assert x < FRAME_WIDTH
    colours = [entry[2] for row in rows for entry in row]
    assert len({c.hexval() for c in colours}) == 8
    assert colours[:7] == list(PALETTE[:7])


# -- failures ---------------------------------------------------------------------------------------------


def test_a_render_failure_is_permanent_and_names_no_content(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(doc: ExportDocument) -> list[Any]:
        raise LayoutError("Flowable <Paragraph 'I have a rash near my ear'> too large on page 3")

    monkeypatch.setattr(pdf_module, "build_story", broken)
    with pytest.raises(RenderError) as raised:
        render_report_pdf(_document([_story(0)]))
    assert isinstance(raised.value, PermanentError)
    message = describe_error(raised.value)
    assert "LayoutError" in message
    assert "rash" not in message


# -- the document model -----------------------------------------------------------------------------------


def test_the_document_model_cleans_text_for_every_rendering() -> None:
    story = _story(0, "A\x00b\x85c\u202ed\ufffe\r\ne\tf", title="T\x9fitle")
    assert story.story_text == "Ab\ncd\ne f"
    assert story.title == "Title"


def test_the_document_is_json_and_its_schema_is_published() -> None:
    doc = _document([_story(0)])
    assert ExportDocument.model_validate_json(doc.model_dump_json()) == doc
    published = json.loads((PROJECT / "docs" / "export-document.schema.json").read_text(encoding="utf-8"))
    assert published == ExportDocument.model_json_schema(), "regenerate: python -m worker.export.schema"


def test_a_story_covers_its_recorded_days_else_the_week_up_to_its_writing() -> None:
    written = dt.date(2026, 11, 9)
    assert story_days({"start": "2026-11-02", "end": "2026-11-08"}, written) == (
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 8),
    )
    assert story_days({"end": "2026-11-08"}, written) == (dt.date(2026, 11, 2), dt.date(2026, 11, 8))
    assert story_days({"start": "garbage"}, written) == (dt.date(2026, 11, 3), written)
    assert story_days(None, written) == (dt.date(2026, 11, 3), written)
    assert story_days({"start": "2026-11-02", "end": "2027-01-01"}, written)[1] == written, (
        "never after writing"
    )
