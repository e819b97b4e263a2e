"""The retry policy and the classification of errors, on their own."""

from __future__ import annotations

import random

import httpx
import pydantic
import pytest

from worker.queue.retry import PermanentError, RetryableError, RetryPolicy, describe, is_retryable


def test_defaults_are_five_attempts_30_s_base_and_a_one_hour_cap() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.base_seconds, policy.cap_seconds) == (5, 30.0, 3600.0)


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 30), (2, 60), (3, 120), (4, 240), (8, 3600), (20, 3600)]
)
def test_backoff_doubles_per_attempt_up_to_the_cap_with_jitter_in_its_upper_half(
    attempt: int, ceiling: float
) -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    delays = [policy.delay(attempt, rng=rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len({round(d, 6) for d in delays}) > 100, "jitter spreads retries apart"


def test_retry_after_is_honoured_as_a_lower_bound_within_the_cap() -> None:
    policy = RetryPolicy(base_seconds=1, cap_seconds=600)
    assert policy.delay(1, retry_after=120, rng=random.Random(1)) == 120
    assert policy.delay(1, retry_after=7200, rng=random.Random(1)) == 600
    assert policy.delay(5, retry_after=0.1, rng=random.Random(1)) >= 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_attempts": 0}, "max_attempts"), ({"base_seconds": -1}, "base"), ({"cap_seconds": 1}, "cap")],
)
def test_a_nonsensical_policy_is_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def _status_error(code: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1/chat/completions")
    return httpx.HTTPStatusError("boom", request=request, response=httpx.Response(code, request=request))


@pytest.mark.parametrize("code", [429, 500, 502, 503, 504, 408])
def test_rate_limits_and_server_errors_are_retryable(code: int) -> None:
    assert is_retryable(_status_error(code))


@pytest.mark.parametrize("code", [400, 401, 402, 403, 404, 422])
def test_client_errors_are_permanent(code: int) -> None:
    assert not is_retryable(_status_error(code))


def test_network_errors_and_timeouts_are_retryable() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/")
    assert is_retryable(httpx.ConnectError("refused", request=request))
    assert is_retryable(httpx.ReadTimeout("slow", request=request))
    assert is_retryable(TimeoutError())
    assert is_retryable(ConnectionResetError())


def test_bad_input_is_permanent() -> None:
    class Payload(pydantic.BaseModel):
        week_of: int

    with pytest.raises(pydantic.ValidationError) as caught:
        Payload.model_validate({"week_of": "soon"})
    assert not is_retryable(caught.value)
    assert not is_retryable(KeyError("week_of"))
    assert not is_retryable(ValueError("bad date"))
    assert not is_retryable(PermanentError("DeepSeek: invalid API key (401)"))
    assert is_retryable(RetryableError("busy"))


def test_an_unrecognised_error_is_retried_so_the_attempt_limit_decides() -> None:
    assert is_retryable(RuntimeError("something odd"))


def test_the_stored_error_names_its_type_on_one_bounded_line() -> None:
    assert describe(KeyError("count")) == "KeyError: ..."
    assert (
        describe(PermanentError("DeepSeek: insufficient balance (402)"))
        == "DeepSeek: insufficient balance (402)"
    )
    assert describe(RuntimeError("a\n  b")) == "RuntimeError: a"
    assert len(describe(RuntimeError("x " * 10_000))) <= 320
