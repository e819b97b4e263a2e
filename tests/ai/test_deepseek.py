"""The DeepSeek provider against a fake DeepSeek server on real sockets (tests/support/fake_deepseek.py)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from fake_deepseek import (
    FakeDeepSeek,
    Reply,
    analysis_answer,
    moves_answer,
    offline_answer,
    sample_week_facts,
)

from worker.ai import deepseek, prompts
from worker.ai.base import AIPermanentError, AIRetryableError, Generated
from worker.ai.deepseek import DeepSeekProvider
from worker.ai.local import LocalProvider
from worker.config import AISettings
from worker.report import AnalysisAnswer, MovesAnswer, StoryDraft, WeekFacts

T = TypeVar("T")

KEY = "sk-test-5b8e1f0c2d7a4e93"
FACTS = sample_week_facts(0)
OTHER_FACTS = sample_week_facts(1)


@pytest.fixture
def fake() -> Iterator[FakeDeepSeek]:
    with FakeDeepSeek(api_key=KEY) as server:
        yield server


def settings(fake: FakeDeepSeek, **overrides: Any) -> AISettings:
    values: dict[str, Any] = {
        "provider": "deepseek",
        "api_key": KEY,
        "base_url": fake.url,
        "model": "deepseek-reasoner",
        "timeout_seconds": 5.0,
        "max_concurrency": 4,
        "max_attempts": 3,
    }
    values.update(overrides)
    return AISettings(**values)


def run(
    fake: FakeDeepSeek,
    call: Callable[[DeepSeekProvider], Awaitable[T]],
    *,
    json_mode: bool | None = None,
    **overrides: Any,
) -> T:
    """Run ``call`` with a fresh provider (fast backoff) in its own event loop."""

    async def scenario() -> T:
        provider = DeepSeekProvider(
            settings(fake, **overrides), json_mode=json_mode, backoff_base=0.01, backoff_cap=1.0
        )
        try:
            return await call(provider)
        finally:
            await provider.aclose()

    return asyncio.run(scenario())


def analysis(fake: FakeDeepSeek, facts: WeekFacts = FACTS, **overrides: Any) -> Generated[AnalysisAnswer]:
    return run(fake, lambda provider: provider.write_analysis(facts), **overrides)


def valid_analysis(facts: WeekFacts = FACTS, **changes: Any) -> dict[str, Any]:
    answer = analysis_answer(facts.model_dump(mode="json"))
    answer.update(changes)
    return answer


VALID = json.dumps(valid_analysis(), indent=2)


def assert_no_key(error: BaseException) -> None:
    assert KEY not in str(error) and KEY not in repr(error)


# -- answers ---------------------------------------------------------------------------------


def test_a_clean_json_answer_is_validated_and_returned(fake: FakeDeepSeek) -> None:
    fake.script(Reply(content=VALID))
    generated = analysis(fake)
    assert generated.answer == AnalysisAnswer.model_validate(valid_analysis())
    assert len(fake.requests) == 1
    assert generated.usage.round_trips == 1


def test_json_in_a_fence_after_think_text_and_reasoning_content_is_read(fake: FakeDeepSeek) -> None:
    content = (
        f'<think>The facts say {{"rising": 1}}; keep it gentle.</think>\nHere it is:\n```json\n{VALID}\n```'
    )
    fake.script(Reply(content=content, reasoning_content="Thinking about {braces} and the week..."))
    assert analysis(fake).answer.insights[0].title == valid_analysis()["insights"][0]["title"]
    assert len(fake.requests) == 1


def test_prose_before_and_after_the_json_is_ignored(fake: FakeDeepSeek) -> None:
    fake.script(
        Reply(content=f"Sure! Your report {{draft}} follows.\n\n{VALID}\n\nI hope this helps {{:)}}.")
    )
    assert len(analysis(fake).answer.predictions) == 2
    assert len(fake.requests) == 1


def test_invalid_json_gets_one_repair_request_that_quotes_the_error(fake: FakeDeepSeek) -> None:
    broken = '{"insights": [}'
    fake.script(Reply(content=broken))  # then a default (valid) answer
    generated = analysis(fake)
    assert len(generated.answer.insights) == 3
    assert len(fake.requests) == 2
    first, repair = fake.requests
    assert repair.messages[: len(first.messages)] == first.messages
    assert repair.messages[-2] == {"role": "assistant", "content": broken}
    assert repair.messages[-1]["role"] == "user"
    assert "not valid JSON: Expecting value" in repair.messages[-1]["content"]
    assert "corrected JSON object only" in repair.messages[-1]["content"]


def test_an_answer_refused_by_validation_is_repaired(fake: FakeDeepSeek) -> None:
    two_insights = valid_analysis()
    two_insights["insights"] = two_insights["insights"][:2]
    fake.script(Reply(content=json.dumps(two_insights)))
    generated = analysis(fake)
    assert len(generated.answer.insights) == 3
    repair_request = fake.requests[1].messages[-1]["content"]
    assert "- insights: List should have at least 3 items after validation, not 2" in repair_request


def test_an_invalid_answer_twice_is_a_retryable_error(fake: FakeDeepSeek) -> None:
    fake.script(Reply(content="I cannot write JSON today."), Reply(content='{"insights": "none"}'))
    with pytest.raises(AIRetryableError, match=r"^DeepSeek: invalid answer after one repair: ") as info:
        analysis(fake)
    assert "insights" in str(info.value)
    assert len(fake.requests) == 2


def test_a_diagnosis_in_a_prediction_is_refused_and_repaired(fake: FakeDeepSeek) -> None:
    bad = valid_analysis()
    bad["predictions"][0]["reasoning"] = "This pattern is consistent with chronic sinusitis."
    fake.script(Reply(content=json.dumps(bad)))
    generated = analysis(fake)
    assert "sinusitis" not in generated.answer.model_dump_json()
    assert len(fake.requests) == 2
    assert "diagnosis" in fake.requests[1].messages[-1]["content"]


def test_a_diagnosis_twice_is_a_retryable_error_without_the_health_text(fake: FakeDeepSeek) -> None:
    bad = valid_analysis()
    bad["predictions"][1]["event_description"] = "You may have a sinus infection next week."
    fake.script(Reply(content=json.dumps(bad)), Reply(content=json.dumps(bad)))
    with pytest.raises(AIRetryableError, match="invalid answer after one repair") as info:
        analysis(fake)
    assert "predictions.1" in str(info.value) and "diagnosis" in str(info.value)
    assert "sinus" not in str(info.value)  # the words the validator quoted stay out of job errors
    assert len(fake.requests) == 2


def test_confidence_above_the_facts_bound_is_capped(fake: FakeDeepSeek) -> None:
    eager = valid_analysis()
    eager["insights"][0]["confidence"] = 99
    eager["predictions"][0]["probability"] = 95
    fake.script(Reply(content=json.dumps(eager)))
    answer = analysis(fake).answer
    assert answer.insights[0].confidence == FACTS.max_confidence
    assert answer.predictions[0].probability == FACTS.max_confidence


# -- transient failures ----------------------------------------------------------------------


def test_an_empty_answer_is_retried(fake: FakeDeepSeek) -> None:
    fake.script(Reply(content=""))
    generated = analysis(fake)
    assert len(generated.answer.insights) == 3
    assert len(fake.requests) == 2
    assert all(len(r.messages) == 2 for r in fake.requests)  # a retry, not a repair
    assert generated.usage.round_trips == 2  # the empty answer was billed too


def test_blank_lines_before_the_body_are_skipped(fake: FakeDeepSeek) -> None:
    fake.script(Reply(content=VALID, blank_lines=6))
    assert len(analysis(fake).answer.insights) == 3
    assert len(fake.requests) == 1


def test_a_429_is_retried_after_the_retry_after_it_sent(fake: FakeDeepSeek) -> None:
    fake.script(Reply(status=429, error="Rate limit reached", headers={"Retry-After": "0.3"}))
    assert len(analysis(fake).answer.insights) == 3
    first, second = fake.requests
    assert second.received_at - first.received_at >= 0.3


def test_a_500_and_a_503_are_retried_until_an_answer(fake: FakeDeepSeek) -> None:
    fake.script(Reply(status=500, error="Internal error"), Reply(status=503, error="Server overloaded"))
    assert len(analysis(fake).answer.insights) == 3
    assert len(fake.requests) == 3


def test_a_persistent_503_is_a_retryable_error_after_max_attempts(fake: FakeDeepSeek) -> None:
    overloaded = Reply(status=503, error="Server overloaded", headers={"Retry-After": "0.05"})
    fake.script(overloaded, overloaded, overloaded, overloaded)
    with pytest.raises(AIRetryableError, match=r"answered 503 \(attempt 3 of 3\)") as info:
        analysis(fake, max_attempts=3)
    assert info.value.retry_after == pytest.approx(0.05)
    assert len(fake.requests) == 3


def test_a_retry_after_longer_than_the_backoff_cap_is_left_to_the_job_queue(fake: FakeDeepSeek) -> None:
    fake.script(Reply(status=429, error="Rate limit reached", headers={"Retry-After": "120"}))
    with pytest.raises(AIRetryableError) as info:
        analysis(fake)
    assert info.value.retry_after == 120
    assert len(fake.requests) == 1


def test_a_slow_answer_is_abandoned_at_the_timeout_and_retried(fake: FakeDeepSeek) -> None:
    fake.script(Reply(content=VALID, delay=3.0))
    started = time.monotonic()
    assert len(analysis(fake, timeout_seconds=0.3).answer.insights) == 3
    assert time.monotonic() - started < 2.0
    assert len(fake.requests) == 2


def test_answers_slower_than_the_timeout_every_time_are_a_retryable_error(fake: FakeDeepSeek) -> None:
    fake.script(Reply(delay=3.0), Reply(delay=3.0))
    started = time.monotonic()
    with pytest.raises(AIRetryableError, match=r"no answer within 0.3 s \(attempt 2 of 2\)") as info:
        analysis(fake, timeout_seconds=0.3, max_attempts=2)
    assert time.monotonic() - started < 2.0
    assert len(fake.requests) == 2
    assert_no_key(info.value)


def test_a_refused_connection_is_a_retryable_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = AISettings(provider="deepseek", api_key=KEY, base_url=f"http://127.0.0.1:{port}", max_attempts=2)

    async def scenario() -> None:
        provider = DeepSeekProvider(closed, backoff_base=0.01, backoff_cap=0.05)
        try:
            await provider.write_analysis(FACTS)
        finally:
            await provider.aclose()

    with pytest.raises(AIRetryableError, match=r"connection failed \(ConnectError\)") as info:
        asyncio.run(scenario())
    assert_no_key(info.value)


# -- permanent failures ----------------------------------------------------------------------


def test_a_refused_key_is_a_permanent_error_without_retry(fake: FakeDeepSeek) -> None:
    wrong = "sk-wrong-0e9d8c7b6a5f4e3d"
    with pytest.raises(AIPermanentError) as info:
        analysis(fake, api_key=wrong)
    assert str(info.value) == "DeepSeek: the API key was refused (401): check DEEPSEEK_API_KEY"
    assert wrong not in repr(info.value)
    assert len(fake.requests) == 1


def test_insufficient_balance_is_a_permanent_error_without_retry(fake: FakeDeepSeek) -> None:
    fake.script(Reply(status=402, error="Insufficient Balance"))
    with pytest.raises(AIPermanentError) as info:
        analysis(fake)
    assert str(info.value) == "DeepSeek: insufficient balance (402): top up the account"
    assert len(fake.requests) == 1


def test_an_unknown_model_is_a_permanent_error_naming_the_setting(fake: FakeDeepSeek) -> None:
    with pytest.raises(AIPermanentError) as info:
        analysis(fake, model="deepseek-r9")  # the fake answers 400 "Model Not Exist"
    assert str(info.value) == "DeepSeek: model 'deepseek-r9' not found: check DEEPSEEK_MODEL"
    assert len(fake.requests) == 1


def test_a_404_model_does_not_exist_names_the_setting(fake: FakeDeepSeek) -> None:
    fake.script(Reply(status=404, error="The model `deepseek-reasoner` does not exist"))
    with pytest.raises(AIPermanentError, match=r"model 'deepseek-reasoner' not found: check DEEPSEEK_MODEL"):
        analysis(fake)
    assert len(fake.requests) == 1


def test_a_rejected_request_names_its_status_and_error_type_not_the_server_s_words(
    fake: FakeDeepSeek,
) -> None:
    fake.script(Reply(status=422, error=f"Invalid max_tokens for key {KEY}: " + "x" * 1000))
    with pytest.raises(AIPermanentError) as info:
        analysis(fake)
    assert str(info.value) == "DeepSeek: the request was rejected (422, api_error)"
    assert_no_key(info.value)
    assert len(fake.requests) == 1


# -- the requests ----------------------------------------------------------------------------


def test_requests_carry_the_model_the_key_and_the_fixed_prompt_first(fake: FakeDeepSeek) -> None:
    analysis(fake, FACTS)
    analysis(fake, OTHER_FACTS)
    one, other = fake.requests
    for request in (one, other):
        assert request.path == "/chat/completions"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        assert request.model == "deepseek-reasoner"
        assert request.body["stream"] is False
        assert [m["role"] for m in request.messages] == ["system", "user"]
    assert one.messages[0] == other.messages[0] == {"role": "system", "content": prompts.SYSTEM_PROMPT}
    instruction = prompts.TASK_INSTRUCTIONS[prompts.Task.ANALYSIS]
    assert one.messages[1]["content"].startswith(instruction)
    assert other.messages[1]["content"].startswith(instruction)
    for facts, request in ((FACTS, one), (OTHER_FACTS, other)):
        assert facts.display_name is not None
        assert facts.display_name not in request.messages[0]["content"]
        assert request.messages[-1]["content"].endswith(prompts.render_facts(facts))


def test_json_mode_is_off_for_the_reasoner_and_on_for_chat_models(fake: FakeDeepSeek) -> None:
    analysis(fake, model="deepseek-reasoner")
    analysis(fake, model="deepseek-chat")
    run(fake, lambda provider: provider.write_analysis(FACTS), json_mode=True)
    reasoner, chat, forced = (r.body for r in fake.requests)
    assert "response_format" not in reasoner and "temperature" not in reasoner
    assert chat["response_format"] == {"type": "json_object"}
    assert isinstance(chat["temperature"], float)
    assert forced["response_format"] == {"type": "json_object"} and forced["model"] == "deepseek-reasoner"


def test_analysis_then_moves_is_two_requests_and_usage_adds_up(fake: FakeDeepSeek) -> None:
    async def both(provider: DeepSeekProvider) -> tuple[Generated[AnalysisAnswer], Generated[MovesAnswer]]:
        first = await provider.write_analysis(FACTS)
        return first, await provider.write_moves(FACTS, first.answer)

    first, moves = run(fake, both)
    assert moves.answer == MovesAnswer.model_validate(moves_answer(FACTS.model_dump(mode="json")))
    assert [r.task for r in fake.requests] == [prompts.Task.ANALYSIS, prompts.Task.MOVES]
    assert first.answer.insights[0].title in fake.requests[1].messages[-1]["content"]
    analysis_usage, moves_usage = fake.usages
    for generated, usage in ((first, analysis_usage), (moves, moves_usage)):
        assert generated.usage.prompt_tokens == usage["prompt_tokens"]
        assert generated.usage.completion_tokens == usage["completion_tokens"]
        assert generated.usage.cache_hit_tokens == usage["prompt_cache_hit_tokens"]
        assert generated.usage.round_trips == 1
    # The moves request shares the system prompt with the analysis request: a cache hit.
    assert moves.usage.cache_hit_tokens >= len(prompts.SYSTEM_PROMPT) // 4 - 64


@pytest.mark.parametrize("person", [0, 3, 6])
def test_offline_answers_are_the_offline_providers_wording_through_the_wire(person: int) -> None:
    # The benches' --answers offline: the fake server answers what the offline provider
    # writes for the facts it was sent (as rendered: no name, texts bounded); the worker
    # reads and checks every string of them.
    facts = sample_week_facts(person)
    rendered = prompts.render_facts(facts)
    sent = json.loads(rendered[len(prompts.WEEK_OPEN) : -len(prompts.WEEK_CLOSE)])
    assert "display_name" not in sent

    async def all_three(provider: DeepSeekProvider) -> tuple[StoryDraft, AnalysisAnswer, MovesAnswer]:
        first = (await provider.write_analysis(facts)).answer
        story = (await provider.write_story(facts)).answer
        return story, first, (await provider.write_moves(facts, first)).answer

    with FakeDeepSeek(api_key=KEY, answer=offline_answer) as server:
        story, analysis, moves = run(server, all_three)
        assert [r.task for r in server.requests] == [
            prompts.Task.ANALYSIS,
            prompts.Task.STORY,
            prompts.Task.MOVES,
        ]
    assert story == StoryDraft.model_validate(offline_answer(prompts.Task.STORY, sent))
    assert analysis == AnalysisAnswer.model_validate(offline_answer(prompts.Task.ANALYSIS, sent))
    assert moves == MovesAnswer.model_validate(offline_answer(prompts.Task.MOVES, sent))
    # The offline provider's own report for these facts, word for word but the phrasing it
    # picks by a hash of them: as many insights, predictions and moves.
    local = LocalProvider()
    own = asyncio.run(local.write_analysis(facts)).answer
    assert (len(analysis.insights), len(analysis.predictions)) == (len(own.insights), len(own.predictions))
    # Longer and more varied than the fake's own answers: what the option is for (the docs
    # say "over half again the characters": checked here).
    template = [analysis_answer(sent), moves_answer(sent)]
    assert len(json.dumps([analysis.model_dump(), moves.model_dump()])) > 1.5 * len(json.dumps(template))
    assert len({m.rationale for m in moves.strategic_moves}) == len(moves.strategic_moves)


def test_usage_sums_every_round_trip_of_a_call_including_the_repair(fake: FakeDeepSeek) -> None:
    analysis(fake, OTHER_FACTS)  # warms the simulated prefix cache
    fake.script(Reply(content="not json"))
    generated = analysis(fake)
    first, repair = fake.usages[1:]
    assert generated.usage.round_trips == 2
    assert generated.usage.prompt_tokens == first["prompt_tokens"] + repair["prompt_tokens"]
    assert generated.usage.completion_tokens == first["completion_tokens"] + repair["completion_tokens"]
    hits = first["prompt_cache_hit_tokens"] + repair["prompt_cache_hit_tokens"]
    assert generated.usage.cache_hit_tokens == hits > 0


def test_requests_in_flight_never_exceed_max_concurrency() -> None:
    with FakeDeepSeek(api_key=KEY, latency=0.1) as fake:

        async def many(provider: DeepSeekProvider) -> list[Generated[AnalysisAnswer]]:
            people = [sample_week_facts(p) for p in range(6)]
            return await asyncio.gather(*(provider.write_analysis(f) for f in people))

        results = run(fake, many, max_concurrency=2)
        assert len(results) == 6
        assert fake.peak_concurrency == 2
        assert len(fake.requests) == 6


def test_the_api_key_is_never_in_the_providers_repr(fake: FakeDeepSeek) -> None:
    provider = DeepSeekProvider(settings(fake))
    assert KEY not in repr(provider) and KEY not in str(provider)
    assert provider.name == "deepseek" and provider.model == "deepseek-reasoner"
    asyncio.run(provider.aclose())


def test_a_freed_request_slot_goes_to_the_next_request_before_the_answer_is_checked(
    fake: FakeDeepSeek, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers come in bursts under load; checking one takes milliseconds of CPU. The
    request waiting for the slot goes out first, so the slot does not idle meanwhile."""
    events: list[str] = []
    parse = deepseek.parse_answer

    def recorded_parse(content: str, schema: Any) -> Any:
        events.append("check")
        return parse(content, schema)

    monkeypatch.setattr(deepseek, "parse_answer", recorded_parse)

    async def two(provider: DeepSeekProvider) -> list[Generated[AnalysisAnswer]]:
        post = provider._pool.post

        async def recorded_post(head: str, body: bytes) -> Any:
            events.append("send")
            return await post(head, body)

        monkeypatch.setattr(provider._pool, "post", recorded_post)
        return list(
            await asyncio.gather(provider.write_analysis(FACTS), provider.write_analysis(OTHER_FACTS))
        )

    results = run(fake, two, max_concurrency=1)
    assert len(results) == 2 and fake.peak_concurrency == 1
    assert events == ["send", "send", "check", "check"]


