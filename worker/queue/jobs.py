"""The job as the worker sees it."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple
from uuid import UUID

_KIND = re.compile(r"[a-z][a-z0-9_]{0,62}")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Job(NamedTuple):
    """One claimed attempt of a job: ``(id, attempt)`` identifies it with the lease owner.

    Immutable, as the frozen dataclass it was, but a tuple: a claimed row made a ``Job``
    took 0.3-0.5 µs of CPU where the same row made a frozen dataclass took 0.9-1.6
    (``bench/worker_overhead.py``, "a claimed row made a Job"), and every claimed job is
    made one. ``job._replace(...)`` makes a changed copy.
    """

    id: int
    kind: str
    user_id: UUID | None
    payload: dict[str, Any]
    priority: int
    attempt: int
    max_attempts: int
    run_at: dt.datetime

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    @classmethod
    def from_claim(cls, row: Sequence[Any]) -> Job:
        """A row of the claim statements' ``returning`` list, in its order, as the driver
        typed it (bigint, smallint and integer as int), the payload as jsonb's text: most
        payloads are empty, and ``{}`` is then not run through a JSON parser. Rows come as
        tuples, with no dict a row and no conversions: this is on every short job's path."""
        job_id, kind, user_id, payload, priority, attempts, max_attempts, run_at = row
        parsed = {} if payload == "{}" else json.loads(payload)
        return cls(job_id, kind, user_id, parsed, priority, attempts, max_attempts, run_at)


# jobs.max_attempts's column default: a row left at it made no choice of its own (a kind's
# attempt policy then applies: worker.runtime.worker.attempt_limit, rescue_expired_jobs).
DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class JobSpec:
    """A job to enqueue. ``dedupe_key`` makes the enqueue idempotent among unfinished jobs."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    user_id: UUID | None = None
    priority: int = 0
    run_at: dt.datetime | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    dedupe_key: str | None = None

    def __post_init__(self) -> None:
        if not _KIND.fullmatch(self.kind):
            raise ValueError(f"job kind {self.kind!r} must be lower_snake_case, at most 63 characters")
        if not -100 <= self.priority <= 100:
            raise ValueError(f"job priority {self.priority} must be between -100 and 100")
        if not 1 <= self.max_attempts <= 100:
            raise ValueError(f"max_attempts {self.max_attempts} must be between 1 and 100")
        if not isinstance(self.payload, dict):
            raise ValueError("a job payload must be a JSON object")


# The SQLSTATE of a statement that was to finish its job but found the lease lost
# (proxima_private.finish_job_in_statement): the statement wrote nothing.
LEASE_LOST_SQLSTATE = "PXL01"


@dataclass(frozen=True)
class JobFinish:
    """What one statement needs to finish its own job (see :meth:`JobContext.complete_in_statement`):
    the job, the worker that holds it and the attempt. ``None`` everywhere: no job to finish."""

    job_id: int | None
    owner: str | None
    attempt: int | None

    def params(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "job_owner": self.owner, "job_attempt": self.attempt}


NO_JOB = JobFinish(None, None, None)
