"""Deterministic analytics: everything that can be counted is counted here, not asked of a model.

Weeks are indexed oldest first: index 0 is four weeks back, index 4 is the analysed
week. A *shadow pattern* is something present in at least two of the previous four
weeks and absent from the analysed week. The *data strength* (0..1) caps every
confidence and probability a report may state: thin data cannot yield high certainty.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from uuid import UUID

from worker.analysis.gather import HISTORY_WEEKS, Event, RawWeek
from worker.analysis.patterns import PatternInput, find_patterns
from worker.report import (
    ActivityCounts,
    BodyAreaTrend,
    PatternCategory,
    PatternFact,
    ScanFact,
    ShadowPatternFact,
    Significance,
    StoryFact,
    SymptomTrend,
    Trend,
    WeekFacts,
)

WEEKS = HISTORY_WEEKS + 1
GENERATED_BY = "weekly_analysis"  # health_stories.data_sources.generated_by of stories we wrote
MAX_SHADOW_PATTERNS = 4
MAX_FINDINGS = 6  # the most certain pattern findings that reach the report
MIN_WEEKS_FOR_SHADOW = 2
CONFIDENCE_FLOOR, CONFIDENCE_CEILING = 35, 95
_SUMMARY_LIMIT = 600
_STORY_LIMIT = 4000
_NOTE_LIMIT = 800


def week_index(raw: RawWeek, day: dt.date) -> int | None:
    """0..4 for a day in the five analysed weeks, else ``None``."""
    back = (raw.window.end - day).days
    if back < 0:
        return None
    index = WEEKS - 1 - back // 7
    return index if index >= 0 else None


def _display(name: str) -> str:
    name = " ".join(name.split())
    return name[:1].upper() + name[1:]


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


def _trim(text: str | None, limit: int) -> str | None:
    """Shorten at a sentence (or word) boundary, never mid-word, and say so."""
    if text is None:
        return None
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    for mark in (". ", "! ", "? "):
        at = cut.rfind(mark)
        if at > limit // 2:
            return cut[: at + 1] + " [...]"
    return cut.rsplit(" ", 1)[0] + " [...]"


def _activity(events: Iterable[Event]) -> ActivityCounts:
    counts = Counter(e.source for e in events)
    return ActivityCounts(
        oracle_conversations=counts["conversation"],
        oracle_messages=counts["message"],
        quick_scans=counts["quick_scan"],
        deep_dives=counts["deep_dive"],
        symptom_entries=counts["symptom"],
        story_notes=counts["note"],
    )


def _trend(counts: list[int], severities: list[float | None]) -> Trend:
    now, before = counts[-1], counts[:-1]
    if now and not any(before):
        return "new"
    present = [c for c in before if c]
    mean_before = sum(before) / len(before)
    sev_now = severities[-1]
    sev_before = [s for s in severities[:-1] if s is not None]
    sev_mean = sum(sev_before) / len(sev_before) if sev_before else None
    margin = max(1.0, 0.5 * mean_before)
    if now >= mean_before + margin or (
        now and sev_now is not None and sev_mean is not None and sev_now - sev_mean >= 1.5
    ):
        return "rising"
    if now <= mean_before - margin or (
        present and sev_now is not None and sev_mean is not None and sev_mean - sev_now >= 1.5
    ):
        return "falling"
    return "steady"


def _symptoms(raw: RawWeek) -> list[SymptomTrend]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * WEEKS)
    severity: dict[str, list[list[int]]] = defaultdict(lambda: [[] for _ in range(WEEKS)])
    names: dict[str, str] = {}
    parts: dict[str, Counter[str]] = defaultdict(Counter)
    last: dict[str, dt.date] = {}
    for event in raw.events:
        if event.source != "symptom" or not event.name:
            continue
        index = week_index(raw, event.day)
        if index is None:
            continue
        key = _key(event.name)
        names.setdefault(key, _display(event.name))
        counts[key][index] += 1
        if event.severity is not None:
            severity[key][index].append(event.severity)
        if event.body_part:
            parts[key][_key(event.body_part)] += 1
        last[key] = max(last.get(key, event.day), event.day)
    trends = []
    for key, weekly in counts.items():
        averages = [round(sum(s) / len(s), 1) if s else None for s in severity[key]]
        body = parts[key].most_common(1)[0][0] if parts[key] else None
        trends.append(
            SymptomTrend(
                symptom_name=names[key],
                body_part=body,
                weekly_counts=weekly,
                weekly_avg_severity=averages,
                trend=_trend(weekly, averages),
                last_date=last[key],
            )
        )
    trends.sort(key=lambda t: (-t.weekly_counts[-1], -sum(t.weekly_counts), t.symptom_name))
    return trends


def _body_areas(raw: RawWeek) -> list[BodyAreaTrend]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * WEEKS)
    for event in raw.events:
        if event.source in {"quick_scan", "deep_dive", "symptom"} and event.body_part:
            index = week_index(raw, event.day)
            if index is not None:
                counts[_key(event.body_part)][index] += 1
    areas = [BodyAreaTrend(body_part=part, weekly_counts=weekly) for part, weekly in counts.items()]
    areas.sort(key=lambda a: (-a.weekly_counts[-1], -sum(a.weekly_counts), a.body_part))
    return areas


def _significance(score: float) -> Significance:
    if score >= 0.7:
        return "high"
    if score >= 0.45:
        return "medium"
    return "low"


def _shadow(
    raw: RawWeek,
    name: str,
    category: PatternCategory,
    weekly: list[int],
    last_day: dt.date,
    severities: list[int],
) -> tuple[float, ShadowPatternFact] | None:
    history = weekly[:HISTORY_WEEKS]
    present = sum(1 for c in history if c)
    if weekly[-1] or present < MIN_WEEKS_FOR_SHADOW:
        return None
    occurrences = sum(history)
    avg_severity = round(sum(severities) / len(severities), 1) if severities else None
    intensity = avg_severity / 10 if avg_severity is not None else min(1.0, occurrences / 8)
    score = 0.6 * present / HISTORY_WEEKS + 0.4 * intensity
    frequency: dict[str, object] = {
        "weekly_counts": history,
        "weeks_present": present,
        "occurrences": occurrences,
    }
    if avg_severity is not None:
        frequency["avg_severity"] = avg_severity
    fact = ShadowPatternFact(
        pattern_name=name,
        pattern_category=category,
        last_mentioned_date=last_day,
        days_missing=(raw.window.end - last_day).days,
        historical_frequency=frequency,
        significance=_significance(score),
    )
    return score, fact


_HABITS: dict[str, str] = {
    "note": "Personal story notes",
    "conversation": "Oracle conversations",
    "quick_scan": "Quick scans",
}


def find_shadow_patterns(raw: RawWeek, symptoms: list[SymptomTrend]) -> list[ShadowPatternFact]:
    """What was prominent in at least two of the previous four weeks and went quiet."""
    found: list[tuple[float, ShadowPatternFact]] = []
    severities: dict[str, list[int]] = defaultdict(list)
    for event in raw.events:
        if event.source == "symptom" and event.name and event.severity is not None:
            index = week_index(raw, event.day)
            if index is not None and index < HISTORY_WEEKS:
                severities[_key(event.name)].append(event.severity)
    for trend in symptoms:
        candidate = _shadow(
            raw,
            trend.symptom_name,
            "symptom",
            trend.weekly_counts,
            trend.last_date,
            severities[_key(trend.symptom_name)],
        )
        if candidate:
            found.append(candidate)

    symptom_parts = {t.body_part for t in symptoms if t.body_part}
    scanned: dict[str, list[int]] = defaultdict(lambda: [0] * WEEKS)
    scanned_last: dict[str, dt.date] = {}
    habits: dict[str, list[int]] = defaultdict(lambda: [0] * WEEKS)
    habits_last: dict[str, dt.date] = {}
    for event in raw.events:
        index = week_index(raw, event.day)
        if index is None:
            continue
        if event.source in {"quick_scan", "deep_dive"} and event.body_part:
            part = _key(event.body_part)
            scanned[part][index] += 1
            scanned_last[part] = max(scanned_last.get(part, event.day), event.day)
        if event.source in _HABITS:
            habits[event.source][index] += 1
            habits_last[event.source] = max(habits_last.get(event.source, event.day), event.day)
    for part, weekly in scanned.items():
        if part in symptom_parts:
            continue  # the symptom itself already speaks for this body area
        candidate = _shadow(raw, f"{_display(part)} check-ins", "body_area", weekly, scanned_last[part], [])
        if candidate:
            found.append(candidate)
    for source, weekly in habits.items():
        candidate = _shadow(raw, _HABITS[source], "habit", weekly, habits_last[source], [])
        if candidate:
            found.append(candidate)

    found.sort(key=lambda item: (-item[0], -item[1].last_mentioned_date.toordinal(), item[1].pattern_name))
    return [fact for _, fact in found[:MAX_SHADOW_PATTERNS]]


def data_strength(raw: RawWeek) -> float:
    """0 for nothing logged, approaching 1 for a rich, regular five weeks."""
    weights = {
        "symptom": 1.0,
        "quick_scan": 2.0,
        "deep_dive": 3.0,
        "message": 0.25,
        "note": 1.0,
        "story": 2.0,
    }
    this_week = history = 0.0
    weeks_with_data: set[int] = set()
    for event in raw.events:
        index = week_index(raw, event.day)
        if index is None or (event.source == "story" and event.extra == GENERATED_BY):
            continue  # a story we wrote adds no data of its own
        weight = weights.get(event.source, 0.5)
        weeks_with_data.add(index)
        if index == WEEKS - 1:
            this_week += weight
        else:
            history += weight
    volume = 1 - math.exp(-(this_week * 2 + history * 0.5) / 20)
    regularity = len(weeks_with_data) / WEEKS
    return round(min(1.0, 0.75 * volume + 0.25 * regularity), 3)


def max_confidence(strength: float) -> int:
    return round(CONFIDENCE_FLOOR + (CONFIDENCE_CEILING - CONFIDENCE_FLOOR) * strength)


def _week_story_event(raw: RawWeek) -> Event | None:
    """The analysed week's story: the latest one written within the window."""
    stories = [
        e
        for e in raw.events
        if e.source == "story" and raw.window.start <= e.day <= raw.window.end and e.summary
    ]
    return stories[-1] if stories else None