# -- whatever the server sends ---------------------------------------------------------------

# Bodies of a 200 that are not a completion, as a gateway, a proxy or a broken server may send
# them: each is retried as a transient failure, then left to the job queue.
_NOT_A_COMPLETION = {
    "html-page": ("<html><body>502 Bad Gateway</body></html>", "the server sent a malformed answer"),
    "empty-body": ("", "the server sent a malformed answer"),
    "json-array": ("[]", "the server sent a malformed answer"),
    "no-choices": ('{"id": "x", "usage": {}}', "the server sent a malformed answer"),
    "empty-choices": ('{"choices": []}', "the server sent a malformed answer"),
    "choice-not-object": ('{"choices": ["text"]}', "the server sent a malformed answer"),
    "message-not-object": ('{"choices": [{"message": "text"}]}', "the model sent an empty answer"),
    "content-null": ('{"choices": [{"message": {"content": null}}]}', "the model sent an empty answer"),
    "content-number": ('{"choices": [{"message": {"content": 42}}]}', "the model sent an empty answer"),
    "content-blank": (
        '{"choices": [{"message": {"content": " \\n\\t "}}]}',
        "the model sent an empty answer",
    ),
}


@pytest.mark.parametrize("case", sorted(_NOT_A_COMPLETION))
def test_a_200_that_is_not_a_completion_is_retried_then_a_retryable_error(
    fake: FakeDeepSeek, case: str
) -> None:
    body, reason = _NOT_A_COMPLETION[case]
    fake.script(Reply(body=body), Reply(body=body))
    with pytest.raises(AIRetryableError) as info:
        analysis(fake, max_attempts=2)
    assert str(info.value) == f"DeepSeek: {reason} (attempt 2 of 2)"
    assert len(fake.requests) == 2


