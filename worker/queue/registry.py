"""Handlers by job kind, each with its retry policy and timeout."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from worker.queue.context import JobContext
from worker.queue.jobs import Job
from worker.queue.retry import RetryPolicy

Handler = Callable[[Job, JobContext], Awaitable[None]]

DEFAULT_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class KindConfig:
    handler: Handler
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    # Whether the handler validates a model's answers, and so reads them with the
    # medical-claim guard (worker.safety): a worker that may run it builds the guard first.
    checks_answers: bool = False


class Registry:
    """Which handler runs which kind. Unknown kinds fail with a clear error."""

    def __init__(self) -> None:
        self._kinds: dict[str, KindConfig] = {}
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` when the worker stops (e.g. close a shared HTTP client)."""
        self._closers.append(closer)

    async def aclose(self) -> None:
        for closer in self._closers:
            await closer()

    def register(
        self,
        kind: str,
        handler: Handler,
        *,
        retry: RetryPolicy | None = None,
        timeout_seconds: float | None = None,
        checks_answers: bool = False,
    ) -> None:
        if kind in self._kinds:
            raise ValueError(f"a handler for kind {kind!r} is registered already")
        if timeout_seconds is not None and timeout_seconds <= 0:
            raise ValueError("a timeout must be positive")
        self._kinds[kind] = KindConfig(
            handler=handler,
            retry=retry or RetryPolicy(),
            timeout_seconds=timeout_seconds or DEFAULT_TIMEOUT_SECONDS,
            checks_answers=checks_answers,
        )

    def get(self, kind: str) -> KindConfig | None:
        return self._kinds.get(kind)

    def checks_answers(self, kinds: Sequence[str] | None) -> bool:
        """Whether a worker that runs ``kinds`` (every registered kind when ``None``) may
        run a handler that validates a model's answers."""
        names = self._kinds if kinds is None else kinds
        return any(config.checks_answers for name in names if (config := self._kinds.get(name)))

    def kinds(self) -> list[str]:
        return sorted(self._kinds)

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds
