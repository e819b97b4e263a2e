"""The strings of a report as the guard reads them: every string field of an answer,
nested answers' included, and the whole of what the offline provider writes for a week."""

from __future__ import annotations

from pydantic import BaseModel

from worker.ai.local import LocalProvider
from worker.report import WeekFacts


def answer_strings(model: BaseModel) -> list[str]:
    """Every string ``model`` holds, in field order, lists and nested models included."""
    found: list[str] = []
    for _, value in model:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, BaseModel):
                found.extend(answer_strings(item))
    return found


async def offline_report_strings(facts: WeekFacts, provider: LocalProvider | None = None) -> list[str]:
    """The strings of the story, the analysis and the moves the offline provider writes."""
    provider = provider or LocalProvider()
    story = await provider.write_story(facts)
    analysis = await provider.write_analysis(facts)
    moves = await provider.write_moves(facts, analysis.answer)
    return answer_strings(story.answer) + answer_strings(analysis.answer) + answer_strings(moves.answer)