def test_an_answer_interrupted_for_lack_of_server_resources_is_retried(fake: FakeDeepSeek) -> None:
    fake.script(Reply(content=VALID, finish_reason="insufficient_system_resource"))
    generated = analysis(fake)
    assert len(generated.answer.insights) == 3
    assert len(fake.requests) == 2
    assert generated.usage.round_trips == 2  # the interrupted answer was billed too


def test_usage_counts_only_whole_non_negative_numbers(fake: FakeDeepSeek) -> None:
    usage = {"prompt_tokens": True, "completion_tokens": -5, "prompt_cache_hit_tokens": "900"}
    body = json.dumps({"choices": [{"message": {"content": VALID}}], "usage": usage})
    fake.script(Reply(body=body))
    generated = analysis(fake)
    assert (generated.usage.prompt_tokens, generated.usage.completion_tokens) == (0, 0)
    assert generated.usage.cache_hit_tokens == 0


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (
            Reply(status=403, error="Forbidden"),
            "DeepSeek: access was refused (403): check DEEPSEEK_API_KEY and the account",
        ),
        (Reply(status=404, error="Not Found"), "was not found (404): check DEEPSEEK_BASE_URL"),
        (Reply(status=400, body="<html>Bad Request</html>"), "DeepSeek: the request was rejected (400)"),
        (Reply(status=400, body='{"error": "a plain string"}'), "DeepSeek: the request was rejected (400)"),
        (
            Reply(status=400, body='{"error": {"type": "Bad Value With Spaces"}}'),
            "DeepSeek: the request was rejected (400)",
        ),
        (
            Reply(status=422, body='{"error": {"code": "invalid_parameter"}}'),
            "DeepSeek: the request was rejected (422, invalid_parameter)",
        ),
    ],
    ids=["403", "404-base-url", "400-html", "400-error-string", "400-type-not-a-word", "422-code"],
)
def test_a_refusal_is_a_permanent_error_naming_its_status_not_the_servers_words(
    fake: FakeDeepSeek, reply: Reply, message: str
) -> None:
    fake.script(reply)
    with pytest.raises(AIPermanentError) as info:
        analysis(fake)
    assert message in str(info.value)
    for words in ("Forbidden", "Bad Request", "plain string", "Spaces"):
        assert words not in str(info.value)
    assert_no_key(info.value)
    assert len(fake.requests) == 1


