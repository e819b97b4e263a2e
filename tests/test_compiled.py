"""The worker's hot modules compiled with mypyc (scripts/compile.py), as the image runs them.

One copy of the project is compiled here (about a minute on two cores); in it, every hot
module must load from its extension module, answer exactly as the source does (the guard's
2,460 sentences, the offline answers' texts, the analysis prompts), pass the analysis and
safety tests, and say so in the worker's start-up line. The refusals come first: the script
never builds in a working tree, where a compiled module would outlive an edit of its source.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import started_line

from worker.compiled import HOT_MODULES, compiled_modules, module_name

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "compile.py"
PROBE = Path("tests") / "support" / "compiled_probe.py"
HOT_NAMES = [module_name(path) for path in HOT_MODULES]
# The tests of what the compiled modules do: the guard's sets, the prompts, the week's rows,
# the analytics and the whole weekly pipeline (with hostile answers and the findings).
COMPILED_SUITE = (
    "tests/safety",
    "tests/ai/test_prompts.py",
    "tests/ai/test_local_wording.py",
    "tests/analysis/test_gather_weeks.py",
    "tests/analysis/test_patterns.py",
    "tests/analysis/test_pipeline.py",
    "tests/analysis/test_week_window.py",
    "tests/analysis/test_hostile_model.py",
    "tests/analysis/test_findings_in_report.py",
    "tests/test_report.py",
)


def _compile(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=900, check=False
    )


def _in(tree: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` from the root of ``tree`` (on the path, as the benches need), without this
    process's pytest settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | {"PYTHONPATH": "."}
    return subprocess.run(
        [sys.executable, *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _built_here() -> list[Path]:
    return sorted(ROOT.glob("*.so")) + sorted((ROOT / "worker").rglob("*.so"))


# -- refusals -----------------------------------------------------------------------------------


def test_the_working_tree_is_refused_and_nothing_is_built() -> None:
    before = _built_here()
    result = _compile(str(ROOT))
    assert result.returncode == 2
    assert "git working tree" in result.stderr and "--copy" in result.stderr
    assert result.stdout == ""
    assert _built_here() == before == []


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "is not a directory"),
        ("empty", "is not a copy of the project: no worker/safety/reading.py"),
        ("copy-into-full", "is not empty"),
        ("copy-inside", "is inside this project"),
        ("copy-onto-a-file", "is not a directory"),
    ],
)
def test_bad_directories_are_refused_with_exit_2(tmp_path: Path, case: str, message: str) -> None:
    full = tmp_path / "full"
    full.mkdir()
    (full / "kept.txt").write_text("mine", encoding="utf-8")
    args = {
        "missing": [str(tmp_path / "missing")],
        "empty": [str(tmp_path)],
        "copy-into-full": ["--copy", str(full)],
        "copy-inside": ["--copy", str(ROOT / "build" / "compiled-copy")],
        "copy-onto-a-file": ["--copy", str(full / "kept.txt")],
    }[case]
    result = _compile(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in full.iterdir()) == ["kept.txt"]
    assert not (ROOT / "build" / "compiled-copy").exists()


def test_this_tree_runs_the_hot_modules_as_python() -> None:
    for name in HOT_NAMES:
        assert str(importlib.import_module(name).__file__).endswith(".py"), name
    assert compiled_modules() == []


# -- a compiled copy ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compiled_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("compiled") / "project"
    result = _compile("--copy", str(target))
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip() == f"compiled {len(HOT_MODULES)} modules in {target}"
    assert not (target / "build").exists(), "the C sources and objects are removed"
    return target


def test_every_hot_module_loads_from_its_extension_module(compiled_copy: Path) -> None:
    probe = (
        "import importlib, json\n"
        f"print(json.dumps({{n: importlib.import_module(n).__file__ for n in {HOT_NAMES!r}}}))\n"
    )
    result = _in(compiled_copy, "-c", probe)
    assert result.returncode == 0, result.stderr
    files = json.loads(result.stdout)
    for name, file in files.items():
        assert Path(file).parent.is_relative_to(compiled_copy), (name, file)
        assert file.endswith(".so"), (name, file)


def test_compiled_modules_answer_exactly_as_the_source(compiled_copy: Path) -> None:
    source = _in(ROOT, str(PROBE))
    compiled = _in(compiled_copy, str(PROBE))
    assert source.returncode == 0, source.stderr
    assert compiled.returncode == 0, compiled.stderr
    plain, built = json.loads(source.stdout), json.loads(compiled.stdout)
    assert plain["compiled"] == []
    assert built["compiled"] == HOT_NAMES
    assert plain["counts"] == built["counts"]
    assert plain["counts"]["sentences"] >= 2400 and plain["counts"]["answer_texts"] >= 1000
    # Both verdicts occur, so the comparison covers refusals as well as clean texts.
    assert any(plain["sentences"]) and not all(plain["sentences"])
    for part in ("sentences", "answers", "prompts"):
        assert plain[part] == built[part], part


def test_the_analysis_and_safety_tests_pass_compiled(compiled_copy: Path) -> None:
    result = _in(compiled_copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", *COMPILED_SUITE, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    summary = result.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 400, summary
    assert not re.search(r"failed|error|skipped", summary), summary


def test_a_compiled_worker_names_its_compiled_modules_when_it_starts(
    compiled_copy: Path, db_url: str
) -> None:
    assert started_line(db_url, cwd=compiled_copy)["compiled_modules"] == HOT_NAMES


def test_the_phase_bench_refuses_compiled_modules(compiled_copy: Path) -> None:
    result = _in(compiled_copy, "bench/worker_cpu.py", "--people", "10")
    assert result.returncode == 2, result.stderr
    assert "cannot be timed on compiled modules" in result.stderr and "--concurrent" in result.stderr
    assert result.stdout == ""
