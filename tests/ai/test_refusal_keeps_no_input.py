"""A request DeepSeek rejects is reported by its status (and the server's error type), never
with the server's own message: a 422 may echo the request, health text included, and the
error is stored in ``jobs.last_error`` and ``analysis_generations.error`` and logged."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from db_support import rows
from fake_deepseek import FakeDeepSeek, Reply
from pipeline_support import due_week, run_person_week

from worker.ai.base import AIPermanentError
from worker.ai.deepseek import DeepSeekProvider
from worker.config import AISettings
from worker.demo.seed import MAYA, seed_demo
from worker.queue.retry import describe

KEY = "sk-test-refusal-5b8e1f0c"
NOW = dt.datetime.now(dt.UTC)
# What a server that quotes its input says about one of Maya's symptoms.
ECHO = "Invalid value in messages[1].content: 'Knee pain (knee), severity 7, Headache (head)' is not allowed"


def test_a_422_that_echoes_health_text_is_stored_without_it(db_url: str) -> None:
    seed_demo(db_url, now=NOW)
    with FakeDeepSeek(api_key=KEY) as fake:
        fake.script(Reply(status=422, error=ECHO))
        settings = AISettings(provider="deepseek", api_key=KEY, base_url=fake.url)
        with pytest.raises(AIPermanentError) as caught:
            run_person_week(
                db_url,
                MAYA.id,
                due_week(MAYA.timezone, NOW),
                DeepSeekProvider(settings),
                now=NOW,
                close_provider=True,
            )
    message = str(caught.value)
    assert message == "DeepSeek: the request was rejected (422, api_error)"
    stored = describe(caught.value)  # what jobs.last_error and the logs hold
    [(status, error)] = rows(db_url, "select status, error from analysis_generations")
    assert status == "failed"
    for text in (message, stored, error):
        assert "Knee" not in text and "Headache" not in text and "severity" not in text, text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"message": ECHO, "type": "invalid_request_error", "code": None}},
            "DeepSeek: the request was rejected (400, invalid_request_error)",
        ),
        (
            {"error": {"message": ECHO, "type": "Knee pain severity 7", "code": "bad_value"}},
            "DeepSeek: the request was rejected (400, bad_value)",
        ),
        ({"detail": ECHO}, "DeepSeek: the request was rejected (400)"),
        (ECHO, "DeepSeek: the request was rejected (400)"),
    ],
)
def test_only_a_short_error_type_of_the_server_is_kept(body: object, expected: str) -> None:
    provider = DeepSeekProvider(AISettings(provider="deepseek", api_key=KEY, base_url="http://127.0.0.1:9"))
    text = body if isinstance(body, str) else json.dumps(body)
    refusal = provider._refusal(400, text)
    assert isinstance(refusal, AIPermanentError)
    assert str(refusal) == expected
