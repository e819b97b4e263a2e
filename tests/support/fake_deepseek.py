"""A fake DeepSeek chat-completions server on 127.0.0.1, for tests and benchmarks.

It is a real HTTP/1.1 server (keep-alive, one thread per connection) in a background
thread, so sync tests, ``asyncio`` code and other processes can all talk to it::

    with FakeDeepSeek(api_key="sk-test") as fake:
        fake.script(Reply(status=503, error="Server overloaded"))   # the first request
        ...                                                          # later ones: valid answers
        settings = AISettings(provider="deepseek", api_key="sk-test", base_url=fake.url)
        assert len(fake.requests) == 2

What it guarantees:

* every request is recorded (:attr:`FakeDeepSeek.requests`: path, lower-cased headers,
  parsed JSON body, arrival time), up to ``max_recorded`` (the oldest are dropped);
* a request is answered by the next scripted :class:`Reply` if any, else by a valid answer
  for its task (story, analysis or moves, recognised by the task instruction of
  :mod:`worker.ai.prompts`), built from the facts in the message by ``answer`` (default:
  :func:`default_answer`, a few short sentences; :func:`offline_answer` writes what the
  offline provider would, as long and varied as a report);
* a wrong ``Authorization`` (when ``api_key`` is set) is a 401 and an unknown model a 400
  "Model Not Exist", as DeepSeek answers them, before any script is consumed;
* ``usage`` is computed like DeepSeek's: tokens are characters / 4, and
  ``prompt_cache_hit_tokens`` is the longest prefix of the prompt, in whole 64-token blocks,
  that an earlier request's prompt shared (DeepSeek's prefix cache stores 64-token units);
* ``latency`` delays every answer and ``max_concurrency`` caps the requests being worked on
  at once (the others wait silently, as a busy server's queue does); ``peak_concurrency``
  says how many were in flight at most;
* it binds to 127.0.0.1 only, refuses bodies over 8 MiB, and :meth:`FakeDeepSeek.stop`
  (or leaving the ``with`` block) ends every wait and the server thread promptly.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import http.server
import itertools
import json
import math
import random
import threading
import time
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar, cast

from worker.ai.local import LocalProvider
from worker.ai.prompts import TASK_INSTRUCTIONS, WEEK_OPEN, Task
from worker.report import (
    ActivityCounts,
    BodyAreaTrend,
    ScanFact,
    ShadowPatternFact,
    StoryFact,
    SymptomTrend,
    Trend,
    WeekFacts,
    WeekWindow,
)

__all__ = [
    "Answerer",
    "FakeDeepSeek",
    "RecordedRequest",
    "Reply",
    "analysis_answer",
    "default_answer",
    "moves_answer",
    "offline_answer",
    "sample_week_facts",
    "story_answer",
]

T = TypeVar("T")

Answerer = Callable[[Task, dict[str, Any]], dict[str, Any] | str]
"""Makes the ``content`` of a default answer from the task and the facts (a dict or a string)."""

_MAX_BODY = 8 * 1024 * 1024
_CACHE_MAX_BLOCKS = 1_000_000  # prefix hashes kept before the simulated cache is emptied


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``Reply()`` is the default valid answer; ``Reply(content="")`` a 200 with empty content;
    ``Reply(status=503, error="Server overloaded")`` an error in DeepSeek's format;
    ``Reply(body="...")`` sends that body text as is. ``delay`` waits before anything is
    sent, and ``blank_lines`` sends that many blank lines before the body (DeepSeek's
    keep-alive under load).
    """

    status: int = 200
    content: str | None = None
    reasoning_content: str | None = None
    error: str | None = None
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    blank_lines: int = 0
    finish_reason: str = "stop"


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server saw it."""

    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    received_at: float

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    @property
    def task(self) -> Task | None:
        """The task named by the first user message, if it is one of ours."""
        return _task_of(self.messages)


def _task_of(messages: list[dict[str, Any]]) -> Task | None:
    for message in messages:
        if message.get("role") == "user":
            content = str(message.get("content", ""))
            return next((t for t, text in TASK_INSTRUCTIONS.items() if content.startswith(text)), None)
    return None


def _facts_of(messages: list[dict[str, Any]], task: Task) -> dict[str, Any]:
    user = next(str(m.get("content", "")) for m in messages if m.get("role") == "user")
    start = len(TASK_INSTRUCTIONS[task]) + len(WEEK_OPEN)
    if not user.startswith(WEEK_OPEN, len(TASK_INSTRUCTIONS[task])):
        raise ValueError("the week is not fenced as untrusted data")
    facts, _ = json.JSONDecoder().raw_decode(user, start)
    return cast(dict[str, Any], facts)


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


class FakeDeepSeek:
    """A chat-completions server on ``127.0.0.1:<free port>``; see the module docstring."""

    def __init__(
        self,
        *,
        answer: Answerer | None = None,
        api_key: str | None = None,
        models: Collection[str] = ("deepseek-chat", "deepseek-reasoner"),
        latency: float = 0.0,
        max_concurrency: int | None = None,
        cache_block_tokens: int = 64,
        max_recorded: int = 10_000,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.answer: Answerer = answer or default_answer
        self.api_key = api_key
        self.models = frozenset(models)
        self.latency = latency
        self.max_concurrency = max_concurrency
        self._block_chars = max(1, cache_block_tokens) * 4
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._slots = threading.Semaphore(max_concurrency) if max_concurrency else None
        self._script: collections.deque[Reply] = collections.deque()
        self._recorded: collections.deque[RecordedRequest] = collections.deque(maxlen=max_recorded)
        self._usages: collections.deque[dict[str, int]] = collections.deque(maxlen=max_recorded)
        self._cached_prefixes: set[bytes] = set()
        self._in_flight = 0
        self._peak = 0
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> FakeDeepSeek:
        if self._server is not None:
            raise RuntimeError("the fake server is already running")
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-deepseek", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still waiting (delay, latency, a slot) end at once."""
        self._stopping.set()
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeDeepSeek:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to configure (``DEEPSEEK_BASE_URL``)."""
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- what the tests drive and read -----------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order; then default answers again."""
        with self._lock:
            self._script.extend(replies)

    @property
    def pending_replies(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._recorded)

    @property
    def usages(self) -> list[dict[str, int]]:
        """The ``usage`` of every completion sent (scripted raw bodies excepted), in order."""
        with self._lock:
            return list(self._usages)

    @property
    def peak_concurrency(self) -> int:
        with self._lock:
            return self._peak

    def clear(self) -> None:
        """Forget the recorded requests, the script and the simulated cache."""
        with self._lock:
            self._recorded.clear()
            self._usages.clear()
            self._script.clear()
            self._cached_prefixes.clear()
            self._peak = 0

    # -- serving (handler threads) ---------------------------------------------------------

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; ``False`` when the server is stopping."""
        return not (seconds > 0 and self._stopping.wait(seconds)) and not self._stopping.is_set()

    def _enter(self) -> bool:
        if self._slots is not None:
            while not self._slots.acquire(timeout=0.05):
                if self._stopping.is_set():
                    return False
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
        return True

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
        if self._slots is not None:
            self._slots.release()

    def _record(
        self, path: str, headers: Mapping[str, str], body: Mapping[str, Any], *, consume: bool = True
    ) -> Reply | None:
        """Record the request; the next scripted reply, if ``consume`` and there is one."""
        with self._lock:
            self._recorded.append(RecordedRequest(path, dict(headers), body, time.monotonic()))
            return self._script.popleft() if consume and self._script else None

    def _cache_hit_tokens(self, prompt: str) -> int:
        """Tokens of the longest block-aligned prefix seen before; remembers this prompt's."""
        data = prompt.encode()
        size = self._block_chars
        running = hashlib.blake2b(digest_size=16)
        keys = []
        for start in range(0, len(data) - size + 1, size):
            running.update(data[start : start + size])
            keys.append(running.digest())
        with self._lock:
            hits = 0
            for key in keys:
                if key not in self._cached_prefixes:
                    break
                hits += 1
            if len(self._cached_prefixes) + len(keys) > _CACHE_MAX_BLOCKS:
                self._cached_prefixes.clear()
            self._cached_prefixes.update(keys)
        return min(hits * size // 4, _tokens(prompt))

    def _completion(self, request: Mapping[str, Any], reply: Reply) -> str:
        messages = [m for m in request.get("messages", []) if isinstance(m, dict)]
        model = str(request.get("model", ""))
        content = reply.content
        if content is None:
            task = _task_of(messages)
            if task is None:
                raise _RefusalError(400, "fake DeepSeek: the request names none of the known tasks")
            made = self.answer(task, _facts_of(messages, task))
            content = made if isinstance(made, str) else json.dumps(made)
        reasoning = reply.reasoning_content
        if reasoning is None and "reasoner" in model:
            reasoning = "The week has a few clear trends; I will keep the numbers within the bound."
        prompt = "".join(f"{m.get('role')}\n{m.get('content')}\n" for m in messages)
        prompt_tokens = _tokens(prompt)
        hit = self._cache_hit_tokens(prompt)
        completion_tokens = _tokens(content) + _tokens(reasoning or "")
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_cache_hit_tokens": hit,
            "prompt_cache_miss_tokens": prompt_tokens - hit,
        }
        with self._lock:
            self._usages.append(usage)
        return json.dumps(
            {
                "id": f"fake-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}
                ],
                "usage": usage,
            }
        )

    def _respond(self, path: str, headers: Mapping[str, str], body: Mapping[str, Any]) -> tuple[Reply, str]:
        """The reply to send and its body text (raises :class:`_RefusalError` for protocol errors)."""
        refusal = None
        if not path.rstrip("/").endswith("/chat/completions"):
            refusal = _RefusalError(404, "Not Found")
        elif self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            refusal = _RefusalError(
                401, "Authentication Fails, Your api key is invalid", "authentication_error"
            )
        elif body.get("model") not in self.models:
            refusal = _RefusalError(400, "Model Not Exist")
        reply = self._record(path, headers, body, consume=refusal is None) or Reply()
        if refusal is not None:
            raise refusal
        if reply.body is not None:
            return reply, reply.body
        if reply.status != 200:
            return reply, _error_body(reply.error or "fake error", "api_error")
        return reply, self._completion(body, reply)


