"""The report's own types: what a week looks like once analysed, and what a model may say.

Every room that handles a report (``analysis/``, ``ai/``, ``export/``, ``share/``)
imports these and none of the others. The answer models mirror the tables' CHECK
constraints and the product's counts (3 to 5 insights, 2 to 3 predictions, up to 4 shadow
patterns, 5 strategic moves) and refuse, through the medical-claim guard of
``worker.safety``, text that asserts or suggests a diagnosis, speculates alarmingly or
instructs about a medicine: the product describes patterns, never diagnoses.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from typing import Annotated, Any, Literal, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from worker.safety import check_text

MAX_INSIGHTS, MIN_INSIGHTS = 5, 3
MAX_PREDICTIONS, MIN_PREDICTIONS = 3, 2
MAX_SHADOW_PATTERNS = 4
STRATEGIC_MOVES = 5

InsightType = Literal["positive", "warning", "neutral"]
Significance = Literal["high", "medium", "low"]
StrategyType = Literal["discovery", "pattern", "prevention", "optimization"]
Trend = Literal["new", "rising", "steady", "falling"]
PatternCategory = Literal["symptom", "body_area", "habit"]

Title = Annotated[str, Field(min_length=3, max_length=120)]
Sentence = Annotated[str, Field(min_length=10, max_length=1200)]
Percent = Annotated[int, Field(ge=0, le=100)]

# What the product may never say (worker.safety): a diagnosis asserted or suggested about the
# person, an alarming speculation, an instruction about a medicine. Only the kind of the
# finding is named, never its words: the message travels into job errors and logs.
_KIND_WORDS = {
    "diagnosis": "a diagnosis",
    "alarm": "an alarming speculation",
    "medication": "an instruction about a medicine",
}


def unsafe_medical_claim(text: str) -> str | None:
    """What ``text`` says that the product may not (the kind, in words), or ``None``."""
    finding = check_text(text)
    return _KIND_WORDS[finding.kind] if finding else None


# Characters a report never holds: NUL and the other C0/C1 controls but newline and tab,
# bidirectional embeddings, overrides and isolates (they can make text read differently
# from what it says), noncharacters and lone surrogates.
_FORBIDDEN_CHARACTERS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]"
)


def clean_text(text: str | None, limit: int | None = None) -> str | None:
    """The person's own text as the report may hold and quote it: forbidden characters
    replaced by spaces, and at most ``limit`` characters, cut at a word with a visible
    ``[...]`` marker."""
    if text is None:
        return None
    text = _FORBIDDEN_CHARACTERS.sub(" ", text)
    if limit is not None and len(text) > limit:
        cut = text[:limit]
        space = cut.rfind(" ")
        if space > limit // 2:
            cut = cut[:space]
        text = cut.rstrip() + " [...]"
    return text


def forbidden_character(text: str) -> str | None:
    """The code point (as ``U+XXXX``) of the first character a report may not hold."""
    found = _FORBIDDEN_CHARACTERS.search(text)
    return f"U+{ord(found.group(0)):04X}" if found else None


class _Answer(BaseModel):
    """Strict answers: unknown fields are refused, strings are trimmed, and no value is
    coerced (``"5"`` or ``true`` is not a number, ``"yes"`` is not a flag)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    @model_validator(mode="after")
    def _no_diagnoses_or_doses(self) -> _Answer:
        for name in _free_text_fields(type(self)):
            value = getattr(self, name)
            texts = value if isinstance(value, list) else [value]
            for text in texts:
                if isinstance(text, str):
                    character = forbidden_character(text)
                    if character:
                        raise ValueError(
                            f"{name} holds the control or direction character {character}: remove it"
                        )
                    problem = unsafe_medical_claim(text)
                    if problem:
                        raise ValueError(
                            f"{name} holds {problem}: describe patterns and general events, never "
                            "diagnoses, alarming guesses or advice about medicines"
                        )
        return self


