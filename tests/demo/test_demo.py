"""``python -m worker demo``: the main job end to end on the embedded default."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from worker.demo.seed import DEMO_PEOPLE

PROJECT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_the_weekly_analysis_for_three_people_and_prints_their_reports(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEEPSEEK_API_KEY", "SUPABASE_URL"}
    }
    env["PROXIMA_EXPORT_DIR"] = str(tmp_path / "exports")
    result = subprocess.run(
        [sys.executable, "-m", "worker", "demo"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "with the local AI provider" in out
    assert "weekly analysis: 3/3 people done" in out
    for person in DEMO_PEOPLE:
        assert f" {person.name} · week of " in out
    assert out.count("Key insights") == 3
    assert out.count("Strategic moves") == 3
    assert "~ Knee pain  [" in out, "Maya's shadow pattern is shown"
    assert re.search(r"! Tension headache (is on the rise|is picking up)  \[warning", out), (
        "Jonas's rising symptom"
    )
    assert len(re.findall(r"  covers \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d \(", out)) == 3, (
        "each period is shown"
    )
    assert "the demo database was removed" in out
    assert "@demo.proxima.local" not in out + result.stderr, "no e-mail addresses in the output"
    assert "Exporting Maya Lindqvist's stories and analysis as a PDF" in out
    pdfs = sorted((tmp_path / "exports").rglob("*.pdf"))
    assert len(pdfs) == 2, "the export's and the doctor share's"
    assert all(pdf.read_bytes().startswith(b"%PDF") for pdf in pdfs)
    assert sum(f"open it: {pdf}" in out for pdf in pdfs) == 1
    # A doctor share: its e-mail printed (recipient hidden) and the page served by the functions.
    assert "Sharing Maya Lindqvist's stories with a doctor for 14 days" in out
    assert "Subject: Maya Lindqvist shared a health report with you" in out
    assert "the share page answers 200" in out
    assert re.search(
        r"its PDF \(http://127\.0\.0\.1:\d+/functions/v1/shared-report/[\w-]{43}/pdf\) answers 200", out
    )
    assert re.search(r"share link: http://127\.0\.0\.1:\d+/functions/v1/shared-report/[\w-]{43}\n", out)
    # The e-mail's link and the printed one are two tokens of the same share, and say so;
    # the printed e-mail shows its token masked (the console mailer never prints one).
    links = re.findall(r"http://127\.0\.0\.1:\d+/functions/v1/shared-report/([\w-]{43})\n", out)
    assert len(links) == 1, links
    masked = re.findall(r"http://127\.0\.0\.1:\d+/functions/v1/shared-report/([\w-]{4})…\n", out)
    assert len(masked) == 1, out
    assert "the e-mail's link carries a token of its own" in out