class _RefusalError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def _error_body(message: str, kind: str) -> str:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # a benchmark opens many connections at once; 5 would drop SYNs
    fake: FakeDeepSeek


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the provider's pooled client expects
    # Headers and body go out as two writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK (40 ms on Linux), which would add to every answer's latency.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
        return

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or -1)
        if not 0 <= length <= _MAX_BODY:
            self._send(413 if length > _MAX_BODY else 411, _error_body("bad Content-Length", "bad_request"))
            self.close_connection = True
            return
        raw = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            fake._record(self.path, headers, {})
            self._send(400, _error_body("Failed to deserialize the JSON body", "invalid_request_error"))
            return
        if not fake._enter():
            self.close_connection = True
            return
        try:
            try:
                reply, text = fake._respond(self.path, headers, parsed)
            except _RefusalError as refusal:
                self._send(refusal.status, _error_body(refusal.message, refusal.kind))
                return
            if not fake._sleep(fake.latency + reply.delay):
                self.close_connection = True
                return
            self._send(reply.status, text, reply.headers, reply.blank_lines)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True
        finally:
            fake._leave()

    def do_GET(self) -> None:
        self._send(404, _error_body("Not Found", "invalid_request_error"))

    def _send(self, status: int, text: str, headers: Mapping[str, str] | None = None, blank: int = 0) -> None:
        prefix = b"\n" * blank
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(prefix) + len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if prefix:
            self.wfile.write(prefix)
            self.wfile.flush()
            self.server.fake._sleep(0.02)  # so the client reads the blank lines on their own
        self.wfile.write(body)
        self.wfile.flush()