def _week_story(raw: RawWeek) -> StoryFact | None:
    story = _week_story_event(raw)
    if story is None:
        return None
    notes = [
        _trim(e.summary, _NOTE_LIMIT) or ""
        for e in raw.events
        if e.source == "note" and e.ref == story.ref and e.summary
    ]
    return StoryFact(
        title=story.name,
        subtitle=story.detail,
        story_text=_trim(story.summary, _STORY_LIMIT) or "",
        notes=notes,
        generated=story.extra == GENERATED_BY,
    )


def week_story_id(raw: RawWeek) -> UUID | None:
    """The id of the analysed week's story, if it has one."""
    story = _week_story_event(raw)
    return story.ref if story else None


def analyse(raw: RawWeek) -> WeekFacts:
    """The facts of the week, computed from the data alone."""
    by_week: list[list[Event]] = [[] for _ in range(WEEKS)]
    for event in raw.events:
        index = week_index(raw, event.day)
        if index is not None:
            by_week[index].append(event)
    symptoms = _symptoms(raw)
    strength = data_strength(raw)
    scans = [
        ScanFact(
            date=e.day,
            kind="quick_scan" if e.source == "quick_scan" else "deep_dive",
            body_part=e.body_part,
            urgency_level=e.detail if e.source == "quick_scan" else None,
            summary=_trim(e.summary, _SUMMARY_LIMIT),
        )
        for e in by_week[-1]
        if e.source in {"quick_scan", "deep_dive"}
    ]
    findings = [
        PatternFact(
            kind=f.kind,
            items=list(f.items),
            sentence=f.sentence,
            effect_size=round(f.effect_size, 2),
            effect_measure=f.effect_measure,
            support=f.support,
            support_unit=f.support_unit,
            q_value=round(f.q_value, 4),
        )
        for f in find_patterns(PatternInput.from_raw_week(raw))[:MAX_FINDINGS]
    ]
    return WeekFacts(
        display_name=raw.display_name,
        window=raw.window,
        activity=_activity(by_week[-1]),
        activity_by_week=[_activity(events) for events in by_week],
        symptoms=symptoms,
        body_areas=_body_areas(raw),
        shadow_patterns=find_shadow_patterns(raw, symptoms),
        scans=scans,
        story=_week_story(raw),
        data_strength=strength,
        max_confidence=max_confidence(strength),
        findings=findings,
    )


def input_hash(facts: WeekFacts, *, provider: str, model: str, prompt_version: str) -> str:
    """Identifies what a generation was made from; equal hashes mean nothing changed."""
    # A story an earlier run wrote follows from the other facts; counting it would make
    # every week look changed right after its first generation.
    if facts.story is not None and facts.story.generated:
        facts = facts.model_copy(update={"story": None})
    digest = hashlib.sha256()
    for part in (provider, model, prompt_version, facts.model_dump_json()):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()
