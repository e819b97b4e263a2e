"""Model requests are counted by outcome, with their time and tokens, in the worker's metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fake_deepseek import FakeDeepSeek, Reply, sample_week_facts

from worker.ai.deepseek import DeepSeekProvider
from worker.config import AISettings
from worker.metrics import REGISTRY

KEY = "sk-test-metrics"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def fake() -> Iterator[FakeDeepSeek]:
    with FakeDeepSeek(api_key=KEY) as server:
        yield server


def test_statuses_times_and_tokens_are_counted(fake: FakeDeepSeek) -> None:
    names = [("ok",), ("503",), ("429",), ("invalid",)]
    before = {n[0]: _value("proxima_model_requests_total", status=n[0]) for n in names}
    tokens_before = {
        k: _value("proxima_model_tokens_total", kind=k) for k in ("prompt", "cached", "completion")
    }
    timed_before = _value("proxima_model_request_seconds_count")
    fake.script(
        Reply(status=503, error="Server overloaded"),
        Reply(status=429, error="Rate limit reached", headers={"Retry-After": "0"}),
        Reply(body='{"choices": "not a list"}'),
    )
    settings = AISettings(
        provider="deepseek", api_key=KEY, base_url=fake.url, timeout_seconds=5, max_attempts=5
    )

    async def scenario() -> None:
        provider = DeepSeekProvider(settings, backoff_base=0.01, backoff_cap=0.05)
        try:
            await provider.write_analysis(sample_week_facts(0))
        finally:
            await provider.aclose()

    asyncio.run(scenario())
    after = {n[0]: _value("proxima_model_requests_total", status=n[0]) - before[n[0]] for n in names}
    assert after == {"ok": 1, "503": 1, "429": 1, "invalid": 1}
    assert _value("proxima_model_request_seconds_count") - timed_before == 4
    gained = {k: _value("proxima_model_tokens_total", kind=k) - tokens_before[k] for k in tokens_before}
    assert gained["prompt"] > 0
    assert gained["completion"] > 0
    assert 0 <= gained["cached"] <= gained["prompt"]
