"""The offline provider's reports read as plain English at every count, one included."""

from __future__ import annotations

import asyncio
import re

import pytest
from fake_deepseek import sample_week_facts
from report_strings import offline_report_strings

from worker.report import ActivityCounts, BodyAreaTrend, WeekFacts

# A count of one with a plural noun: "1 times", "1 entries", "1 symptoms", ...
_ONE_PLURAL = re.compile(r"(?<![\d.,])1 (?:times|entries|symptoms|scans|notes|days|weeks|check-ins)\b")


def _report_texts(facts: WeekFacts) -> list[str]:
    return asyncio.run(offline_report_strings(facts))


def _one_entry_week(person: int) -> WeekFacts:
    """A person's week down to one symptom entry, in one body area, and nothing else."""
    facts = sample_week_facts(person)
    symptom = facts.symptoms[0].model_copy(
        update={
            "weekly_counts": [0, 0, 0, 0, 1],
            "weekly_avg_severity": [None, None, None, None, 3.0],
            "trend": "new",
        }
    )
    area = BodyAreaTrend(body_part=symptom.body_part or "whole body", weekly_counts=[0, 0, 0, 0, 1])
    quiet = ActivityCounts(symptom_entries=1)
    return facts.model_copy(
        update={
            "symptoms": [symptom],
            "body_areas": [area],
            "shadow_patterns": [],
            "scans": [],
            "story": None,
            "activity": quiet,
            "activity_by_week": [
                ActivityCounts(),
                ActivityCounts(),
                ActivityCounts(),
                ActivityCounts(),
                quiet,
            ],
            "findings": [],
            "data_strength": 0.1,
        }
    )


def test_a_week_of_one_entry_says_once_where_it_counts_one() -> None:
    texts = _report_texts(_one_entry_week(3))
    area = [t for t in texts if t.startswith("Over five weeks the")]
    assert area, "the body-area insight is written for a week of one entry"
    assert "came up once" in area[0]
    assert not [t for t in texts if _ONE_PLURAL.search(t)]


@pytest.mark.parametrize("person", range(0, 60, 3))
def test_no_report_pairs_one_with_a_plural(person: int) -> None:
    for facts in (sample_week_facts(person), _one_entry_week(person)):
        wrong = [t for t in _report_texts(facts) if _ONE_PLURAL.search(t)]
        assert not wrong, wrong