# -- default answers, valid for worker.report's models ------------------------------------------


def _symptom_names(facts: Mapping[str, Any]) -> list[str]:
    names = [str(s.get("symptom_name")) for s in facts.get("symptoms", []) if s.get("symptom_name")]
    return names or ["energy"]


def _bound(facts: Mapping[str, Any], value: int) -> int:
    return max(0, min(value, int(facts.get("max_confidence", 100))))


def story_answer(facts: Mapping[str, Any]) -> dict[str, Any]:
    """A valid ``StoryDraft`` built from the facts."""
    names = _symptom_names(facts)
    window = facts.get("window", {})
    return {
        "title": f"A steadier week with {names[0]}",
        "subtitle": f"The week of {window.get('week_of', 'this week')}, in your own notes",
        "story_text": (
            f"This week you kept track of {', '.join(names[:3])}. The first days were busy and the "
            "middle of the week brought an energy dip.\n\nBy the weekend things had settled, and "
            "your notes show you made time for rest."
        ),
    }


def analysis_answer(facts: Mapping[str, Any]) -> dict[str, Any]:
    """A valid ``AnalysisAnswer``: three insights, two predictions, one wording per shadow pattern."""
    names = _symptom_names(facts)
    kinds = ("positive", "warning", "neutral")
    insights = [
        {
            "insight_type": kinds[i],
            "title": f"{names[i % len(names)].capitalize()} this week",
            "description": f"You logged {names[i % len(names)]} on a few days, with a clear rhythm.",
            "confidence": _bound(facts, 55 - 5 * i),
            "evidence": [f"{names[i % len(names)]}: logged this week"],
        }
        for i in range(3)
    ]
    predictions = [
        {
            "event_description": f"An energy dip around the middle of the week ({n}).",
            "probability": _bound(facts, 40),
            "timeframe": "next 7 days",
            "preventable": True,
            "reasoning": f"The last weeks show {n} clustering around busy days.",
            "suggested_actions": ["Plan a short break in the afternoon", "Keep a glass of water nearby"],
        }
        for n in (names[0], names[-1])
    ]
    shadows = [
        {
            "pattern_name": str(p.get("pattern_name", "A quiet pattern")),
            "last_seen_description": f"Last mentioned on {p.get('last_mentioned_date')}, often before then.",
        }
        for p in facts.get("shadow_patterns", [])[:4]
    ]
    return {"insights": insights, "predictions": predictions, "shadow_patterns": shadows}


