"""Deno, as scripts/setup.sh installs it (npm ``deno``, pinned) in .tools/deno.

:func:`require_deno` finds it, or skips saying why (in CI, where ``CI`` is set, its absence
is a failure). :func:`run_deno` runs one command with a timeout, with the project-local
module cache (``.tools/deno/cache``) and no update check.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
DENO = PROJECT / ".tools" / "deno" / "node_modules" / ".bin" / "deno"
DENO_DIR = PROJECT / ".tools" / "deno" / "cache"
FUNCTIONS = PROJECT / "supabase" / "functions"
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "TMPDIR")


def require_deno() -> Path:
    if os.access(DENO, os.X_OK):
        return DENO
    reason = "Deno is not installed in .tools/deno: run scripts/setup.sh (it installs the npm package deno)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
    raise AssertionError("unreachable")


def run_deno(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 240.0
) -> subprocess.CompletedProcess[str]:
    """``deno <args>`` in the project folder; a timeout kills it with everything it started."""
    deno = require_deno()
    environment = {key: os.environ[key] for key in _PASSED_THROUGH if key in os.environ}
    environment.update(DENO_DIR=str(DENO_DIR), DENO_NO_UPDATE_CHECK="1", NO_COLOR="1", **(env or {}))
    process = subprocess.Popen(
        [str(deno), *args],
        cwd=PROJECT,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"`deno {' '.join(args)}` did not finish within {timeout:.0f} s\n{output}")
    return subprocess.CompletedProcess(process.args, process.returncode, output, "")
