"""Every line on stderr is structured: the libraries' loggers and warnings included."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = textwrap.dedent(
    """
    import logging, warnings
    from worker.log import configure, get_logger
    configure("INFO")
    get_logger("worker.test").info("ours", job_id=7)
    logging.getLogger("psycopg").warning("error connecting: connection refused")
    logging.getLogger("psycopg.pool").warning("error connecting in 'pool-1': held back, the worker says it once")
    logging.getLogger("asyncio").error("Task was destroyed but it is pending!")
    logging.getLogger("httpx").info('HTTP Request: GET https://x/object/sign/b/p?token=secret "HTTP/1.1 200 OK"')
    logging.getLogger("some.library").debug("below the level")
    warnings.warn("a library's warning", RuntimeWarning, stacklevel=1)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("psycopg").exception("failed")
    """
)


def test_library_lines_and_warnings_come_out_as_json() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == ""
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert [r.get("level") for r in records] == ["info", "warning", "error", "warning", "error"]
    assert (records[0]["event"], records[0]["job_id"]) == ("ours", 7)
    assert records[1]["logger"] == "psycopg"
    assert records[1]["event"] == "error connecting: connection refused"
    assert "held back" not in result.stderr
    assert records[2]["logger"] == "asyncio"
    assert records[3]["logger"] == "py.warnings"
    assert "Traceback" in records[4]["exception"]
    assert "token=secret" not in result.stderr, "httpx's request lines are held back"
    assert "below the level" not in result.stderr
