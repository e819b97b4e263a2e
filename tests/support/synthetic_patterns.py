"""Synthetic people with a known truth, to measure ``find_patterns`` against it.

Every person has twelve local weeks (Monday 2026-09-07 to Sunday 2026-11-29) of background
activity, every day independent of every other:

* background symptoms, each logged on a day with a chance drawn from 6%..20% (5 to 17 days in
  the 12 weeks), on any weekday alike, at a flat severity (the person's level for it, 3..7,
  plus -2..+2 on each log);
* check-ins (quick scans, a fifth of them deep dives) on two body areas, each on 3%..10% of
  days, and a conversation on 15% of days (so the person is engaged from the first day).

A *null person* has five background symptoms, the check-ins and the conversations, and no
pattern: any finding on one is a false discovery. A *planted person* has five symptoms too, one or two of them carrying one planted
pattern of a chosen strength. ``STRENGTH`` holds the documented strengths: at them
``bench/pattern_power.py`` finds 95-98% of planted patterns, so the target of 90% holds with
room to spare at small sizes too (``--sweep`` shows where it falls below 90%):

==================  =====================================================================
kind                what is planted; ``strength`` (documented value)
==================  =====================================================================
co_occurrence       A on 15% of days; B on an A-day with chance ``strength`` (0.8), on
                    other days 8%
co_occurrence_area  A on 15% of days; a check-in on a body area (not A's own) on an A-day
                    with chance ``strength`` (0.75), on other days 5%
weekday             a symptom on one weekday with chance ``strength`` (0.8), on the
                    other days 6%
lagged              A on 15% of days; after an A-day, B on the next day or the one after
                    (even odds) with chance ``strength`` (0.95); B also on 8% of days
trend_frequency     a symptom whose daily chance moves linearly from 4% on the first day
                    to 4% + ``strength`` (0.9) on the last, or the reverse
trend_severity      a symptom on 35% of days whose mean severity moves linearly by
                    ``strength`` points (3.5) over the weeks, from 3 up or from 6.5
                    down, with -1..+1 on each log (rounded, within 1..10)
==================  =====================================================================

The lagged strength is the highest because its test asks about a two-day window: on days
without A, B falls in the next two days about twice as often as on one day, so the contrast
to beat is larger. Everything is drawn from the ``random.Random`` passed in: the same seed
gives the same person.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from worker.analysis.gather import Event
from worker.analysis.patterns import WEEKDAYS, PatternFinding, PatternInput

PlantedKind = Literal[
    "co_occurrence", "co_occurrence_area", "weekday", "lagged", "trend_frequency", "trend_severity"
]
PLANTED_KINDS: Final[tuple[PlantedKind, ...]] = (
    "co_occurrence",
    "co_occurrence_area",
    "weekday",
    "lagged",
    "trend_frequency",
    "trend_severity",
)
STRENGTH: Final[dict[PlantedKind, float]] = {
    "co_occurrence": 0.8,
    "co_occurrence_area": 0.75,
    "weekday": 0.8,
    "lagged": 0.95,
    "trend_frequency": 0.9,
    "trend_severity": 3.5,
}

LAST_DAY: Final = dt.date(2026, 11, 29)  # a Sunday
WEEKS: Final = 12
SYMPTOMS_PER_PERSON: Final = 5
BACKGROUND_RATE: Final = (0.06, 0.20)
PLANTED_RATE: Final = 0.15  # the leading symptom of co-occurrence and lagged patterns
PARTNER_RATE: Final = 0.08  # the second symptom's chance on any other day
AREA_RATE: Final = (0.03, 0.10)
CONVERSATION_RATE: Final = 0.15

SYMPTOMS: Final = (
    ("Headache", "head"),
    ("Neck stiffness", "neck"),
    ("Knee pain", "knee"),
    ("Nausea", "stomach"),
    ("Dizziness", "head"),
    ("Fatigue", None),
    ("Lower back pain", "lower back"),
    ("Heartburn", "chest"),
    ("Sore throat", "throat"),
    ("Ankle pain", "ankle"),
    ("Wrist ache", "wrist"),
    ("Bloating", "stomach"),
)
AREAS: Final = ("knee", "lower back", "wrist", "shoulder", "chest", "ankle", "neck", "head")


@dataclass(frozen=True)
class Planted:
    """What was planted, as ``find_patterns`` should report it."""

    kind: PlantedKind
    items: tuple[str, ...]
    weekday: str | None = None
    direction: Literal["rising", "falling"] | None = None

    def found_in(self, findings: Iterable[PatternFinding]) -> bool:
        return any(self.matches(f) for f in findings)

    def matches(self, finding: PatternFinding) -> bool:
        if self.kind in {"co_occurrence", "co_occurrence_area"}:
            return finding.kind == "co_occurrence" and set(finding.items) == set(self.items)
        if self.kind == "lagged":
            return finding.kind == "lagged" and finding.items == self.items
        if self.kind == "weekday":
            return (
                finding.kind == "weekday" and finding.items == self.items and finding.weekday == self.weekday
            )
        measure = "frequency" if self.kind == "trend_frequency" else "severity"
        return (
            finding.kind == "trend"
            and finding.items == self.items
            and finding.measure == measure
            and finding.direction == self.direction
        )


@dataclass(frozen=True)
class Person:
    events: tuple[Event, ...]
    first_day: dt.date
    last_day: dt.date
    planted: Planted | None

    @property
    def history(self) -> PatternInput:
        return PatternInput.from_events(self.events, self.first_day, self.last_day)


class _Builder:
    def __init__(self, rng: random.Random, weeks: int) -> None:
        self.rng = rng
        self.days = [LAST_DAY - dt.timedelta(days=i) for i in range(7 * weeks - 1, -1, -1)]
        self.events: list[Event] = []
        names = list(SYMPTOMS)
        rng.shuffle(names)
        self.free = names

    def name(self) -> tuple[str, str | None]:
        return self.free.pop()

    def symptom(self, name: tuple[str, str | None], day: dt.date, severity: int) -> None:
        self.events.append(
            Event("symptom", day, name[0], name[1], max(1, min(10, severity)), None, None, None)
        )

    def check_in(self, area: str, day: dt.date) -> None:
        if self.rng.random() < 0.2:
            self.events.append(Event("deep_dive", day, None, area, None, "completed", None, None))
        else:
            urgency = self.rng.choice(["low", "medium", "high"])
            self.events.append(Event("quick_scan", day, None, area, None, urgency, None, None))

    def background(self, symptoms: int, avoid_areas: Iterable[str] = ()) -> None:
        for _ in range(symptoms):
            name = self.name()
            rate = self.rng.uniform(*BACKGROUND_RATE)
            level = self.rng.randint(3, 7)
            for day in self.days:
                if self.rng.random() < rate:
                    self.symptom(name, day, level + self.rng.randint(-2, 2))
        areas = [a for a in AREAS if a not in set(avoid_areas)]
        for area in self.rng.sample(areas, 2):
            rate = self.rng.uniform(*AREA_RATE)
            for day in self.days:
                if self.rng.random() < rate:
                    self.check_in(area, day)
        for day in self.days:
            if self.rng.random() < CONVERSATION_RATE:
                self.events.append(Event("conversation", day, None, None, None, None, None, None))

    def person(self, planted: Planted | None) -> Person:
        events = tuple(sorted(self.events, key=lambda e: (e.day, e.source)))
        return Person(events, self.days[0], self.days[-1], planted)


def null_person(rng: random.Random, weeks: int = WEEKS) -> Person:
    """Four independent background symptoms and check-ins: nothing to find."""
    builder = _Builder(rng, weeks)
    builder.background(SYMPTOMS_PER_PERSON)
    return builder.person(None)


def planted_person(
    kind: PlantedKind, rng: random.Random, strength: float | None = None, weeks: int = WEEKS
) -> Person:
    """Three background symptoms and one pattern of ``kind`` at ``strength``
    (``STRENGTH[kind]`` when not given)."""
    strength = STRENGTH[kind] if strength is None else strength
    b = _Builder(rng, weeks)
    level = rng.randint(3, 7)
    if kind in {"co_occurrence", "lagged"}:
        lead, partner = b.name(), b.name()
        lead_days = {d for d in b.days if rng.random() < PLANTED_RATE}
        partner_days = {d for d in b.days if rng.random() < PARTNER_RATE}
        for day in sorted(lead_days):
            b.symptom(lead, day, level + rng.randint(-2, 2))
            if rng.random() < strength:
                if kind == "co_occurrence":
                    partner_days.add(day)
                else:
                    partner_days.add(day + dt.timedelta(days=rng.choice([1, 2])))
        for day in sorted(partner_days):
            if day <= b.days[-1]:
                b.symptom(partner, day, level + rng.randint(-2, 2))
        planted = Planted(kind, (lead[0], partner[0]))
        b.background(SYMPTOMS_PER_PERSON - 2)
    elif kind == "co_occurrence_area":
        lead = b.name()
        area = rng.choice([a for a in AREAS if a != lead[1]])
        for day in b.days:
            if rng.random() < PLANTED_RATE:
                b.symptom(lead, day, level + rng.randint(-2, 2))
                if rng.random() < strength:
                    b.check_in(area, day)
            elif rng.random() < 0.05:
                b.check_in(area, day)
        planted = Planted(kind, (lead[0], area))
        b.background(SYMPTOMS_PER_PERSON - 1, avoid_areas=[area])
    elif kind == "weekday":
        name = b.name()
        weekday = rng.randrange(7)
        for day in b.days:
            if rng.random() < (strength if day.weekday() == weekday else 0.06):
                b.symptom(name, day, level + rng.randint(-2, 2))
        planted = Planted(kind, (name[0],), weekday=WEEKDAYS[weekday])
        b.background(SYMPTOMS_PER_PERSON - 1)
    else:
        name = b.name()
        rising = rng.random() < 0.5
        span = len(b.days) - 1
        for index, day in enumerate(b.days):
            share = index / span if rising else 1 - index / span
            if kind == "trend_frequency":
                if rng.random() < 0.04 + strength * share:
                    b.symptom(name, day, level + rng.randint(-2, 2))
            elif rng.random() < 0.35:
                mean = 3 + strength * share
                b.symptom(name, day, round(mean) + rng.randint(-1, 1))
        planted = Planted(kind, (name[0],), direction="rising" if rising else "falling")
        b.background(SYMPTOMS_PER_PERSON - 1)
    return b.person(planted)
