"""PDF render: our report beside the product guide's minimal ReportLab report, in one run.

For 1, 12 and 52 stories with full analysis, the same ``ExportDocument`` is rendered by

* **ours**: ``worker.export.pdf.render_report_pdf`` (title page, every story with its note,
  the symptom chart, insight / prediction / shadow-pattern / strategic-move tables, running
  header, "page X of Y", per-character font fallback over the script faces of
  ``worker.export.fonts``, harfbuzz shaping and bidi ordering where text needs them);
* **guide**: ``guide_report_pdf`` below, a stand-in *modelled on* the product guide's
  ``generate_health_report_pdf`` (written from its description, not copied code).

Reported per size and renderer: median and p90 wall time over repeated warm renders
(ours and the guide's interleaved, alternating which goes first, after warm-up renders, with
an untimed ``gc.collect()`` before each), the median CPU time of the process over the same
renders (steadier than wall time on a shared machine), the time ratios ours / guide, the
peak of traced Python allocations during one
render (``tracemalloc``, in a separate pass because tracing slows rendering), the output
size and the page count (pypdf). Memory is called *flat* when the peak at 52 stories is
less than twice the peak at 1 story; the marginal peak per added story is printed too.

Also in the same run:

* the one-time costs, each in a fresh subprocess: ``fonts()`` (registering the main
  TrueType faces; the script faces load when a character first needs them), and the first
  render minus the median warm render for both renderers;
* the correctness gap: one story containing ``</para>``, ``<b>``, ``&``, emoji and CJK,
  rendered by both; the guide's raises (its type and first non-empty message line are
  printed), ours renders, and pypdf tells whether the CJK text can be extracted.

    .venv/bin/python bench/pdf_render.py --quick               # smoke run, under ~20 s
    .venv/bin/python bench/pdf_render.py --markdown            # as in BENCHMARKS.md
    .venv/bin/python bench/pdf_render.py --profile             # cProfile of one 12-story render

Progress goes to stderr; the tables go to stdout.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import logging
import math
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pypdf
import reportlab
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from worker.export.fonts import fonts  # noqa: E402
from worker.export.pdf import render_report_pdf  # noqa: E402
from worker.report import (  # noqa: E402
    ExportDocument,
    ExportInsight,
    ExportMove,
    ExportPrediction,
    ExportShadowPattern,
    ExportStory,
    ExportWeek,
    SymptomSeries,
)

Renderer = Callable[[ExportDocument], bytes]

SIZES = (1, 12, 52)
TARGET_RATIO = 3.0  # ours / guide at most this, and at most TARGET_RATIO_LARGE from 52 stories on
TARGET_RATIO_LARGE = 2.0
FLAT_LIMIT = 2.0  # peak(52 stories) / peak(1 story) below this counts as flat
GUIDE_MS = {1: 4.0, 12: 21.0, 52: 87.0}  # the figures for the guide on this kind of machine
MONDAY = dt.date(2026, 1, 5)
HOSTILE_STORY = (
    "Slept badly </para> then <b>better</b> by Thursday. Tom & Jerry kept me up 😀 ☀. "
    "温暖な一週間でした。Zoë Łukasiewicz came round on Sunday."
)


# -- the guide's minimal report ---------------------------------------------------------------


def guide_report_pdf(doc: ExportDocument) -> bytes:
    """Modelled on the product guide's ``generate_health_report_pdf`` (not its code).

    ``SimpleDocTemplate`` on a BytesIO (A4, ReportLab's defaults otherwise), the sample
    stylesheet (Helvetica), a title, then per story: its title as a heading, its text as
    ONE Paragraph built by string formatting without escaping (the guide's flaw: ``</para>``
    breaks the parser, and Helvetica has no glyphs for emoji or CJK), then the insights
    (title + description) and predictions (event + probability + timeframe) of its week.
    No chart, no tables, no header or footer, no page numbers, no notes.
    """
    buffer = io.BytesIO()
    template = SimpleDocTemplate(buffer, pagesize=A4)
    styles = getSampleStyleSheet()
    weeks = {week.week_of: week for week in doc.weeks}
    story: list[Flowable] = [Paragraph("Health Intelligence Report", styles["Title"]), Spacer(1, 12)]
    for item in doc.stories:
        story.append(Paragraph(f"{item.title}", styles["Heading2"]))
        story.append(Paragraph(f"{item.story_text}", styles["BodyText"]))
        week = weeks.get(item.week_of)
        if week is not None:
            story.append(Paragraph("Key Insights", styles["Heading3"]))
            for insight in week.insights:
                story.append(Paragraph(f"<b>{insight.title}</b>: {insight.description}", styles["BodyText"]))
            story.append(Paragraph("Predictions", styles["Heading3"]))
            for prediction in week.predictions:
                story.append(
                    Paragraph(
                        f"{prediction.event_description} - {prediction.probability}% "
                        f"({prediction.timeframe})",
                        styles["BodyText"],
                    )
                )
        story.append(Spacer(1, 12))
    template.build(story)
    return buffer.getvalue()


RENDERERS: dict[str, Renderer] = {"ours": render_report_pdf, "guide": guide_report_pdf}


# -- the data -----------------------------------------------------------------------------------

_OPENINGS = (
    "The week started slowly, with a heavy head on Monday morning and a long commute.",
    "Monday felt better than the weekend, although the first hours at work were foggy.",
    "I woke before the alarm most days this week and felt rested by mid-morning.",
    "This was a busy week at work, with two deadlines and little time outside.",
    "After a quiet weekend the week began with good energy and a clear head.",
)
_SENTENCES = (
    "On Tuesday the headache came back in the early afternoon, just after a late lunch.",
    "I drank more water than usual and the afternoon slump was shorter.",
    "Sleep was broken on Wednesday night; I woke twice and lay awake for an hour.",
    "My left knee ached after climbing the stairs at the station, then eased by the evening.",
    "A walk at lunchtime seemed to help with the stiffness in my lower back.",
    "I skipped coffee after two o'clock and fell asleep faster on three nights out of four.",
    "Energy dipped on Thursday after a long meeting without a break.",
    "Friday was calm: no headache, a short run in the park, and an early night.",
    "The weekend brought a mild sore throat that cleared up by Sunday evening.",
    "I noticed the headaches were milder on the days I ate breakfast before leaving.",
    "Stress was higher mid-week, and my shoulders felt tight while working at the laptop.",
    "Cycling to work twice this week left me tired but in a good mood.",
    "On Saturday I slept nine hours and felt groggy rather than rested.",
    "My appetite was normal, although I snacked more in the late evening.",
    "Screen time before bed was lower this week, and I read a book instead.",
    "A friend's visit on Sunday meant a late night, but I did not feel worse on Monday.",
    "The pain scale I use stayed between three and five for most of the week.",
    "I kept the two-line log after each headache, which made patterns easier to spot.",
    "Stretching in the morning made the knee feel looser on the stairs.",
    "Rain kept me indoors for most of the week, and I moved less than I would like.",
)
_CLOSINGS = (
    "Overall it was a steady week, and I want to keep the morning routine going.",
    "Next week I plan to take a real lunch break every day and see what changes.",
    "I will mention the knee to my physiotherapist at the next appointment.",
    "All in all, better than last week, with fewer bad afternoons.",
)
_SYMPTOMS = ("Headache", "Fatigue", "Knee pain", "Lower back pain", "Poor sleep", "Sore throat")


def story_text(index: int) -> str:
    """Deterministic plain English, 1,500 to 2,500 characters, in paragraphs of 3-4 sentences."""
    rng = random.Random(1000 + index)
    target = rng.randint(1550, 2400)
    sentences = [rng.choice(_OPENINGS)]
    pool = list(_SENTENCES)
    rng.shuffle(pool)
    closing = rng.choice(_CLOSINGS)
    while sum(len(s) + 1 for s in sentences) + len(closing) < target:
        if not pool:
            pool = list(_SENTENCES)
            rng.shuffle(pool)
        sentences.append(pool.pop())
    sentences.append(closing)
    paragraphs: list[str] = []
    while sentences:
        size = rng.randint(3, 4)
        paragraphs.append(" ".join(sentences[:size]))
        sentences = sentences[size:]
    return "\n\n".join(paragraphs)


def make_week(index: int) -> ExportWeek:
    week_of = MONDAY + dt.timedelta(days=7 * index)
    rng = random.Random(2000 + index)
    kinds = ("warning", "positive", "neutral", "positive")
    return ExportWeek(
        week_of=week_of,
        insights=[
            ExportInsight(
                insight_type=kind,
                title=f"{rng.choice(_SYMPTOMS)} followed the longest working days",
                description=(
                    f"On {rng.randint(2, 5)} of the 7 days the entries mention it within a few hours of a "
                    "long stretch without a break; on the calmer days it was absent or milder. "
                    "The pattern held in the previous two weeks as well."
                ),
                confidence=rng.randint(45, 90),
            )
            for kind in kinds
        ],
        predictions=[
            ExportPrediction(
                event_description=(
                    f"{rng.choice(_SYMPTOMS)} may return after the next run of late nights "
                    f"(prediction {n + 1} for the week)"
                ),
                probability=rng.randint(30, 80),
                timeframe=rng.choice(("Next 7 days", "Next 2 weeks", "This weekend")),
                preventable=n != 2,
                reasoning=(
                    "In the last five weeks it came up mostly after two or more short nights in a row, "
                    "and rarely after a full night's sleep."
                ),
            )
            for n in range(3)
        ],
        shadow_patterns=[
            ExportShadowPattern(
                pattern_name=f"{_SYMPTOMS[(index + n) % len(_SYMPTOMS)]} in the evenings",
                significance=("high", "medium")[n],
                last_seen_description="Logged on most evenings for three weeks, then not at all this week.",
                last_mentioned_date=week_of - dt.timedelta(days=3 + n),
                days_missing=9 + n,
            )
            for n in range(2)
        ],
        strategic_moves=[
            ExportMove(
                strategy=f"Move {n + 1}: keep a two-line log after each {rng.choice(_SYMPTOMS).lower()}",
                strategy_type=("discovery", "pattern", "prevention", "optimization", "prevention")[n],
                priority=9 - n,
                rationale="It came up more than usual this week, and a short log makes the timing clear.",
                completion_status="pending",
            )
            for n in range(5)
        ],
    )


def make_document(count: int, text: Callable[[int], str] = story_text) -> ExportDocument:
    """``count`` stories, one analysed week each, a 6-symptom chart over the covered weeks."""
    weeks = [MONDAY + dt.timedelta(days=7 * i) for i in range(count)]
    rng = random.Random(3000 + count)
    series = []
    for name in _SYMPTOMS:
        counts = [rng.randint(0, 6) for _ in weeks]
        severity = [round(rng.uniform(2, 8), 1) if c else None for c in counts]
        if not any(counts):
            counts[0], severity[0] = 1, 3.0
        series.append(SymptomSeries(symptom_name=name, counts=counts, avg_severity=severity))
    return ExportDocument(
        display_name="Maya Lindqvist",
        period_start=weeks[0],
        period_end=weeks[-1] + dt.timedelta(days=6),
        generated_at=dt.datetime(2026, 12, 28, 9, 30, tzinfo=dt.UTC),
        stories=[
            ExportStory(
                title=f"Week {i + 1}: {_SYMPTOMS[i % len(_SYMPTOMS)].lower()} and a busy schedule",
                subtitle="Monday to Sunday",
                week_of=weeks[i],
                generated_date=weeks[i] + dt.timedelta(days=7),
                story_text=text(i),
                notes=[f"Remember to ask about the {_SYMPTOMS[(i + 2) % len(_SYMPTOMS)].lower()}."],
            )
            for i in range(count)
        ],
        weeks=[make_week(i) for i in range(count)],
        chart_weeks=weeks,
        symptom_series=series,
    )


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Result:
    renderer: str
    stories: int
    times: list[float]
    cpu: list[float]
    peak: int
    size: int
    pages: int

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def p90(self) -> float:
        ordered = sorted(self.times)
        return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def stories(count: int) -> str:
    return f"{count} {'story' if count == 1 else 'stories'}"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(render: Renderer, doc: ExportDocument) -> tuple[float, float, bytes]:
    """Wall and CPU seconds of one render (a garbage collection first, untimed)."""
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    pdf = render(doc)
    return time.perf_counter() - start, time.process_time() - cpu, pdf


def traced_peak(render: Renderer, doc: ExportDocument) -> int:
    """Peak traced Python allocations during one render (the input document already exists)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        render(doc)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


def pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def measure(count: int, reps: int, warmup: int, budget: float) -> list[Result]:
    """Both renderers on the same document, interleaved, then a tracemalloc pass each."""
    doc = make_document(count)
    times: dict[str, list[float]] = {name: [] for name in RENDERERS}
    cpu: dict[str, list[float]] = {name: [] for name in RENDERERS}
    output: dict[str, bytes] = {}
    for name, render in RENDERERS.items():
        for _ in range(warmup):
            output[name] = render(doc)
    started = time.perf_counter()
    for rep in range(reps):
        order = list(RENDERERS.items())
        for name, render in order if rep % 2 == 0 else reversed(order):
            elapsed, used, output[name] = timed(render, doc)
            times[name].append(elapsed)
            cpu[name].append(used)
        if time.perf_counter() - started > budget and rep >= 2:
            progress(f"  {stories(count)}: time budget reached after {rep + 1} repetitions")
            break
    results = []
    for name, render in RENDERERS.items():
        results.append(
            Result(
                name,
                count,
                times[name],
                cpu[name],
                traced_peak(render, doc),
                len(output[name]),
                pages(output[name]),
            )
        )
    return results


def cold(kind: str) -> dict[str, float]:
    """Run in a fresh process: one-time costs of the first render (and of ``fonts()``)."""
    doc = make_document(1)
    out: dict[str, float] = {}
    if kind == "ours":
        start = time.perf_counter()
        fonts()
        out["fonts"] = time.perf_counter() - start
    render = RENDERERS[kind]
    start = time.perf_counter()
    render(doc)
    out["first"] = time.perf_counter() - start
    out["warm"] = statistics.median(timed(render, doc)[0] for _ in range(7))
    return out


def cold_in_subprocess(kind: str) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--cold", kind],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    values = json.loads(completed.stdout.strip().splitlines()[-1])
    return {str(key): float(value) for key, value in values.items()}


@dataclass
class Correctness:
    guide_error: str | None
    guide_pages: int | None
    ours_pages: int | None
    ours_error: str | None
    checks: dict[str, bool]
    pypdf_warnings: list[str]
    guide_plain_checks: dict[str, bool]
    guide_missing_glyphs: int


def first_line(error: BaseException, limit: int = 140) -> str:
    """The exception's type and its first non-empty message line, shortened."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    line = lines[0] if lines else "(empty message)"
    return f"{type(error).__name__}: {line[:limit]}{'...' if len(line) > limit else ''}"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def correctness() -> Correctness:
    """One hostile story through both renderers, and the guide's on the same text without markup."""
    doc = make_document(1, text=lambda _: HOSTILE_STORY)
    guide_error = guide_pages = ours_error = ours_pages = None
    try:
        guide_pages = pages(guide_report_pdf(doc))
    except Exception as error:
        guide_error = first_line(error)
    checks: dict[str, bool] = {}
    collect = _Collect()
    pypdf_log = logging.getLogger("pypdf")
    pypdf_log.addHandler(collect)
    pypdf_log.propagate = False
    try:
        pdf = render_report_pdf(doc)
        ours_pages = pages(pdf)
        text = " ".join(pdf_text(pdf).split())
        chain = fonts().regular
        checks = {
            "'</para>' printed": "</para>" in text,
            "'<b>better</b>' printed": "<b>better</b>" in text,
            "'Tom & Jerry' printed": "Tom & Jerry" in text,
            # A line may break between Chinese or Japanese characters: compare without spaces.
            "CJK '温暖な一週間' extractable": "温暖な一週間" in "".join(text.split()),
            "emoji '😀' has a glyph in the embedded fonts": chain.face_for(ord("😀")) is not None,
            "emoji '😀' extractable": "😀" in text,
            "'Łukasiewicz' extractable": "Łukasiewicz" in text,
        }
    except Exception as error:
        ours_error = first_line(error)
    finally:
        pypdf_log.removeHandler(collect)
        pypdf_log.propagate = True
    # Without the markup the guide renders, but Helvetica has no glyph for these characters.
    plain = make_document(
        1, text=lambda _: "Tom and Jerry kept me up 😀 ☀. 温暖な一週間でした。Zoë Łukasiewicz."
    )
    plain_text = " ".join(pdf_text(guide_report_pdf(plain)).split())
    guide_plain = {
        "CJK '温暖な一週間' extractable": "温暖な一週間" in plain_text,
        "emoji '😀' extractable": "😀" in plain_text,
        "'Łukasiewicz' extractable": "Łukasiewicz" in plain_text,
    }
    return Correctness(
        guide_error,
        guide_pages,
        ours_pages,
        ours_error,
        checks,
        sorted(set(collect.messages)),
        guide_plain,
        plain_text.count("\u25a0"),
    )


# Where the time goes: (label, module path suffix, function name); cumulative times overlap.
_PROFILE_GROUPS = (
    ("text itemising (itemise: fonts, bidi, pieces)", "export/text.py", "itemise"),
    ("  of which harfbuzz shaping (shape)", "export/text.py", "shape"),
    ("line breaking (break_lines)", "export/text.py", "break_lines"),
    ("text drawing (draw_lines)", "export/text.py", "draw_lines"),
    ("  of which ReportLab subset encoding (splitString)", "pdfbase/ttfonts.py", "splitString"),
    ("table rows (Row.wrap / Row.draw)", "export/flow.py", "wrap"),
    ("chart drawing (SymptomChart.draw)", "export/chart.py", "draw"),
    ("string widths (rl_accel, C)", "~", "<built-in method _rl_accel.instanceStringWidthTTF>"),
    ("_NumberedCanvas.save: replay pages, decorate, serialise", "export/pdf.py", "save"),
    ("  of which header and footer (_decorate)", "export/pdf.py", "_decorate"),
    ("  of which PDF serialisation (SaveToFile)", "pdfbase/pdfdoc.py", "SaveToFile"),
    ("TrueType subsetting (makeSubset)", "pdfbase/ttfonts.py", "makeSubset"),
)


def profile(count: int, top: int) -> None:
    """cProfile of warm renders of ours: a grouped summary, then the top functions."""
    doc = make_document(count)
    render_report_pdf(doc)
    render_report_pdf(doc)
    runs = 3
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        render_report_pdf(doc)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total: float = stats.total_tt  # type: ignore[attr-defined]
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = stats.stats  # type: ignore[attr-defined]
    print(f"### {count}-story render of ours under cProfile: {total / runs * 1000:,.0f} ms a render\n")
    print("Cumulative time of selected functions (nested, so the shares overlap):\n")
    for label, path, name in _PROFILE_GROUPS:
        spent = sum(
            entry[3] for (file, _, func), entry in raw.items() if func == name and file.endswith(path)
        )
        print(f"  {spent / runs * 1000:8.1f} ms  {100 * spent / total:5.1f}%  {label}")
    for key in ("tottime", "cumulative"):
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(key).print_stats(top)
        print(f"\n### {runs} renders of {count} stories, by {key}\n")
        print(buffer.getvalue())


# -- reporting ----------------------------------------------------------------------------------


def table(rows: Sequence[Sequence[str]], markdown: bool) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    if markdown:
        lines = [
            "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
            for row in rows
        ]
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(lines)
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def kib(value: float) -> str:
    return f"{value / 1024:,.0f}"


def report(
    results: list[Result],
    cold_ours: dict[str, float],
    cold_guide: dict[str, float],
    check: Correctness,
    markdown: bool,
) -> str:
    by = {(r.renderer, r.stories): r for r in results}
    sizes = sorted({r.stories for r in results})
    header = [
        "stories",
        "renderer",
        "reps",
        "median ms",
        "p90 ms",
        "CPU median ms",
        "ours/guide",
        "ours/guide CPU",
        "peak MiB",
        "peak/story KiB",
        "pages",
        "PDF KiB",
    ]
    rows = [header]
    for count in sizes:
        ratio = by["ours", count].median / by["guide", count].median
        cpu_ratio = by["ours", count].cpu_median / by["guide", count].cpu_median
        for name in RENDERERS:
            r = by[name, count]
            rows.append(
                [
                    str(count),
                    name,
                    str(len(r.times)),
                    f"{r.median * 1000:,.1f}",
                    f"{r.p90 * 1000:,.1f}",
                    f"{r.cpu_median * 1000:,.1f}",
                    f"{ratio:.1f}×" if name == "ours" else "",
                    f"{cpu_ratio:.1f}×" if name == "ours" else "",
                    f"{r.peak / 2**20:.1f}",
                    kib(r.peak / count),
                    str(r.pages),
                    kib(r.size),
                ]
            )
    out = [table(rows, markdown), ""]
    bullet = "- " if markdown else "  "

    out.append("Time, ours / guide (median wall; CPU in brackets), target at most 3× (2× from 52 stories):")
    for count in sizes:
        ours, guide = by["ours", count], by["guide", count]
        ratio = ours.median / guide.median
        target = TARGET_RATIO_LARGE if count >= 52 else TARGET_RATIO
        verdict = f"meets the {target:g}×" if ratio <= target else f"misses the {target:g}×"
        quoted = f"~{GUIDE_MS[count]:.0f} ms" if count in GUIDE_MS else "no figure"
        out.append(
            f"{bullet}{stories(count)}: {ratio:.1f}× ({ours.cpu_median / guide.cpu_median:.1f}× CPU): "
            f"{ours.median * 1000:,.0f} ms vs {guide.median * 1000:,.0f} ms "
            f"(the issue quotes {quoted} for the guide) - {verdict} target"
        )
    out.append("")
    low, high = sizes[0], sizes[-1]
    out.append(
        f"Memory (tracemalloc peak per render; flat = peak at {high} stories < {FLAT_LIMIT:.0f}× the peak "
        f"at {low}):"
    )
    for name in RENDERERS:
        first, last = by[name, low], by[name, high]
        growth = last.peak / first.peak
        marginal = (last.peak - first.peak) / (high - low) if high > low else 0.0
        verdict = "flat" if growth < FLAT_LIMIT else "not flat, grows with the stories"
        out.append(
            f"{bullet}{name}: {first.peak / 2**20:.1f} MiB at {low} -> {last.peak / 2**20:.1f} MiB at {high} "
            f"({growth:.1f}×, ~{kib(marginal)} KiB per added story; output grows "
            f"~{kib((last.size - first.size) / max(high - low, 1))} KiB per story) - {verdict}"
        )
    out.append("")
    out.append("One-time costs (fresh subprocess each; first render of 1 story minus the warm median):")
    out.append(
        f"{bullet}ours: fonts() registration {cold_ours['fonts'] * 1000:,.0f} ms, done before the render"
    )
    out.append(
        f"{bullet}ours: first render after fonts() {cold_ours['first'] * 1000:,.0f} ms vs warm "
        f"{cold_ours['warm'] * 1000:,.0f} ms (other lazy set-up "
        f"{(cold_ours['first'] - cold_ours['warm']) * 1000:,.0f} ms); total first-render penalty "
        f"{(cold_ours['fonts'] + cold_ours['first'] - cold_ours['warm']) * 1000:,.0f} ms"
    )
    out.append(
        f"{bullet}guide: first render {cold_guide['first'] * 1000:,.0f} ms vs warm "
        f"{cold_guide['warm'] * 1000:,.0f} ms (penalty {(cold_guide['first'] - cold_guide['warm']) * 1000:,.0f} ms)"
    )
    out.append("")
    out.append(f"Correctness, one story: {HOSTILE_STORY!r}")
    if check.guide_error:
        out.append(f"{bullet}guide: raises {check.guide_error}")
    else:
        out.append(f"{bullet}guide: rendered {check.guide_pages} page(s)")
    if check.ours_error:
        out.append(f"{bullet}ours: raises {check.ours_error}")
    else:
        passed = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in check.checks.items())
        out.append(f"{bullet}ours: rendered {check.ours_pages} pages; {passed}")
        if check.pypdf_warnings:
            out.append(f"{bullet}ours: pypdf warned while extracting: {'; '.join(check.pypdf_warnings)}")
    passed = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in check.guide_plain_checks.items())
    out.append(
        f"{bullet}guide, same text without the markup characters: renders, with "
        f"{check.guide_missing_glyphs} missing-glyph boxes (U+25A0) in the extracted text; {passed}"
    )
    return "\n".join(out)