@functools.cache
def _free_text_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of an answer model that may hold the model's own words: every field but
    those with a closed set of values (``Literal``), which validation has already matched
    exactly and which no guard needs to read."""
    return tuple(
        name for name, field in model.model_fields.items() if get_origin(field.annotation) is not Literal
    )


# -- what the model writes ----------------------------------------------------------------


class StoryDraft(_Answer):
    title: Title
    subtitle: Annotated[str, Field(min_length=3, max_length=200)]
    story_text: Annotated[str, Field(min_length=40, max_length=6000)]


class Insight(_Answer):
    insight_type: InsightType
    title: Title
    description: Sentence
    confidence: Percent
    evidence: Annotated[
        list[Annotated[str, Field(min_length=2, max_length=120)]], Field(min_length=1, max_length=6)
    ]


class Prediction(_Answer):
    event_description: Sentence
    probability: Percent
    timeframe: Annotated[str, Field(min_length=3, max_length=60)]
    preventable: bool
    reasoning: Sentence
    suggested_actions: Annotated[
        list[Annotated[str, Field(min_length=3, max_length=240)]], Field(min_length=1, max_length=4)
    ]


class ShadowPatternWording(_Answer):
    pattern_name: Title
    last_seen_description: Sentence


class StrategicMove(_Answer):
    strategy: Sentence
    strategy_type: StrategyType
    priority: Annotated[int, Field(ge=1, le=10)]
    rationale: Sentence
    expected_outcome: Sentence


class AnalysisAnswer(_Answer):
    """The first round trip: insights, predictions and the wording of the shadow patterns."""

    insights: Annotated[list[Insight], Field(min_length=MIN_INSIGHTS, max_length=MAX_INSIGHTS)]
    predictions: Annotated[list[Prediction], Field(min_length=MIN_PREDICTIONS, max_length=MAX_PREDICTIONS)]
    shadow_patterns: Annotated[list[ShadowPatternWording], Field(max_length=MAX_SHADOW_PATTERNS)]


class MovesAnswer(_Answer):
    """The second round trip: strategic moves that build on the first answer."""

    strategic_moves: Annotated[
        list[StrategicMove], Field(min_length=STRATEGIC_MOVES, max_length=STRATEGIC_MOVES)
    ]

    @field_validator("strategic_moves")
    @classmethod
    def _distinct(cls, moves: list[StrategicMove]) -> list[StrategicMove]:
        if len({m.strategy.casefold() for m in moves}) != len(moves):
            raise ValueError("strategic moves must be distinct")
        if len({m.priority for m in moves}) != len(moves):
            raise ValueError("the strategic moves must have different priorities (1 is the most important)")
        return moves


# -- what the analysis found (the model's input; never sent with ids or e-mail) -------------


class _Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeekWindow(_Fact):
    """The analysed days: ``start``..``end`` inclusive, local dates in ``timezone``.

    ``starts_at``/``ends_at`` are the exact instants covered (end exclusive): a whole
    week ends at the next local midnight, a refresh at the moment it ran. They are kept
    out of the model's input and of the input hash (the dates say the same to a reader).
    """

    week_of: dt.date
    start: dt.date
    end: dt.date
    timezone: str
    starts_at: dt.datetime | None = Field(default=None, exclude=True)
    ends_at: dt.datetime | None = Field(default=None, exclude=True)


class ActivityCounts(_Fact):
    oracle_conversations: int = 0
    oracle_messages: int = 0
    quick_scans: int = 0
    deep_dives: int = 0
    symptom_entries: int = 0
    story_notes: int = 0


class SymptomTrend(_Fact):
    """One symptom over the five weeks, oldest first (index 4 is this week)."""

    symptom_name: str
    body_part: str | None
    weekly_counts: list[int]
    weekly_avg_severity: list[float | None]
    trend: Trend
    last_date: dt.date

    @property
    def this_week(self) -> int:
        return self.weekly_counts[-1]


class BodyAreaTrend(_Fact):
    body_part: str
    weekly_counts: list[int]


class ShadowPatternFact(_Fact):
    """Prominent in at least two of the previous four weeks and absent this week."""

    pattern_name: str
    pattern_category: PatternCategory
    last_mentioned_date: dt.date
    days_missing: int
    historical_frequency: dict[str, Any]
    significance: Significance


class ScanFact(_Fact):
    date: dt.date
    kind: Literal["quick_scan", "deep_dive"]
    body_part: str | None
    urgency_level: str | None
    summary: str | None


class StoryFact(_Fact):
    title: str | None
    subtitle: str | None
    story_text: str
    notes: list[str]
    generated: bool = False  # written by an earlier run of the weekly analysis


class PatternFact(_Fact):
    """A pattern in the person's own history (up to twelve local weeks) that survived the
    false-discovery guard of ``worker.analysis.patterns``: a fact the model words, never
    one it invents. ``sentence`` says it in plain words with its numbers."""

    kind: Literal["co_occurrence", "weekday", "lagged", "trend"]
    items: list[str]
    sentence: str
    effect_size: float
    effect_measure: Literal["lift", "kendall_tau"]
    support: int
    support_unit: Literal["days", "weeks"]
    q_value: float


class WeekFacts(_Fact):
    """Everything the report is written from, computed from the data, not asked of a model."""

    display_name: str | None
    window: WeekWindow
    activity: ActivityCounts
    activity_by_week: list[ActivityCounts]
    symptoms: list[SymptomTrend]
    body_areas: list[BodyAreaTrend]
    shadow_patterns: list[ShadowPatternFact]
    scans: list[ScanFact]
    story: StoryFact | None
    data_strength: Annotated[float, Field(ge=0, le=1)]
    max_confidence: Percent
    findings: list[PatternFact] = []


class Usage(BaseModel):
    """What generating one person-week cost."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hit_tokens: int = 0
    round_trips: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cache_hit_tokens=self.cache_hit_tokens + other.cache_hit_tokens,
            round_trips=self.round_trips + other.round_trips,
        )