def moves_answer(facts: Mapping[str, Any]) -> dict[str, Any]:
    """A valid ``MovesAnswer``: five distinct moves."""
    kinds = ("discovery", "pattern", "prevention", "optimization", "pattern")
    steps = (
        "Note the time of day whenever {n} shows up",
        "Keep the calmer routine of your best day for {n}",
        "Take a ten-minute walk after lunch on busy days",
        "Keep the evening wind-down that helped your sleep",
        "Check in with yourself each evening about {n}",
    )
    name = _symptom_names(facts)[0]
    return {
        "strategic_moves": [
            {
                "strategy": step.format(n=name) + ".",
                "strategy_type": kind,
                "priority": i + 1,
                "rationale": "It follows the pattern the first answer described.",
                "expected_outcome": "A clearer picture of what helps, in a week.",
            }
            for i, (step, kind) in enumerate(zip(steps, kinds, strict=True))
        ]
    }


def default_answer(task: Task, facts: dict[str, Any]) -> dict[str, Any]:
    """The valid answer for ``task``: :func:`story_answer`, :func:`analysis_answer` or :func:`moves_answer`."""
    makers = {Task.STORY: story_answer, Task.ANALYSIS: analysis_answer, Task.MOVES: moves_answer}
    return makers[task](facts)


