"""The one protocol every AI provider speaks; callers never know which one they hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from worker.errors import PermanentError, RetryableError
from worker.report import AnalysisAnswer, MovesAnswer, StoryDraft, Usage, WeekFacts

T = TypeVar("T")


@dataclass(frozen=True)
class Generated(Generic[T]):
    """A validated answer and what it cost."""

    answer: T
    usage: Usage


class AIRetryableError(RetryableError):
    """The model could not answer now (rate limit, overload, timeout, invalid answer twice)."""


class AIPermanentError(PermanentError):
    """Asking again will not help (bad key, no balance, unknown model): says what to fix."""


class AIProvider(Protocol):
    """Writes a person-week's report from its facts.

    ``write_analysis`` and ``write_moves`` are the two round trips of a person-week;
    ``write_story`` is a third, only when the week has no story yet. Every answer is
    validated against the models in :mod:`worker.report` before it is returned.
    """

    name: str
    model: str

    async def write_story(self, facts: WeekFacts) -> Generated[StoryDraft]: ...

    async def write_analysis(self, facts: WeekFacts) -> Generated[AnalysisAnswer]: ...

    async def write_moves(self, facts: WeekFacts, analysis: AnalysisAnswer) -> Generated[MovesAnswer]: ...

    async def aclose(self) -> None: ...