class Report(BaseModel):
    """A generated person-week, ready to store."""

    facts: WeekFacts
    story: StoryDraft | None
    analysis: AnalysisAnswer
    moves: MovesAnswer
    usage: Usage
    provider: str
    model: str


# -- what an export prints (read from the stored tables) ------------------------------------
#
# One document model for every rendering of an export: the PDF (worker/export/pdf.py) and
# the share page both print an ExportDocument and decide nothing of their own (which
# symptoms the chart shows, the period covered, the order of moves). Its JSON form
# (``ExportDocument.model_dump(mode="json")``; schema in docs/export-document.schema.json)
# is the contract with renderers outside Python. Text is cleaned on the way in: NFC,
# line breaks as "\n", no C0/C1 control characters, no noncharacters, no bidi embedding,
# override or isolate controls (they could reorder a sentence invisibly).

EXPORT_DOCUMENT_VERSION = 2
CHART_SERIES = 8  # at most this many series: the most frequent symptoms, the rest as "other"

_NONCHARACTERS = "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef\ud800-\udfff"
    + re.escape(_NONCHARACTERS)
    + "]"
)
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def printable_text(value: str) -> str:
    """Text as every rendering prints it (see above); tabs become spaces."""
    text = unicodedata.normalize("NFC", value)
    text = _LINE_BREAKS.sub("\n", text).replace("\t", " ")
    return _UNPRINTABLE.sub("", text)


def short_date(day: dt.date, *, year: bool = True) -> str:
    """The report's one date format: "2 Nov 2026" (or "2 Nov" where the year is shown nearby)."""
    label = f"{day.day} {_MONTHS[day.month - 1]}"
    return f"{label} {day.year}" if year else label


def date_span(start: dt.date, end: dt.date) -> str:
    return short_date(start) if start == end else f"{short_date(start)} – {short_date(end)}"


ExportText = Annotated[str, AfterValidator(printable_text)]


class ExportStory(_Fact):
    """A chosen story; ``covers_start``..``covers_end`` are the local days it tells of
    (its recorded date range, else the seven days up to the day it was written)."""

    title: ExportText | None
    subtitle: ExportText | None
    week_of: dt.date
    generated_date: dt.date
    covers_start: dt.date | None = None
    covers_end: dt.date | None = None
    story_text: ExportText
    notes: list[ExportText] = []


class ExportInsight(_Fact):
    insight_type: ExportText | None
    title: ExportText
    description: ExportText
    confidence: int | None


class ExportPrediction(_Fact):
    event_description: ExportText
    probability: int | None
    timeframe: ExportText
    preventable: bool | None
    reasoning: ExportText | None


class ExportShadowPattern(_Fact):
    pattern_name: ExportText
    significance: ExportText | None
    last_seen_description: ExportText
    last_mentioned_date: dt.date | None
    days_missing: int | None


class ExportMove(_Fact):
    strategy: ExportText
    strategy_type: ExportText | None
    priority: int | None
    rationale: ExportText | None
    completion_status: ExportText | None


class ExportWeek(_Fact):
    """The stored analysis of one week (``week_of``, the Monday its report was made),
    and the local days that report covered."""

    week_of: dt.date
    covers_start: dt.date | None = None
    covers_end: dt.date | None = None
    time_zone: str | None = None
    # The patterns in the person's history that the week's report rests on, in plain words.
    findings: list[ExportText] = []
    insights: list[ExportInsight] = []
    predictions: list[ExportPrediction] = []
    shadow_patterns: list[ExportShadowPattern] = []
    strategic_moves: list[ExportMove] = []


class SymptomSeries(_Fact):
    """One symptom's weekly count and average severity over ``ExportDocument.chart_weeks``
    (one value per week). ``other_symptoms`` > 0 marks the series that sums that many
    less frequent symptoms (its ``symptom_name`` is "Other")."""

    symptom_name: ExportText
    counts: list[int]
    avg_severity: list[float | None]
    other_symptoms: int = 0


class ExportDocument(_Fact):
    """Everything an export prints, already read from the database and decided.

    ``period_start``..``period_end`` are the stories' real dates (never after
    ``generated_at``'s local day); ``chart_weeks`` are the Mondays of the weeks they
    cover; ``time_zone`` is the person's, for ``generated_at``.
    """

    version: int = EXPORT_DOCUMENT_VERSION
    display_name: ExportText | None
    time_zone: str = "UTC"
    period_start: dt.date
    period_end: dt.date
    generated_at: dt.datetime
    stories: list[ExportStory]
    weeks: list[ExportWeek] = []
    chart_weeks: list[dt.date] = []
    symptom_series: list[SymptomSeries] = []
    include_analysis: bool = True
    include_notes: bool = True
