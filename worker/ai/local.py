"""The ``local`` provider: deterministic, offline, grounded in the week's facts.

It writes from the same analytics a model would see, naming the person's own
symptoms, counts, dates and body areas, so two people never get the same report and
the same week always gets the same one. Phrasing varies by a seed drawn from the
facts. It never calls anything and costs nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from worker.ai.base import Generated
from worker.report import (
    AnalysisAnswer,
    Insight,
    MovesAnswer,
    Prediction,
    ShadowPatternWording,
    StoryDraft,
    StrategicMove,
    SymptomTrend,
    Usage,
    WeekFacts,
)

_NO_USAGE = Usage()


def _day(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def _short(day: dt.date) -> str:
    return f"{day.day} {day:%b}"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _lower(name: str) -> str:
    return name[:1].lower() + name[1:] if name[:2] != name[:2].upper() else name


def _avg(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 1) if present else None


def _distinct_priorities(moves: list[StrategicMove]) -> list[StrategicMove]:
    """The moves in their order with different priorities: a tie moves the later move one
    step down (never below 1), keeping the ranking the priorities already express."""
    ranked = sorted(range(len(moves)), key=lambda i: -moves[i].priority)
    taken: set[int] = set()
    priorities: dict[int, int] = {}
    for index in ranked:
        priority = moves[index].priority
        while priority in taken and priority > 1:
            priority -= 1
        while priority in taken:
            priority += 1
        taken.add(priority)
        priorities[index] = priority
    return [move.model_copy(update={"priority": priorities[i]}) for i, move in enumerate(moves)]


_FINDING_TITLES = {
    "co_occurrence": "Two things that come together",
    "weekday": "A pattern in the week",
    "lagged": "One thing that tends to follow another",
    "trend": "A change over the weeks",
}


class _Voice:
    """Picks among phrasings with a seed taken from the facts, so output is stable."""

    def __init__(self, facts: WeekFacts) -> None:
        self._seed = int(hashlib.sha256(facts.model_dump_json().encode()).hexdigest()[:8], 16)
        self._turn = 0

    def pick(self, *options: str) -> str:
        self._turn += 1
        return options[(self._seed + self._turn * 7) % len(options)]


def _prior_mean(trend: SymptomTrend) -> float:
    before = trend.weekly_counts[:-1]
    return sum(before) / len(before)


def _severity_clause(trend: SymptomTrend) -> str:
    now = trend.weekly_avg_severity[-1]
    before = _avg(trend.weekly_avg_severity[:-1])
    if now is None:
        return ""
    if before is None:
        return f", at an average severity of {now:g}/10"
    return f", at an average severity of {now:g}/10 (earlier weeks: {before:g}/10)"


def _confidence(facts: WeekFacts, base: int) -> int:
    return max(10, min(facts.max_confidence, base))


class LocalProvider:
    """Writes reports from the facts alone. Satisfies :class:`worker.ai.base.AIProvider`."""

    name = "local"
    model = "local-v1"

    async def aclose(self) -> None:
        return None

    # -- story ---------------------------------------------------------------------------

    async def write_story(self, facts: WeekFacts) -> Generated[StoryDraft]:
        voice = _Voice(facts)
        window = facts.window
        active = [t for t in facts.symptoms if t.this_week]
        rising = [t for t in active if t.trend in {"rising", "new"}]
        easing = [t for t in facts.symptoms if t.trend == "falling"]
        a = facts.activity
        if rising:
            title = voice.pick(
                f"A week shaped by {_lower(rising[0].symptom_name)}",
                f"{rising[0].symptom_name} stepped forward",
            )
        elif easing:
            title = voice.pick(f"{easing[0].symptom_name} eased off", "A lighter week for your body")
        elif active:
            title = voice.pick("A steady week", f"Keeping an eye on {_lower(active[0].symptom_name)}")
        else:
            title = voice.pick("A quiet week", "A week with little logged")
        subtitle = f"{_day(window.start)} to {_day(window.end)}"
        sentences = []
        logged = a.symptom_entries + a.quick_scans + a.deep_dives
        if logged:
            parts = []
            if a.symptom_entries:
                parts.append(_count(a.symptom_entries, "symptom entry", "symptom entries"))
            if a.quick_scans:
                parts.append(f"{a.quick_scans} quick scan{'s' if a.quick_scans != 1 else ''}")
            if a.deep_dives:
                parts.append(f"{a.deep_dives} deep dive{'s' if a.deep_dives != 1 else ''}")
            sentences.append(
                f"Between {_short(window.start)} and {_short(window.end)} you logged {', '.join(parts)}."
            )
        else:
            sentences.append(
                f"Between {_short(window.start)} and {_short(window.end)} you logged no symptoms or scans."
            )
        for trend in active[:3]:
            where = f" ({trend.body_part})" if trend.body_part else ""
            sentences.append(
                f"{trend.symptom_name}{where} came up {_times(trend.this_week)}{_severity_clause(trend)}, "
                f"last on {_day(trend.last_date)}."
            )
        for fact in facts.shadow_patterns[:2]:
            sentences.append(
                f"{fact.pattern_name} did not appear this week; the last time was {_day(fact.last_mentioned_date)}."
            )
        if a.oracle_conversations:
            sentences.append(
                f"You talked things through with the oracle in {a.oracle_conversations} "
                f"conversation{'s' if a.oracle_conversations != 1 else ''}."
            )
        story = StoryDraft.model_validate(
            {"title": title, "subtitle": subtitle, "story_text": " ".join(sentences)}
        )
        return Generated(story, _NO_USAGE)

    # -- insights, predictions, shadow wording ----------------------------------------------

    def _insights(self, facts: WeekFacts, voice: _Voice) -> list[Insight]:
        insights: list[Insight] = []
        active = [t for t in facts.symptoms if t.this_week]
        for trend in [t for t in active if t.trend in {"rising", "new"}][:2]:
            earlier = _prior_mean(trend)
            history = ", ".join(str(c) for c in trend.weekly_counts)
            if trend.trend == "new":
                description = (
                    f"{trend.symptom_name} is new in your log: {_times(trend.this_week)} this week"
                    f"{_severity_clause(trend)}, and not at all in the four weeks before."
                )
            else:
                description = (
                    f"You logged {_lower(trend.symptom_name)} {_times(trend.this_week)} this week, up from "
                    f"about {earlier:.1f} a week before{_severity_clause(trend)}."
                )
            title = (
                voice.pick(
                    f"{trend.symptom_name} is new this week", f"A new entry: {_lower(trend.symptom_name)}"
                )
                if trend.trend == "new"
                else voice.pick(
                    f"{trend.symptom_name} is picking up",
                    f"More {_lower(trend.symptom_name)} than usual",
                    f"{trend.symptom_name} is on the rise",
                )
            )
            insights.append(
                Insight(
                    insight_type="warning" if trend.trend == "rising" or trend.this_week >= 2 else "neutral",
                    title=title,
                    description=description + f" Last logged {_day(trend.last_date)}.",
                    confidence=_confidence(facts, 55 + 8 * trend.this_week),
                    evidence=[f"symptom_tracking: {trend.symptom_name}, weekly counts {history}"],
                )
            )
        for trend in [t for t in facts.symptoms if t.trend == "falling" and t.this_week][:1]:
            before = _prior_mean(trend)
            insights.append(
                Insight(
                    insight_type="positive",
                    title=voice.pick(
                        f"{trend.symptom_name} eased", f"Less {_lower(trend.symptom_name)} this week"
                    ),
                    description=(
                        f"{trend.symptom_name} came up {_times(trend.this_week)} this week, against about "
                        f"{before:.1f} a week over the previous four{_severity_clause(trend)}."
                    ),
                    confidence=_confidence(facts, 60),
                    evidence=[
                        f"symptom_tracking: {trend.symptom_name}, weekly counts "
                        + ", ".join(str(c) for c in trend.weekly_counts)
                    ],
                )
            )
        for trend in [t for t in active if t.trend == "steady"][:1]:
            insights.append(
                Insight(
                    insight_type="neutral",
                    title=f"{trend.symptom_name} held steady",
                    description=(
                        f"{trend.symptom_name} appeared {_times(trend.this_week)} this week{_severity_clause(trend)}, "
                        "in line with recent weeks."
                    ),
                    confidence=_confidence(facts, 55),
                    evidence=[f"symptom_tracking: {trend.symptom_name}, steady over five weeks"],
                )
            )
        for finding in facts.findings[: max(0, 4 - len(insights))]:
            # A pattern that held up against chance: its own sentence, with its numbers.
            insights.append(
                Insight(
                    insight_type="neutral",
                    title=_FINDING_TITLES[finding.kind],
                    description=f"{finding.sentence[:1000]} Over the last weeks this held up against chance.",
                    confidence=_confidence(facts, 65),
                    evidence=[f"{finding.kind.replace('_', ' ')}: {', '.join(finding.items)}"[:120]],
                )
            )
        if facts.shadow_patterns and len(insights) < 5:
            fact = facts.shadow_patterns[0]
            insights.append(
                Insight(
                    insight_type="neutral",
                    title=f"{fact.pattern_name} went quiet",
                    description=(
                        f"{fact.pattern_name} showed up in {fact.historical_frequency['weeks_present']} of the "
                        f"previous four weeks, and not once in the last {fact.days_missing} days."
                    ),
                    confidence=_confidence(facts, 60),
                    evidence=[
                        f"shadow pattern: {fact.pattern_name}, last {fact.last_mentioned_date.isoformat()}"
                    ],
                )
            )
        a = facts.activity
        check_ins = a.quick_scans + a.deep_dives + a.story_notes + a.oracle_conversations
        if len(insights) < 5 and check_ins >= 3:
            insights.append(
                Insight(
                    insight_type="positive",
                    title=voice.pick("You kept checking in", "A well-documented week"),
                    description=(
                        f"{check_ins} check-ins this week ({_count(a.quick_scans, 'quick scan')}, "
                        f"{_count(a.deep_dives, 'deep dive')}, {_count(a.oracle_conversations, 'oracle conversation')}, "
                        f"{_count(a.story_notes, 'note')}) give these patterns a solid footing."
                    ),
                    confidence=_confidence(facts, 70),
                    evidence=["activity counts for the week"],
                )
            )
        while len(insights) < 3:
            logged = a.symptom_entries + a.quick_scans + a.deep_dives
            if not any(i.title.startswith("A light week") for i in insights):
                insights.append(
                    Insight(
                        insight_type="neutral",
                        title="A light week of logging",
                        description=(
                            f"You logged {_count(logged, 'entry', 'entries')} this week "
                            f"({_count(a.symptom_entries, 'symptom')}, {_count(a.quick_scans + a.deep_dives, 'scan')}), "
                            "so what follows is tentative; a few more entries would sharpen it."
                        ),
                        confidence=_confidence(facts, 40),
                        evidence=[f"data strength {facts.data_strength:.2f}"],
                    )
                )
            else:
                areas = [b for b in facts.body_areas if sum(b.weekly_counts)]
                focus = areas[0].body_part if areas else None
                insights.append(
                    Insight(
                        insight_type="neutral",
                        title=f"Your {focus} is the area you watch most"
                        if focus
                        else "Room to build a baseline",
                        description=(
                            f"Over five weeks the {focus} came up {_times(sum(areas[0].weekly_counts))}, more than "
                            "any other area you logged."
                            if focus and areas
                            else "Five weeks of regular entries would give the analysis a baseline to compare with."
                        ),
                        confidence=_confidence(facts, 45),
                        evidence=["body areas over five weeks" if focus else "no entries in five weeks"],
                    )
                )
        return insights[:5]

    def _predictions(self, facts: WeekFacts, voice: _Voice) -> list[Prediction]:
        predictions: list[Prediction] = []
        for trend in [t for t in facts.symptoms if t.this_week and t.trend in {"rising", "new", "steady"}][
            :2
        ]:
            rising = trend.trend in {"rising", "new"}
            predictions.append(
                Prediction(
                    event_description=voice.pick(
                        f"{trend.symptom_name} may come back on a few days in the coming week",
                        f"More days with {_lower(trend.symptom_name)} are likely in the next week",
                    )
                    if rising
                    else f"{trend.symptom_name} will probably keep its current rhythm next week",
                    probability=_confidence(facts, 50 + 6 * trend.this_week if rising else 55),
                    timeframe="Next 7 days",
                    preventable=True,
                    reasoning=(
                        f"It appeared {_times(trend.this_week)} this week after weekly counts of "
                        + ", ".join(str(c) for c in trend.weekly_counts[:-1])
                        + "."
                    ),
                    suggested_actions=[
                        f"Note what happened in the hours before each episode of {_lower(trend.symptom_name)}",
                        "Keep regular sleep and meal times for the next few days",
                    ],
                )
            )
        for fact in facts.shadow_patterns[:1]:
            if len(predictions) >= 3:
                break
            predictions.append(
                Prediction(
                    event_description=f"{fact.pattern_name} may resurface once your routine shifts again",
                    probability=_confidence(facts, 35),
                    timeframe="Next 2 weeks",
                    preventable=fact.pattern_category != "habit",
                    reasoning=(
                        f"It was part of {fact.historical_frequency['weeks_present']} of the previous four weeks "
                        f"and has been absent for {fact.days_missing} days."
                    ),
                    suggested_actions=["Log it the day it returns, with what preceded it"],
                )
            )
        while len(predictions) < 2:
            a = facts.activity
            predictions.append(
                Prediction(
                    event_description=(
                        "Energy dips are possible on your busiest days next week"
                        if not predictions
                        else "Your symptom picture may look different once a fuller week is logged"
                    ),
                    probability=_confidence(facts, 30 if predictions else 35),
                    timeframe="Next 7 days",
                    preventable=not predictions,
                    reasoning=(
                        f"This week has {_count(a.symptom_entries, 'symptom entry', 'symptom entries')} and "
                        f"{_count(a.quick_scans, 'quick scan')}, too few for a firm pattern, so this stays general."
                    ),
                    suggested_actions=["Log how you feel once a day, even on good days"],
                )
            )
        return predictions[:3]

    def _shadow_wording(self, facts: WeekFacts) -> list[ShadowPatternWording]:
        wording = []
        for fact in facts.shadow_patterns:
            frequency = fact.historical_frequency
            severity = frequency.get("avg_severity")
            detail = f", average severity {severity:g}/10" if isinstance(severity, int | float) else ""
            wording.append(
                ShadowPatternWording(
                    pattern_name=fact.pattern_name,
                    last_seen_description=(
                        f"Present in {frequency['weeks_present']} of the previous four weeks "
                        f"({frequency['occurrences']} times{detail}); last on {_day(fact.last_mentioned_date)}, "
                        f"{fact.days_missing} days ago."
                    ),
                )
            )
        return wording

    async def write_analysis(self, facts: WeekFacts) -> Generated[AnalysisAnswer]:
        voice = _Voice(facts)
        answer = AnalysisAnswer(
            insights=self._insights(facts, voice),
            predictions=self._predictions(facts, voice),
            shadow_patterns=self._shadow_wording(facts),
        )
        return Generated(AnalysisAnswer.model_validate(answer.model_dump()), _NO_USAGE)

    # -- strategic moves ---------------------------------------------------------------------

    async def write_moves(self, facts: WeekFacts, analysis: AnalysisAnswer) -> Generated[MovesAnswer]:
        moves: list[StrategicMove] = []
        rising = [t for t in facts.symptoms if t.this_week and t.trend in {"rising", "new"}]
        for trend in rising[:1]:
            moves.append(
                StrategicMove(
                    strategy=f"Keep a two-line log after each bout of {_lower(trend.symptom_name)}: time, "
                    "what you were doing, sleep the night before",
                    strategy_type="prevention",
                    priority=9,
                    rationale=f"{trend.symptom_name} came up {_times(trend.this_week)} this week, more than usual.",
                    expected_outcome="Within two weeks you will see whether a trigger repeats.",
                )
            )
        for fact in facts.shadow_patterns[:1]:
            moves.append(
                StrategicMove(
                    strategy=f"Check whether the quiet spell of {_lower(fact.pattern_name)} is real or just unlogged",
                    strategy_type="discovery",
                    priority=7,
                    rationale=f"It was regular until {_day(fact.last_mentioned_date)} and then stopped appearing.",
                    expected_outcome="You will know whether something you changed is working.",
                )
            )
        falling = [t for t in facts.symptoms if t.trend == "falling"]
        for trend in falling[:1]:
            moves.append(
                StrategicMove(
                    strategy=f"Write down what was different this week while {_lower(trend.symptom_name)} eased",
                    strategy_type="pattern",
                    priority=6,
                    rationale=f"{trend.symptom_name} dropped below its usual weekly count.",
                    expected_outcome="A record of what helped, ready for the next flare.",
                )
            )
        steady = [t for t in facts.symptoms if t.this_week and t.trend == "steady"]
        for trend in steady[:1]:
            moves.append(
                StrategicMove(
                    strategy=f"Rate {_lower(trend.symptom_name)} on the same scale each evening this week",
                    strategy_type="pattern",
                    priority=5,
                    rationale=f"{trend.symptom_name} is steady, so small changes are easy to miss.",
                    expected_outcome="A clear line to compare next week's numbers with.",
                )
            )
        generic = [
            StrategicMove(
                strategy="Set a fixed wind-down time three evenings this week",
                strategy_type="optimization",
                priority=5,
                rationale="Regular sleep timing steadies energy and makes other patterns easier to read.",
                expected_outcome="Fewer low-energy afternoons and clearer logs.",
            ),
            StrategicMove(
                strategy="Do a one-minute quick scan on two days you feel well",
                strategy_type="discovery",
                priority=4,
                rationale=f"This week has {_count(facts.activity.quick_scans, 'quick scan')}; good days are a baseline too.",
                expected_outcome="A baseline that makes changes stand out sooner.",
            ),
            StrategicMove(
                strategy="Add a short personal note to this week's story",
                strategy_type="optimization",
                priority=3,
                rationale="Notes capture context (stress, travel, meals) the numbers cannot.",
                expected_outcome="Richer context for next week's analysis.",
            ),
            StrategicMove(
                strategy="Take a ten-minute walk after lunch on three days",
                strategy_type="prevention",
                priority=4,
                rationale="Light movement after meals supports steadier energy through the afternoon.",
                expected_outcome="More even energy on the days you try it.",
            ),
            StrategicMove(
                strategy="Bring this report to your next appointment",
                strategy_type="optimization",
                priority=2,
                rationale="Five weeks of dated entries help a clinician see the pattern quickly.",
                expected_outcome="A more focused conversation about what matters to you.",
            ),
        ]
        for move in generic:
            if len(moves) >= 5:
                break
            moves.append(move)
        answer = MovesAnswer(strategic_moves=_distinct_priorities(moves[:5]))
        return Generated(MovesAnswer.model_validate(answer.model_dump()), _NO_USAGE)