def machine() -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"nproc {os.cpu_count()}, Python {platform.python_version()}, ReportLab {reportlab.Version}, "
        f"pypdf {pypdf.__version__}, {platform.platform()}, load average {load}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run with few repetitions")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of one warm 12-story render of ours and exit"
    )
    parser.add_argument("--top", type=int, default=30, help="rows of the profile (default 30)")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        help="story counts (default 1 12 52; with --quick 1 12)",
    )
    parser.add_argument("--cold", choices=sorted(RENDERERS), help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cold:
        print(json.dumps(cold(args.cold)))
        return 0
    if args.profile:
        profile(12, args.top)
        return 0
    sizes = args.sizes or ((1, 12) if args.quick else SIZES)
    if any(count < 1 for count in sizes):
        raise SystemExit("--sizes: story counts must be at least 1")
    # (timed repetitions, warm-up renders) per size; a time budget per size bounds the run.
    if args.quick:
        plan = {count: (3 if count < 12 else 2, 1) for count in sizes}
        budget = 3.0
    else:
        plan = {count: (15 if count <= 12 else 7, 3 if count == 1 else 2) for count in sizes}
        budget = 60.0
    started = time.perf_counter()
    progress(f"machine: {machine()}")
    progress("one-time costs in fresh subprocesses...")
    cold_ours = cold_in_subprocess("ours")
    cold_guide = cold_in_subprocess("guide")
    fonts()
    results: list[Result] = []
    for count in sorted(sizes):
        reps, warmup = plan[count]
        progress(f"{stories(count)}: {warmup} warm-up + {reps} timed renders each, then tracemalloc...")
        results += measure(count, reps, warmup, budget)
    progress("correctness...")
    check = correctness()
    print(f"PDF render, {dt.date.today().isoformat()}, {machine()}")
    print(f"mode: {'quick' if args.quick else 'full'}; total {time.perf_counter() - started:.1f} s")
    print()
    print(report(results, cold_ours, cold_guide, check, args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