def test_a_request_too_long_even_when_shortened_is_left_for_a_later_attempt(fake: FakeDeepSeek) -> None:
    too_long = Reply(status=400, error="This model's maximum context length is 65536 tokens")
    fake.script(too_long, too_long)
    with pytest.raises(AIRetryableError, match="longer than the model's context even when shortened"):
        analysis(fake)
    # Once as it was, once compact (the person's free text cut shorter): then left to the queue.
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("120", 120.0), ("-3", 0.0), ("999999", 86400.0)],
    ids=["seconds", "negative", "over-a-day"],
)
def test_a_retry_after_in_seconds_is_bounded(fake: FakeDeepSeek, retry_after: str, expected: float) -> None:
    fake.script(Reply(status=429, error="Rate limit reached", headers={"Retry-After": retry_after}))
    with pytest.raises(AIRetryableError) as info:
        analysis(fake, max_attempts=1)
    assert info.value.retry_after == pytest.approx(expected)
    assert len(fake.requests) == 1


def test_a_retry_after_as_an_http_date_is_read_as_the_seconds_until_it(fake: FakeDeepSeek) -> None:
    import datetime as dt  # noqa: PLC0415
    import email.utils  # noqa: PLC0415 - only this test writes an HTTP date

    when = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120), usegmt=True)
    fake.script(Reply(status=429, error="Rate limit reached", headers={"Retry-After": when}))
    with pytest.raises(AIRetryableError) as info:
        analysis(fake)
    assert info.value.retry_after is not None and 110 <= info.value.retry_after <= 121
    assert len(fake.requests) == 1  # longer than the backoff cap: left to the job queue


def test_a_retry_after_that_is_neither_seconds_nor_a_date_falls_back_to_the_backoff(
    fake: FakeDeepSeek,
) -> None:
    fake.script(Reply(status=429, error="Rate limit reached", headers={"Retry-After": "soon"}))
    assert len(analysis(fake).answer.insights) == 3
    assert len(fake.requests) == 2
