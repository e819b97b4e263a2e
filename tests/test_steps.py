"""Progress lines of the long one-shot commands."""

from __future__ import annotations

import io
import re
import time

import pytest
from cli_support import run_cli

from worker.ops.steps import step


def test_piped_a_step_prints_its_start_and_its_end() -> None:
    out = io.StringIO()
    with step("enqueuing", out=out, terminal=False):
        time.sleep(0.05)
    lines = out.getvalue().splitlines()
    assert lines[0] == "enqueuing ..."
    assert re.fullmatch(r"enqueuing: done in \d+\.\d s", lines[1])
    assert len(lines) == 2


def test_a_failing_step_says_it_stopped_and_lets_the_error_through() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), step("rendering", out=out, terminal=False):
        raise RuntimeError("boom")
    assert out.getvalue().splitlines()[-1].startswith("rendering: stopped after ")


def test_on_a_terminal_the_elapsed_time_ticks_in_place() -> None:
    out = io.StringIO()
    with step("rendering", out=out, terminal=True):
        time.sleep(0.7)
    text = out.getvalue()
    assert text.count("\r") >= 2, "redrawn while it runs"
    assert "rendering: 00:00" in text
    assert re.search(r"rendering: done in \d+\.\d s\n$", text)


def test_enqueue_weekly_shows_its_progress_on_stderr_and_its_result_on_stdout(db_url: str) -> None:
    result = run_cli(db_url, "enqueue-weekly")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("enqueued 0 weekly analysis jobs")
    assert result.stderr.splitlines()[0] == "enqueuing the weekly analysis ..."
    assert re.fullmatch(r"enqueuing the weekly analysis: done in \d+\.\d s", result.stderr.splitlines()[1])