def _finished(step: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never waits (the offline provider's methods)."""
    try:
        step.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    step.close()
    raise RuntimeError("the offline provider waited for something")


def offline_answer(task: Task, facts: dict[str, Any]) -> dict[str, Any]:
    """The answer the offline provider (:class:`worker.ai.local.LocalProvider`) writes for
    the facts: a report's length and variety (every insight, prediction and move in its own
    words), where :func:`default_answer` repeats a few short sentences. For benches whose
    figure depends on what the worker reads and checks; it costs the server a report's
    writing and validation per request. The moves' first answer is written again from the
    facts (the offline provider is deterministic: the same as the analysis request got)."""
    week = WeekFacts.model_validate({**facts, "display_name": None})  # the name is never sent
    provider = LocalProvider()
    if task is Task.STORY:
        return _finished(provider.write_story(week)).answer.model_dump(mode="json")
    analysis = _finished(provider.write_analysis(week)).answer
    if task is Task.ANALYSIS:
        return analysis.model_dump(mode="json")
    return _finished(provider.write_moves(week, analysis)).answer.model_dump(mode="json")


# -- realistic facts ----------------------------------------------------------------------------

_NAMES = ("Maya", "Jonas", "Priya", "Tomás", "Aiko", "Femi", "Lena", "Omar")
_SYMPTOMS = (
    ("headache", "head"),
    ("fatigue", None),
    ("lower back pain", "lower back"),
    ("poor sleep", None),
    ("neck tension", "neck"),
    ("bloating", "abdomen"),
    ("dizziness", "head"),
    ("knee ache", "knee"),
)
_STORY = (
    "Work got busy again after a quiet stretch, and I noticed the afternoons were the hardest. "
    "I started the week with good intentions about going to bed earlier, but two late evenings "
    "with deadlines pushed that back. On Wednesday I skipped lunch and by four o'clock I felt "
    "completely drained, with a dull ache behind my eyes that stayed into the evening. Thursday "
    "was better: I walked to the office, drank more water and took a proper break at noon. The "
    "weekend was calm. I spent Saturday morning at the market and Sunday with family, and I "
    "slept almost nine hours on Saturday night, which I have not done in weeks. My back was "
    "stiff after the long drive on Sunday, but stretching in the evening helped."
)


def sample_week_facts(person: int = 0, *, display_name: str | None = None) -> WeekFacts:
    """A realistic ``WeekFacts`` for a made-up person; different ``person`` values differ
    in name, symptoms, counts, scans and notes, and equal values give equal facts."""
    rng = random.Random(person)
    week_of = dt.date(2026, 11, 16) + dt.timedelta(weeks=person % 5)
    end = week_of + dt.timedelta(days=6)
    chosen = rng.sample(_SYMPTOMS, 4)
    symptoms = []
    for i, (name, part) in enumerate(chosen):
        counts = [rng.randint(0, 5) for _ in range(4)] + [rng.randint(1, 6)]
        severity: list[float | None] = [round(rng.uniform(2, 7), 1) if c else None for c in counts]
        trend: Trend = ("rising", "steady", "falling", "new")[i]
        if trend == "new":
            counts, severity = [0, 0, 0, 0, counts[-1]], [None, None, None, None, severity[-1]]
        symptoms.append(
            SymptomTrend(
                symptom_name=name,
                body_part=part,
                weekly_counts=counts,
                weekly_avg_severity=severity,
                trend=trend,
                last_date=end - dt.timedelta(days=rng.randint(0, 3)),
            )
        )
    weeks = [
        ActivityCounts(
            oracle_conversations=rng.randint(0, 4),
            oracle_messages=rng.randint(0, 30),
            quick_scans=rng.randint(0, 3),
            deep_dives=rng.randint(0, 1),
            symptom_entries=rng.randint(2, 14),
            story_notes=rng.randint(0, 3),
        )
        for _ in range(5)
    ]
    parts = sorted({part for _, part in chosen if part} | {"lower back"})
    return WeekFacts(
        display_name=display_name if display_name is not None else _NAMES[person % len(_NAMES)],
        window=WeekWindow(week_of=week_of, start=week_of, end=end, timezone="Europe/Berlin"),
        activity=weeks[-1],
        activity_by_week=weeks,
        symptoms=symptoms,
        body_areas=[
            BodyAreaTrend(body_part=part, weekly_counts=[rng.randint(0, 4) for _ in range(5)])
            for part in parts
        ],
        shadow_patterns=[
            ShadowPatternFact(
                pattern_name="morning stiffness",
                pattern_category="symptom",
                last_mentioned_date=week_of - dt.timedelta(days=9),
                days_missing=9 + rng.randint(0, 5),
                historical_frequency={"weeks_present": 3, "occurrences": rng.randint(3, 8)},
                significance="medium",
            ),
            ShadowPatternFact(
                pattern_name="evening walks",
                pattern_category="habit",
                last_mentioned_date=week_of - dt.timedelta(days=12),
                days_missing=12,
                historical_frequency={"weeks_present": 2, "occurrences": 4},
                significance="low",
            ),
        ],
        scans=[
            ScanFact(
                date=week_of + dt.timedelta(days=2),
                kind="quick_scan",
                body_part=chosen[0][1] or "head",
                urgency_level="low",
                summary=f"Recurring {chosen[0][0]} in the afternoons, worse after long screen sessions.",
            ),
            ScanFact(
                date=week_of + dt.timedelta(days=5),
                kind="deep_dive",
                body_part="lower back",
                urgency_level="medium",
                summary="Stiffness after sitting for long periods; eases with movement and stretching.",
            ),
        ],
        story=StoryFact(
            title="A busy week at work",
            subtitle="Deadlines, late evenings and a calm weekend",
            story_text=_STORY,
            notes=[
                "Skipped lunch on Wednesday; energy crashed by 4 pm.",
                f"{chosen[1][0].capitalize()} was easier after the walk on Thursday.",
                "Slept nine hours on Saturday.",
            ][: 1 + person % 3],
        ),
        data_strength=round(0.55 + 0.1 * (person % 4), 2),
        max_confidence=70 + 5 * (person % 4),
    )
