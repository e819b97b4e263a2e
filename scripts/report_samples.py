"""Render the sample pages in docs/: the chart with 15 symptoms, an Arabic and a Korean story.

    .venv/bin/python scripts/report_samples.py      # needs pdftoppm (poppler-utils)

The documents are built here (not read from a database), shaped as ``load_document``
makes them: 15 symptoms become the 7 logged most often and "Other (8 symptoms)".
"""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from worker.export.pdf import render_report_pdf  # noqa: E402
from worker.report import ExportDocument, ExportStory, SymptomSeries  # noqa: E402

DOCS = ROOT / "docs"
MONDAY = dt.date(2026, 8, 31)
WEEKS = [MONDAY + dt.timedelta(days=7 * i) for i in range(13)]
GENERATED = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)

SYMPTOMS = ["Headache", "Fatigue", "Knee pain", "Poor sleep", "Lower back pain", "Nausea", "Dizziness"]

ARABIC = (
    "كان هذا الأسبوع أهدأ من الأسبوع الماضي. بدأ الصداع يوم الثلاثاء بعد الظهر واستمر حتى المساء، "
    "ثم خف بعد أن شربت الماء ونمت مبكرا.\n\n"
    "نمت جيدا في ثلاث ليال من سبع، واستيقظت مرتين ليلة الأربعاء. ألم الركبة ظهر بعد صعود الدرج "
    "في المحطة واختفى في اليوم التالي. سأسأل الطبيب عن التمارين المناسبة في الموعد القادم."
)
KOREAN = (
    "이번 주는 지난주보다 조용했어요. 화요일 오후에 두통이 시작되어 저녁까지 이어졌지만, 물을 마시고 "
    "일찍 잠자리에 든 뒤 나아졌어요.\n\n"
    "일곱 밤 중 세 밤은 푹 잤고, 수요일 밤에는 두 번 깼어요. 역에서 계단을 오른 뒤 무릎이 아팠지만 "
    "다음 날에는 괜찮았어요. 다음 진료 때 맞는 운동에 대해 물어볼 거예요."
)


def _series() -> list[SymptomSeries]:
    rng = random.Random(15)
    series = []
    for rank, name in enumerate(SYMPTOMS):
        counts = [max(0, rng.randint(0, 6) - rank // 2) for _ in WEEKS]
        severity = [round(rng.uniform(2, 8), 1) if c else None for c in counts]
        series.append(SymptomSeries(symptom_name=name, counts=counts, avg_severity=severity))
    counts = [rng.randint(0, 4) for _ in WEEKS]
    series.append(
        SymptomSeries(
            symptom_name="Other",
            counts=counts,
            avg_severity=[round(rng.uniform(2, 6), 1) if c else None for c in counts],
            other_symptoms=8,
        )
    )
    return series


def _story(title: str, text: str, note: str) -> ExportStory:
    return ExportStory(
        title=title,
        subtitle=None,
        week_of=dt.date(2026, 11, 30),
        generated_date=dt.date(2026, 11, 30),
        covers_start=dt.date(2026, 11, 23),
        covers_end=dt.date(2026, 11, 29),
        story_text=text,
        notes=[note],
    )


def _document(stories: list[ExportStory], *, analysis: bool) -> ExportDocument:
    return ExportDocument(
        display_name="Maya Lindqvist",
        time_zone="Europe/Stockholm",
        period_start=WEEKS[0],
        period_end=WEEKS[-1] + dt.timedelta(days=6),
        generated_at=GENERATED,
        stories=stories,
        chart_weeks=WEEKS,
        symptom_series=_series(),
        include_analysis=analysis,
    )


def _page(pdf: bytes, page: int, out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "report.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "80",
                "-f",
                str(page),
                "-l",
                str(page),
                "-singlefile",
                str(source),
                str(out.with_suffix("")),
            ],
            check=True,
            timeout=120,
        )
    print(f"wrote {out}")


def main() -> None:
    chart = _document(
        [_story("A quieter week", "Headaches came less often.", "Ask about the knee.")], analysis=True
    )
    _page(render_report_pdf(chart), 3, DOCS / "report-chart-15-symptoms.png")
    arabic = _document([_story("أسبوع أهدأ", ARABIC, "سأسأل عن تمارين الركبة.")], analysis=False)
    _page(render_report_pdf(arabic), 2, DOCS / "report-story-arabic.png")
    korean = _document([_story("조용한 한 주", KOREAN, "무릎 운동에 대해 물어보기.")], analysis=False)
    _page(render_report_pdf(korean), 2, DOCS / "report-story-korean.png")


if __name__ == "__main__":
    main()
