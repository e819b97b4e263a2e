"""Running ``python -m worker`` as a person would, against a test database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m worker ARGS`` with ``DATABASE_URL`` set and no other setting of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROXIMA_", "DEEPSEEK_"))}
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        cwd=ROOT,
        env=env | {"DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
