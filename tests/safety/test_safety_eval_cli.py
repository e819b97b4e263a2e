"""``python -m worker safety-eval``: the figures, the misses, and a clear error for a bad set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from worker.cli import main
from worker.safety.evaluation import load_cases

HOLDOUT = Path(__file__).with_name("holdout_set.jsonl")


def test_the_held_out_set_is_balanced_and_distinct() -> None:
    cases = load_cases(HOLDOUT)
    assert len(cases) == 240
    assert Counter(case.label for case in cases) == {"unsafe": 120, "safe": 120}
    assert len({case.text for case in cases}) == len(cases)


def test_the_command_prints_the_table_and_exits_by_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passing = tmp_path / "passing.jsonl"
    passing.write_text(
        "\n".join(
            json.dumps({"text": text, "label": label, "category": "x", "field": "insight"})
            for text, label in (
                ("You have asthma.", "unsafe"),
                ("Migraine came up three times this week.", "safe"),
            )
        )
    )
    assert main(["safety-eval", "--set", str(passing)]) == 0
    out = capsys.readouterr().out
    assert "unsafe refused:  100.0%" in out and "verdict:         PASS" in out
    failing = tmp_path / "failing.jsonl"
    failing.write_text(
        json.dumps({"text": "Take a short walk.", "label": "unsafe", "category": "x", "field": "move"})
    )
    assert main(["safety-eval", "--set", str(failing)]) == 1
    assert "[unsafe x; guard: allowed] Take a short walk." in capsys.readouterr().out


@pytest.mark.parametrize(
    "content", ["not json", json.dumps({"text": "x", "label": "maybe", "category": "c", "field": "f"})]
)
def test_a_malformed_set_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    assert main(["safety-eval", "--set", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err
