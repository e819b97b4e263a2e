"""DeepSeek (R1 ``deepseek-reasoner`` and the chat models) over its OpenAI-compatible API.

Guarantees of :class:`DeepSeekProvider`:

* Every answer it returns was validated against the models of :mod:`worker.report`, and
  every insight confidence and prediction probability is at most the facts'
  ``max_confidence`` (capped here: the bound is ours, not the model's).
* An invalid answer (not JSON, or refused by validation) gets exactly one repair request
  that quotes what failed and at most :data:`~worker.ai.prompts.REPAIR_ANSWER_LIMIT`
  characters of the answer (a longer answer is not sent back: the model answers again from
  scratch); a second invalid answer is an :class:`AIRetryableError`.
* A request the server refuses as longer than the model's context (a 400) is made again
  shorter, once: the facts with the person's free text cut shorter, or a repair without the
  bad answer. Still too long, it is an :class:`AIRetryableError`, never a permanent failure.
* Rate limits (429), server errors (5xx), timeouts, dropped connections, empty answers and
  interrupted generations are retried here, up to ``settings.max_attempts`` requests, with
  exponential backoff and jitter that honours ``Retry-After``; after that, or when the
  server asks for a longer pause than ``backoff_cap``, it raises :class:`AIRetryableError`
  carrying ``retry_after`` so the job queue retries later.
* A refused key (401), no balance (402), an unknown model and a rejected request
  (400/422) raise :class:`AIPermanentError` at once, saying what to fix; nothing is retried.
  Its message holds the status and at most the server's error type (a short
  ``lower_snake_case`` word), never the server's own message: a rejection may quote the
  request, health text included, and the message is stored in ``jobs.last_error``.
* At most ``settings.max_concurrency`` requests are in flight per provider, over one pool of
  keep-alive connections (:mod:`worker.ai.http11`: one write per request, no per-request
  client, no scan of the pool): build one provider per process and share it between jobs.
* No log line and no exception message holds the API key, health text or the answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from worker import metrics
from worker.ai import prompts
from worker.ai.base import AIPermanentError, AIRetryableError, Generated
from worker.ai.http11 import ConnectionPool, Response, TransportError
from worker.ai.prompts import Message, Task
from worker.ai.slots import RequestSlots
from worker.config import AISettings
from worker.errors import ConfigError
from worker.log import get_logger
from worker.report import AnalysisAnswer, MovesAnswer, StoryDraft, Usage, WeekFacts

A = TypeVar("A", bound=BaseModel)

log = get_logger(__name__)

# Worth asking again: the same set the job queue retries (408/409/425/429), plus every 5xx.
_RETRY_STATUSES = frozenset({408, 409, 425, 429})
# DeepSeek says "Model Not Exist"; OpenAI-style servers say "The model `x` does not exist".
_MODEL_NOT_FOUND = re.compile(
    r"\bmodel\b.{0,120}?\b(?:not\s+exists?|not\s+found|does\s+not\s+exist)", re.I | re.S
)
# "This model's maximum context length is 65536 tokens. However, you requested ..."
_CONTEXT_TOO_LONG = re.compile(
    r"context[ _-]?length|maximum context|too many tokens|prompt is too long|context window", re.I
)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.S | re.I)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_LENIENT = json.JSONDecoder(strict=False)
_MAX_CANDIDATES = 32  # JSON objects tried per answer: bounds the work on a hostile answer
_SERVER_MESSAGE_LIMIT = 200
# The server's error type or code (``invalid_request_error``): a word of its vocabulary,
# never a value of the request.
_ERROR_KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")


def is_reasoner(model: str) -> bool:
    """Whether ``model`` is a reasoning model (R1): it thinks first and may not take JSON mode."""
    return "reasoner" in model.lower()


class DeepSeekProvider:
    """The :class:`~worker.ai.base.AIProvider` backed by DeepSeek; see the module docstring.

    ``json_mode`` sends ``response_format: json_object``; by default it is on for chat models
    and off for reasoning models, which may not support it (the prompt asks for JSON either
    way). ``backoff_base`` and ``backoff_cap`` (seconds) shape the wait between attempts:
    attempt n waits between half and all of ``min(cap, base * 2**(n-1))``, or ``Retry-After``
    if the server asks for longer.
    """

    name = "deepseek"

    def __init__(
        self,
        settings: AISettings,
        *,
        json_mode: bool | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_tokens: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not settings.api_key:
            raise ConfigError("the deepseek provider needs DEEPSEEK_API_KEY")
        if not 0 <= backoff_base <= backoff_cap:
            raise ValueError("backoff needs 0 <= backoff_base <= backoff_cap")
        self.model = settings.model
        self._settings = settings
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        self._pool = ConnectionPool(
            settings.base_url, max_idle=settings.max_concurrency, keepalive_expiry=60.0
        )
        self._head = self._pool.request_head(
            "/chat/completions",
            {
                "Authorization": f"Bearer {settings.api_key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "proxima-worker",
            },
        )
        self._json_mode = (not is_reasoner(self.model)) if json_mode is None else json_mode
        # R1's max_tokens covers its reasoning as well as the answer.
        self._max_tokens = max_tokens or (32768 if is_reasoner(self.model) else 8192)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        # A refresh's requests go ahead of the weekly batch's (see worker.ai.slots).
        self._slots = RequestSlots(settings.max_concurrency)

    def __repr__(self) -> str:  # never the key
        return f"DeepSeekProvider(model={self.model!r}, base_url={self._settings.base_url!r})"

    # -- the AIProvider protocol -----------------------------------------------------------------

    async def write_story(self, facts: WeekFacts) -> Generated[StoryDraft]:
        return await self._generate(
            Task.STORY, StoryDraft, lambda compact: prompts.story_messages(facts, compact=compact)
        )

    async def write_analysis(self, facts: WeekFacts) -> Generated[AnalysisAnswer]:
        generated = await self._generate(
            Task.ANALYSIS, AnalysisAnswer, lambda compact: prompts.analysis_messages(facts, compact=compact)
        )
        return Generated(cap_confidence(generated.answer, facts.max_confidence), generated.usage)

    async def write_moves(self, facts: WeekFacts, analysis: AnalysisAnswer) -> Generated[MovesAnswer]:
        return await self._generate(
            Task.MOVES, MovesAnswer, lambda compact: prompts.moves_messages(facts, analysis, compact=compact)
        )

    async def aclose(self) -> None:
        await self._pool.aclose()

    # -- one call: an answer, and at most one repair ---------------------------------------------

    async def _generate(
        self, task: Task, schema: type[A], build: Callable[[bool], list[Message]]
    ) -> Generated[A]:
        """``build(compact)`` makes the request; a request longer than the model's context is
        made again compact (the person's free text cut shorter), once."""
        messages = build(False)
        try:
            first = await self._complete(messages)
        except _ContextTooLongError:
            log.info("deepseek_context_too_long", task=str(task), model=self.model, retry="compact")
            messages = build(True)
            first = await self._complete_or_retry_later(messages)
        try:
            return Generated(parse_answer(first.content, schema), first.usage)
        except InvalidAnswerError as problem:
            log.info("deepseek_repair", task=str(task), model=self.model, reason=problem.safe_reason)
            answer = strip_thinking(first.content)
            for_model = problem.for_model
        try:
            second = await self._complete(prompts.repair_messages(messages, answer, for_model))
        except _ContextTooLongError:
            # The bad answer made the repair too long: ask again from scratch instead.
            second = await self._complete_or_retry_later(prompts.repair_messages(messages, None, for_model))
        usage = first.usage + second.usage
        try:
            return Generated(parse_answer(second.content, schema), usage)
        except InvalidAnswerError as problem:
            raise AIRetryableError(
                f"DeepSeek: invalid answer after one repair: {problem.safe_reason}"
            ) from None

    # -- one completion: retried attempts --------------------------------------------------------

    async def _complete_or_retry_later(self, messages: Sequence[Message]) -> _Completion:
        """:meth:`_complete`, where a request still too long is worth a later attempt."""
        try:
            return await self._complete(messages)
        except _ContextTooLongError:
            raise AIRetryableError(
                "DeepSeek: the request is longer than the model's context even when shortened"
            ) from None

    async def _complete(self, messages: Sequence[Message]) -> _Completion:
        """A non-empty answer to ``messages``; the usage of every attempt that was billed."""
        billed = Usage()
        attempts = self._settings.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                completion = await self._request(messages)
            except _TransientError as failure:
                billed += failure.usage
                longer_than_we_wait = (
                    failure.retry_after is not None and failure.retry_after > self._backoff_cap
                )
                if attempt == attempts or longer_than_we_wait:
                    raise AIRetryableError(
                        f"DeepSeek: {failure.reason} (attempt {attempt} of {attempts})",
                        retry_after=failure.retry_after,
                    ) from None
                delay = self.backoff(attempt, failure.retry_after)
                log.warning(
                    "deepseek_retry", model=self.model, reason=failure.reason, attempt=attempt, delay=delay
                )
                await asyncio.sleep(delay)
                continue
            return _Completion(completion.content, billed + completion.usage)
        raise AssertionError("unreachable: max_attempts is at least 1")

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        ceiling = min(self._backoff_cap, self._backoff_base * 2.0 ** (attempt - 1))
        delay = ceiling * self._rng.uniform(0.5, 1.0)
        return max(delay, retry_after) if retry_after is not None else delay

    async def _request(self, messages: Sequence[Message]) -> _Completion:
        """One HTTP round trip; raises :class:`_TransientError` or :class:`AIPermanentError`."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "stream": False,
            "max_tokens": self._max_tokens,
        }
        if not is_reasoner(self.model):
            body["temperature"] = 0.7  # varied wording, stable structure; R1 ignores temperature
        if self._json_mode:
            body["response_format"] = {"type": "json_object"}
        # orjson: compact UTF-8 as json.dumps(ensure_ascii=False) writes it, in C (the body
        # holds no float but the fixed temperature, so nothing is written differently).
        payload = orjson.dumps(body)
        async with self._slots:
            started = time.monotonic()
            try:
                # The whole exchange is bounded: under load DeepSeek keeps the connection alive
                # with blank lines, which would reset a read timeout forever.
                async with asyncio.timeout(self._settings.timeout_seconds):
                    response = await self._pool.post(self._head, payload)
            except TimeoutError:
                metrics.model_request("timeout")
                raise _TransientError(f"no answer within {self._settings.timeout_seconds:g} s") from None
            except TransportError as exc:
                metrics.model_request("transport")
                raise _TransientError(f"the connection failed ({exc.kind})") from None
        # The slot is free: let the request waiting for it go out before this answer is
        # parsed and checked (milliseconds of CPU). Answers come in bursts; without this
        # turn a freed slot idled until every answer of the burst had been checked.
        await asyncio.sleep(0)
        status = response.status
        if status == 200:
            try:
                completion = self._completion(response.text)
            except _TransientError as exc:
                metrics.model_request("invalid", time.monotonic() - started)
                metrics.model_tokens(
                    exc.usage.prompt_tokens, exc.usage.cache_hit_tokens, exc.usage.completion_tokens
                )
                raise
            metrics.model_request("ok", time.monotonic() - started)
            usage = completion.usage
            metrics.model_tokens(usage.prompt_tokens, usage.cache_hit_tokens, usage.completion_tokens)
            return completion
        metrics.model_request(str(status), time.monotonic() - started)
        if status >= 500 or status in _RETRY_STATUSES:
            raise _TransientError(f"the server answered {status}", retry_after=_retry_after(response))
        raise self._refusal(status, response.text)

    def _completion(self, text: str) -> _Completion:
        # Under load the body starts with blank lines (keep-alive) before the JSON.
        try:
            data = json.loads(text.lstrip())
            choice = data["choices"][0]
            message = choice["message"]
        except (ValueError, LookupError, TypeError):
            raise _TransientError("the server sent a malformed answer") from None
        usage = _usage(data.get("usage"))
        content = message.get("content") if isinstance(message, dict) else None
        finish = choice.get("finish_reason") if isinstance(choice, dict) else None
        if finish == "insufficient_system_resource":
            raise _TransientError("the server interrupted the answer (insufficient resources)", usage=usage)
        if not isinstance(content, str) or not content.strip():
            raise _TransientError("the model sent an empty answer", usage=usage)
        return _Completion(content, usage)

    def _refusal(self, status: int, text: str) -> Exception:
        # What the server said is only matched here, never kept: it may echo the request.
        said = _server_message(text)
        if status in (400, 413, 422) and _CONTEXT_TOO_LONG.search(said):
            return _ContextTooLongError(f"longer than the model's context ({status})")
        if status in (400, 404, 422) and _MODEL_NOT_FOUND.search(said):
            return AIPermanentError(f"DeepSeek: model {self.model!r} not found: check DEEPSEEK_MODEL")
        if status == 401:
            return AIPermanentError("DeepSeek: the API key was refused (401): check DEEPSEEK_API_KEY")
        if status == 402:
            return AIPermanentError("DeepSeek: insufficient balance (402): top up the account")
        if status == 403:
            return AIPermanentError(
                "DeepSeek: access was refused (403): check DEEPSEEK_API_KEY and the account"
            )
        if status == 404:
            return AIPermanentError(f"DeepSeek: {self._url} was not found (404): check DEEPSEEK_BASE_URL")
        kind = _server_error_kind(text)
        return AIPermanentError(f"DeepSeek: the request was rejected ({status}{f', {kind}' if kind else ''})")


# -- answers: from text to a validated model ------------------------------------------------------


class InvalidAnswerError(Exception):
    """An answer that cannot be used.

    ``for_model`` is quoted to the model in the repair request (it may echo the answer's
    words); ``safe_reason`` goes into logs and exception messages (quoted text removed).
    """

    def __init__(self, for_model: str, safe_reason: str) -> None:
        super().__init__(safe_reason)
        self.for_model = for_model
        self.safe_reason = safe_reason


def strip_thinking(text: str) -> str:
    """``text`` without ``<think>...</think>`` blocks, nor anything before a stray ``</think>``."""
    text = _THINK_BLOCK.sub("", text)
    closing = text.lower().rfind("</think>")
    return text[closing + len("</think>") :] if closing != -1 else text


def _object_end(text: str, start: int) -> int | None:
    """The end of the balanced ``{...}`` starting at ``start`` (braces in strings ignored)."""
    depth = 0
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def extract_json_object(text: str) -> dict[str, Any]:
    """The largest top-level JSON object in a model's answer.

    Tolerates reasoning in ``<think>`` blocks, Markdown fences and prose around the object.
    Raises :class:`InvalidAnswerError` when there is none.
    """
    text = strip_thinking(text)
    best: dict[str, Any] | None = None
    best_size = 0
    error: str | None = None
    start = text.find("{")
    for _ in range(_MAX_CANDIDATES):
        if start == -1:
            break
        # The usual case first, in C: a valid object ends exactly where its braces balance.
        try:
            value, end = _LENIENT.raw_decode(text, start)
        except json.JSONDecodeError:
            found = _object_end(text, start)
            if found is None:
                error = error or "the JSON object is not closed (cut off?)"
                break
            end = found
            try:
                # strict=False: models sometimes put raw newlines inside strings.
                value = json.loads(text[start:end], strict=False)
            except json.JSONDecodeError as exc:
                error = error or f"the answer is not valid JSON: {exc.msg} at character {exc.pos}"
                start = text.find("{", end)
                continue
        if isinstance(value, dict) and end - start > best_size:
            best, best_size = value, end - start
        start = text.find("{", end)
    if best is None:
        reason = error or "the answer holds no JSON object"
        raise InvalidAnswerError(reason, reason)
    return best


def _safe_error_line(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ())) or "(the answer)"
    message = " ".join(str(error.get("msg", "invalid")).split())
    # Our validators quote the offending words; those are health text, kept out of logs.
    return f"{location}: {_QUOTED.sub('...', message)[:160]}"


def parse_answer(text: str, schema: type[A]) -> A:
    """The answer in ``text`` validated as ``schema``; :class:`InvalidAnswerError` if it is not."""
    data = extract_json_object(text)
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        safe = "; ".join(_safe_error_line(error) for error in errors[:3])
        if len(errors) > 3:
            safe += f"; and {len(errors) - 3} more"
        raise InvalidAnswerError(prompts.describe_validation_errors(errors), safe) from None


def cap_confidence(answer: AnalysisAnswer, bound: int) -> AnalysisAnswer:
    """``answer`` with every confidence and probability at most ``bound``."""
    return answer.model_copy(
        update={
            "insights": [
                i if i.confidence <= bound else i.model_copy(update={"confidence": bound})
                for i in answer.insights
            ],
            "predictions": [
                p if p.probability <= bound else p.model_copy(update={"probability": bound})
                for p in answer.predictions
            ],
        }
    )


# -- HTTP details ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Completion:
    content: str
    usage: Usage


class _ContextTooLongError(Exception):
    """The server refused the request as longer than the model's context (a 400): a
    shorter request may pass, so this is never a permanent failure."""


class _TransientError(Exception):
    """One attempt failed in a way another attempt may not; ``usage`` if it was billed."""

    def __init__(self, reason: str, *, retry_after: float | None = None, usage: Usage | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.usage = usage or Usage()


def _usage(raw: Any) -> Usage:
    """One round trip's usage; DeepSeek's cache hits are ``prompt_cache_hit_tokens``."""
    raw = raw if isinstance(raw, dict) else {}

    def count(key: str) -> int:
        value = raw.get(key)
        return value if type(value) is int and value >= 0 else 0  # not a bool (true is no count)

    return Usage(
        prompt_tokens=count("prompt_tokens"),
        completion_tokens=count("completion_tokens"),
        cache_hit_tokens=count("prompt_cache_hit_tokens"),
        round_trips=1,
    )


def _retry_after(response: Response) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date), if the server sent one."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, min(seconds, 86400.0))


def _server_error_kind(text: str) -> str | None:
    """The ``type`` (else ``code``) of the server's error when it is a short lower_snake_case
    word such as ``invalid_request_error``; anything else (which could carry a value of the
    request) is None."""
    try:
        data = json.loads(text.lstrip())
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    for field in ("type", "code"):
        value = error.get(field)
        if isinstance(value, str) and _ERROR_KIND.fullmatch(value):
            return value
    return None


def _server_message(text: str) -> str:
    """The server's own error message, on one line and truncated."""
    message: Any = None
    try:
        data = json.loads(text.lstrip())
        message = data.get("error", {}).get("message") if isinstance(data, dict) else None
        if message is None and isinstance(data, dict):
            message = data.get("message") or data.get("detail")
    except (ValueError, AttributeError):
        pass
    said = " ".join(str(message if message is not None else text).split()) or "(no message)"
    limit = _SERVER_MESSAGE_LIMIT
    return said if len(said) <= limit else said[: limit - 3] + "..."
