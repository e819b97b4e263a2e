"""Retry policy as data, and the classification of errors into retryable or permanent."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import httpx
import psycopg
import pydantic

from worker.errors import JobError, PermanentError, RetryableError, describe_error

# HTTP answers that will not change by asking again: bad request, bad key, no balance,
# bad parameters (and the rest of 4xx except 408/409/425/429).
_RETRYABLE_HTTP = {408, 409, 425, 429}

__all__ = ["JobError", "PermanentError", "RetryPolicy", "RetryableError", "describe", "is_retryable"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits ``base * 2**(n-1)``, capped, then
    a random part of it (between half and all) so that failures do not retry in step."""

    max_attempts: int = 5
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_seconds < 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("retry policy needs max_attempts >= 1 and 0 <= base <= cap")

    def delay(
        self, attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before the attempt after ``attempt`` (1-based)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** max(attempt - 1, 0))
        draw = float((rng or random).uniform(0.5, 1.0))
        delay = ceiling * draw
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap_seconds))
        return delay


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt might succeed.

    Network errors, timeouts, a lost database connection and HTTP 429/5xx are retryable;
    bad input (validation errors, malformed payloads) and HTTP 4xx are permanent.
    Anything unrecognised is retried: the attempt limit still bounds it.
    """
    if isinstance(exc, PermanentError):
        return False
    if isinstance(exc, RetryableError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return status >= 500 or status in _RETRYABLE_HTTP
    if isinstance(exc, httpx.TransportError | asyncio.TimeoutError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, psycopg.OperationalError):
        return True
    if isinstance(exc, psycopg.errors.DataError | psycopg.errors.IntegrityError):
        return False
    return not isinstance(exc, pydantic.ValidationError | ValueError | TypeError | LookupError)


def retry_after_of(exc: BaseException) -> float | None:
    if isinstance(exc, RetryableError):
        return exc.retry_after
    return None


def describe(exc: BaseException, limit: int = 2000) -> str:
    """The error as stored on the job and logged: see :func:`worker.errors.describe_error`."""
    return describe_error(exc, limit)
