"""The database's rule for a job's kind (jobs_kind_check) is the worker's rule
(worker/queue/jobs.py), kind by kind, for accepted and refused names alike (a trailing
newline included: Python's ``$`` would let it through)."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from psycopg import errors

from worker.queue.jobs import _KIND, JobSpec

ACCEPTED = ["a", "weekly_analysis", "export_pdf", "x9", "a_", "k" * 63, "a" + "0" * 62]
REFUSED = [
    "",
    "Weekly",
    "_weekly",
    "9weekly",
    "weekly-analysis",
    "weekly analysis",
    "weekly\nanalysis",
    "wéekly",
    "k" * 64,
    "a" + "_" * 63,
    "weekly_analysis\n",
]


@pytest.mark.parametrize("kind", ACCEPTED)
def test_a_well_formed_kind_is_accepted(conn: psycopg.Connection[Any], kind: str) -> None:
    assert _KIND.fullmatch(kind)
    assert JobSpec(kind=kind).kind == kind
    conn.execute("insert into public.jobs (kind) values (%s)", (kind,))
    row = conn.execute("select count(*) from public.jobs where kind = %s", (kind,)).fetchone()
    assert row == (1,)


@pytest.mark.parametrize("kind", REFUSED)
def test_a_malformed_kind_is_refused_and_nothing_is_written(conn: psycopg.Connection[Any], kind: str) -> None:
    assert not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", kind)
    with pytest.raises(ValueError, match="lower_snake_case"):
        JobSpec(kind=kind)
    with pytest.raises(errors.CheckViolation) as caught:
        conn.execute("insert into public.jobs (kind) values (%s)", (kind,))
    assert caught.value.diag.constraint_name == "jobs_kind_check"
    row = conn.execute("select count(*) from public.jobs").fetchone()
    assert row == (0,)


def test_an_update_to_a_malformed_kind_is_refused(conn: psycopg.Connection[Any]) -> None:
    conn.execute("insert into public.jobs (kind) values ('housekeeping')")
    with pytest.raises(errors.CheckViolation):
        conn.execute("update public.jobs set kind = 'House keeping'")
    row = conn.execute("select kind from public.jobs").fetchone()
    assert row == ("housekeeping",)
