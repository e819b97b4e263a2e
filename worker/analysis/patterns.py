"""Patterns in a person's own history, with honest statistics.

``find_patterns`` looks at up to twelve local weeks of what a person logged and returns
only what survives a false-discovery guard. Four kinds of finding:

* ``co_occurrence``: two symptoms, or a symptom and check-ins (quick scans or deep dives)
  on a body area, on the same local day more often than chance;
* ``weekday``: a symptom that favours one weekday;
* ``lagged``: symptom B logged on one of the two days after symptom A more often than after
  other days;
* ``trend``: a symptom logged on more (or fewer) days, or at a higher (or lower) severity,
  as the weeks go by.

Guarantees:

* **Every p-value comes from ``scipy.stats``.** Co-occurrence, weekday and lagged findings
  are one-sided Fisher exact tests on day-level 2x2 tables, evaluated as the hypergeometric
  upper tail ``hypergeom.sf(a - 1, days, row, column)`` (the same number as
  ``fisher_exact(table, alternative="greater")``, for all tables in one vectorised call).
  A weekday finding tests all seven weekdays and keeps the smallest p-value times 7
  (Bonferroni for choosing the day). Trends are two-sided ``kendalltau`` (tau-b) between
  the week's number and each day's value (see ``_trend_tests``). The false-discovery
  correction is ``false_discovery_control``. Nothing is computed by hand but counts,
  ratios and means.
* **The days are the person's local days** (``Event.day`` as gathered), and the days
  counted are the person's *engaged span*: from the first to the last local day on which
  they logged anything in the period (a symptom, a scan, a deep dive, a conversation, a
  message or a note). Weeks before someone started, or after they stopped, using the app
  are not read as weeks without symptoms, so a new user is not "rising" in everything.
* **False discoveries are guarded three ways.** A test is made only when its margins give
  it a chance (the eligibility minimums below, which look at how often each item was
  logged, never at how often two met, so they cannot favour a pattern); the
  Benjamini-Hochberg correction runs over *every* test made for the person, all kinds
  together, and only q <= ``FDR_Q`` survives; a survivor must also have the minimum
  support of its kind (3 days seen together, followed, or on the weekday; 6 weeks for a
  trend). ``FDR_Q`` is 0.05, not 0.10: on the synthetic people of
  ``bench/pattern_power.py`` (1,000 with nothing to find, 200 per planted kind; run it with
  ``--fdr-q``), 0.10 gave a finding to 4.2% of the people with nothing to find (95%
  interval 3.0-5.6%: too close to the 5% allowed, and real logs are less independent than
  synthetic ones), 0.08 to 3.4% and 0.05 to 2.2% (1.4-3.3%), while the share of planted
  patterns found fell only from 98-99% to 95-98%.
* **Bounded work.** At most ``MAX_WEEKS`` weeks, the ``MAX_SYMPTOMS`` symptoms logged on
  the most days and the ``MAX_BODY_AREAS`` most checked body areas: at most
  28 + 32 co-occurrence, 8 weekday, 56 lagged and 16 trend tests, 140 in all, in a few
  matrix products, one vectorised tail, one Kendall call per trend tested and one
  correction.
* **Deterministic.** No randomness; items are ordered by name before testing and findings
  are sorted by q-value, then p-value, kind and items.

Effect sizes: ``lift`` for the day-level kinds, the days counted together divided by the
days expected if the two were independent (1 is no association; 3 is three times as often
as chance); ``kendall_tau`` (-1..1) for trends.

Limits: days without a log inside the engaged span count as days without the symptom. The
tests take days as exchangeable (independent, alike), which real logs are not quite:
symptoms come in spells of several days, so a spell that two symptoms share can read as one
"followed by" the other, and a bad fortnight weighs more in a trend than its two weeks.
Quick-scan urgency and deep-dive status are not used.
"""

from __future__ import annotations

import datetime as dt
import inspect
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from scipy import stats

from worker.analysis.gather import Event, RawWeek

PatternKind = Literal["co_occurrence", "weekday", "lagged", "trend"]
TrendMeasure = Literal["frequency", "severity"]
TrendDirection = Literal["rising", "falling"]
EffectMeasure = Literal["lift", "kendall_tau"]

MAX_WEEKS: Final = 12
MAX_DAYS: Final = 7 * MAX_WEEKS
MAX_SYMPTOMS: Final = 8  # the symptoms logged on the most days; ties by name
MAX_BODY_AREAS: Final = 4  # the body areas with the most check-in days; ties by name
FDR_Q: Final = 0.05  # Benjamini-Hochberg level over all of a person's tests (see the module docstring)

MIN_SPAN_DAYS: Final = 14  # fewer engaged days than two weeks: no tests at all
MIN_ITEM_DAYS: Final = 4  # an item present on >= 4 and absent on >= 4 of the days tested
MIN_TOGETHER_DAYS: Final = 3  # a day-level finding rests on >= 3 days seen together
MIN_WEEKDAY_SPAN_DAYS: Final = 28  # each weekday seen at least four times
MIN_WEEKDAY_ITEM_DAYS: Final = 5
LAG_DAYS: Final = 2  # "followed by": on day d+1 or d+2
MIN_WEEK_DAYS: Final = 4  # a week counts towards a trend with >= 4 engaged days
MIN_TREND_WEEKS: Final = 6
MIN_TREND_ITEM_DAYS: Final = 8  # days logged (or logged with a severity) in the counted weeks
MIN_SEVERITY_WEEKS: Final = 6  # weeks with a severity logged

# scipy's axis and NaN-policy wrapper inspects signatures on every call, over half the cost of
# a 12-point test; the series here are 1-D and finite, so the function it wraps is called
# (``tests/analysis/test_patterns.py`` checks the two agree).
_kendalltau = inspect.unwrap(stats.kendalltau)

WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ACTIVITY_SOURCES: Final = frozenset({"symptom", "quick_scan", "deep_dive", "conversation", "message", "note"})
CHECK_IN_SOURCES: Final = frozenset({"quick_scan", "deep_dive"})


def _key(name: str) -> str:
    return " ".join(name.casefold().split())


# -- the input ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SymptomDays:
    """One symptom's local days, each with the highest severity logged that day (or None)."""

    name: str  # as first logged, whitespace normalised
    body_part: str | None  # the body part most often logged with it, case-folded
    severity: Mapping[dt.date, int | None]


@dataclass(frozen=True)
class PatternInput:
    """Up to ``MAX_WEEKS`` weeks of one person's history as local days.

    ``first_day``..``last_day`` (inclusive) is the period read; weeks for trends are the
    7-day blocks ending at ``last_day`` (the report's own weeks when it is the window's
    end). ``symptoms`` and ``body_areas`` are keyed by case-folded name.
    """

    first_day: dt.date
    last_day: dt.date
    symptoms: Mapping[str, SymptomDays] = field(default_factory=dict)
    body_areas: Mapping[str, frozenset[dt.date]] = field(default_factory=dict)
    active_days: frozenset[dt.date] = frozenset()

    @classmethod
    def from_events(cls, events: Iterable[Event], first_day: dt.date, last_day: dt.date) -> PatternInput:
        """The history of ``first_day``..``last_day`` from gathered events.

        Only the last ``MAX_WEEKS`` weeks of a longer period are kept; events outside the
        period are ignored. Raises ``ValueError`` if ``last_day`` is before ``first_day``.
        """
        if last_day < first_day:
            raise ValueError("last_day is before first_day")
        first_day = max(first_day, last_day - dt.timedelta(days=MAX_DAYS - 1))
        names: dict[str, str] = {}
        parts: dict[str, Counter[str]] = defaultdict(Counter)
        severity: dict[str, dict[dt.date, int | None]] = defaultdict(dict)
        areas: dict[str, set[dt.date]] = defaultdict(set)
        active: set[dt.date] = set()
        for event in events:
            if not first_day <= event.day <= last_day or event.source not in ACTIVITY_SOURCES:
                continue
            active.add(event.day)
            if event.source == "symptom" and event.name and event.name.strip():
                key = _key(event.name)
                names.setdefault(key, " ".join(event.name.split()))
                if event.body_part:
                    parts[key][_key(event.body_part)] += 1
                days = severity[key]
                before = days.get(event.day)
                if event.severity is None:
                    days.setdefault(event.day, None)
                else:
                    days[event.day] = event.severity if before is None else max(before, event.severity)
            elif event.source in CHECK_IN_SOURCES and event.body_part and event.body_part.strip():
                areas[_key(event.body_part)].add(event.day)
        symptoms = {
            key: SymptomDays(
                name=names[key],
                body_part=parts[key].most_common(1)[0][0] if parts[key] else None,
                severity=dict(severity[key]),
            )
            for key in names
        }
        return cls(
            first_day=first_day,
            last_day=last_day,
            symptoms=symptoms,
            body_areas={key: frozenset(days) for key, days in areas.items()},
            active_days=frozenset(active),
        )

    @classmethod
    def from_raw_week(cls, raw: RawWeek) -> PatternInput:
        """Everything a gathered week holds: its history weeks and the window."""
        return cls.from_events(raw.events, raw.first_day, raw.window.end)


# -- the output -----------------------------------------------------------------------------


class PatternFinding(BaseModel):
    """One pattern that survived the false-discovery guard.

    ``items`` are the symptom names (as first logged) and body areas (case-folded): for
    ``lagged`` the symptom that comes first, then the one that follows; for a co-occurrence
    the two, a body area last (and in ``body_area``). ``support`` counts days
    (the days seen together, the days on the weekday, the days followed) or, for a trend,
    weeks; ``days`` are those local days (for a trend, the first day of each week counted).
    ``tests`` is how many tests were made for the person (the size of the corrected family).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PatternKind
    items: tuple[str, ...]
    body_area: str | None = None
    weekday: str | None = None
    measure: TrendMeasure | None = None
    direction: TrendDirection | None = None
    effect_size: float
    effect_measure: EffectMeasure
    support: int
    support_unit: Literal["days", "weeks"]
    p_value: float
    q_value: float
    tests: int
    days: tuple[dt.date, ...]
    sentence: str


# -- the tests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    name: str
    area: bool  # a body area's check-ins rather than a symptom
    body_part: str | None
    days: NDArray[np.bool_]  # over the engaged span
    severity: NDArray[np.float64]  # the day's severity over the engaged span, NaN where none


@dataclass(frozen=True)
class _DayTest:
    """A one-sided Fisher test: ``together`` of the ``row`` days are among the ``column`` days,
    out of ``universe`` days."""

    kind: PatternKind
    first: _Item
    second: _Item | None
    weekday: int | None
    universe: int
    row: int
    column: int
    together: int


@dataclass(frozen=True)
class _TrendTest:
    item: _Item
    measure: TrendMeasure
    values: list[float]
    weeks: list[dt.date]
    tau: float
    p_value: float


def _span(history: PatternInput) -> tuple[dt.date, int] | None:
    """The engaged span, within the last ``MAX_DAYS`` of the period: its first day and length."""
    first_day = max(history.first_day, history.last_day - dt.timedelta(days=MAX_DAYS - 1))
    days = [d for d in history.active_days if first_day <= d <= history.last_day]
    if not days:
        return None
    start, end = min(days), max(days)
    return start, (end - start).days + 1


def _items(history: PatternInput, start: dt.date, length: int) -> tuple[list[_Item], list[_Item]]:
    """The symptoms and body areas tested: the most logged first, at most the caps."""

    def series(days: Iterable[dt.date]) -> NDArray[np.bool_]:
        mask = np.zeros(length, dtype=np.bool_)
        for day in days:
            offset = (day - start).days
            if 0 <= offset < length:
                mask[offset] = True
        return mask

    symptoms = []
    for _, symptom in sorted(history.symptoms.items()):
        severity = np.full(length, np.nan)
        for day, value in symptom.severity.items():
            offset = (day - start).days
            if value is not None and 0 <= offset < length:
                severity[offset] = value
        symptoms.append(_Item(symptom.name, False, symptom.body_part, series(symptom.severity), severity))
    areas = [
        _Item(key, True, None, series(days), np.full(length, np.nan))
        for key, days in sorted(history.body_areas.items())
    ]
    symptoms = sorted((s for s in symptoms if s.days.any()), key=lambda s: -int(s.days.sum()))
    areas = sorted((a for a in areas if a.days.any()), key=lambda a: -int(a.days.sum()))
    return symptoms[:MAX_SYMPTOMS], areas[:MAX_BODY_AREAS]


def _contrasted(count: int, universe: int, minimum: int) -> bool:
    """Present on at least ``minimum`` days and absent on at least ``MIN_ITEM_DAYS``."""
    return minimum <= count <= universe - MIN_ITEM_DAYS


def _follows(days: NDArray[np.bool_], universe: int) -> NDArray[np.bool_]:
    """Day ``d`` (of the first ``universe``) is followed by a log on ``d+1``..``d+LAG_DAYS``."""
    follows = np.zeros(universe, dtype=np.bool_)
    for lag in range(1, LAG_DAYS + 1):
        follows |= days[lag : lag + universe]
    return follows


def _day_tests(symptoms: list[_Item], areas: list[_Item], start: dt.date) -> list[_DayTest]:
    """Every eligible co-occurrence, lagged and weekday table, counted with matrix products.

    Eligibility looks at margins only (how many days each item was logged), never at how
    often two items met, so it cannot favour a pattern."""
    tests: list[_DayTest] = []
    if not symptoms:
        return tests
    universe = len(symptoms[0].days)
    items = symptoms + areas
    matrix = np.array([item.days for item in items], dtype=np.int64)
    totals = matrix.sum(axis=1).tolist()
    together = (matrix @ matrix.T).tolist()
    pairs = list(itertools.combinations(range(len(symptoms)), 2)) + [
        (s, len(symptoms) + a)
        for s in range(len(symptoms))
        for a in range(len(areas))
        if symptoms[s].body_part != areas[a].name  # a symptom's own area goes without saying
    ]
    for i, j in pairs:
        if _contrasted(totals[i], universe, MIN_ITEM_DAYS) and _contrasted(
            totals[j], universe, MIN_ITEM_DAYS
        ):
            tests.append(
                _DayTest(
                    "co_occurrence", items[i], items[j], None, universe, totals[i], totals[j], together[i][j]
                )
            )

    lagged = universe - LAG_DAYS  # only days whose following days are all in the span
    if lagged >= MIN_SPAN_DAYS:
        leads = matrix[: len(symptoms), :lagged]
        follows = np.array([_follows(s.days, lagged) for s in symptoms], dtype=np.int64)
        lead_totals, follow_totals = leads.sum(axis=1).tolist(), follows.sum(axis=1).tolist()
        led = (leads @ follows.T).tolist()
        for i, j in itertools.permutations(range(len(symptoms)), 2):
            if _contrasted(lead_totals[i], lagged, MIN_ITEM_DAYS) and _contrasted(
                follow_totals[j], lagged, MIN_ITEM_DAYS
            ):
                tests.append(
                    _DayTest(
                        "lagged",
                        symptoms[i],
                        symptoms[j],
                        None,
                        lagged,
                        lead_totals[i],
                        follow_totals[j],
                        led[i][j],
                    )
                )

    if universe >= MIN_WEEKDAY_SPAN_DAYS:
        weekdays = np.eye(7, dtype=np.int64)[(np.arange(universe) + start.weekday()) % 7]
        per_weekday = (matrix[: len(symptoms)] @ weekdays).tolist()
        weekday_days = weekdays.sum(axis=0).tolist()
        for i, symptom in enumerate(symptoms):
            if _contrasted(totals[i], universe, MIN_WEEKDAY_ITEM_DAYS):
                tests.extend(
                    _DayTest(
                        "weekday", symptom, None, w, universe, totals[i], weekday_days[w], per_weekday[i][w]
                    )
                    for w in range(7)
                )
    return tests


def _weeks(history: PatternInput, start: dt.date, length: int) -> list[tuple[dt.date, slice]]:
    """The 7-day blocks ending at ``last_day`` with at least ``MIN_WEEK_DAYS`` engaged days,
    oldest first, each as its first day and its slice of the span."""
    weeks = []
    end = history.last_day
    while True:
        first = end - dt.timedelta(days=6)
        lo, hi = max((first - start).days, 0), min((end - start).days + 1, length)
        if hi <= 0:
            break
        if hi - lo >= MIN_WEEK_DAYS:
            weeks.append((first, slice(lo, hi)))
        end = first - dt.timedelta(days=1)
    weeks.reverse()
    return weeks


def _trend_tests(
    history: PatternInput, symptoms: list[_Item], start: dt.date, length: int
) -> list[_TrendTest]:
    """Rank tests of change over the weeks: Kendall's tau-b between the week's number and
    each day's value, the weeks being ordered categories (two days of one week are tied, so
    only days of different weeks are compared).

    * Frequency: every engaged day of the counted weeks, against whether the symptom was
      logged (do the logs fall in later weeks than the days without?).
    * Severity: every day the symptom was logged with a severity, against that severity.

    Days rather than weekly values: weekly rates of a symptom logged a few days a week tie
    so often that their test almost never reaches a small p-value (none of 2,000 null series
    below 0.002), and weekly mean severities give 12 points at most. On planted ramps the
    day-level tests find about three times as many at the same strength (frequency: 0.93
    against 0.49 at a rise of 0.8 a day; severity: 0.92 against 0.43 at 3 points, both at
    p <= 0.002), and under the null they stay at or below the nominal level. Kendall, not
    Spearman: at 6 to 12 points Spearman's t approximation gives p-values below 0.001 two to
    three times too often.
    """
    weeks = _weeks(history, start, length)
    if len(weeks) < MIN_TREND_WEEKS or not symptoms:
        return []
    firsts = [first for first, _ in weeks]
    week_of_day = np.full(length, -1)
    for index, (_, block) in enumerate(weeks):
        week_of_day[block] = index
    counted = week_of_day >= 0
    order = week_of_day[counted]
    week_days = np.bincount(order, minlength=len(weeks))
    tests = []
    for item in symptoms:
        logged = item.days[counted]
        if MIN_TREND_ITEM_DAYS <= int(logged.sum()) < len(logged):
            rates = (np.bincount(order[logged], minlength=len(weeks)) / week_days).tolist()
            result = _kendalltau(order, logged)
            tests.append(
                _TrendTest(item, "frequency", rates, firsts, float(result.statistic), float(result.pvalue))
            )
        severity = item.severity[counted]
        known = ~np.isnan(severity)
        per_week = np.bincount(order[known], minlength=len(weeks))
        present = np.flatnonzero(per_week)
        if (
            len(present) < MIN_SEVERITY_WEEKS
            or known.sum() < MIN_TREND_ITEM_DAYS
            or np.ptp(severity[known]) == 0
        ):
            continue
        means = (
            np.bincount(order[known], weights=severity[known], minlength=len(weeks))[present]
            / per_week[present]
        )
        result = _kendalltau(order[known], severity[known])
        tests.append(
            _TrendTest(
                item,
                "severity",
                means.tolist(),
                [firsts[w] for w in present],
                float(result.statistic),
                float(result.pvalue),
            )
        )
    return tests


def _fisher_greater(tests: Sequence[_DayTest]) -> NDArray[np.float64]:
    """One-sided Fisher exact p-values of many 2x2 tables in one call: P(X >= together) for
    X hypergeometric (``universe`` days, ``row`` of them marked, ``column`` drawn)."""
    if not tests:
        return np.zeros(0)
    together = np.array([t.together for t in tests])
    universe = np.array([t.universe for t in tests])
    row = np.array([t.row for t in tests])
    column = np.array([t.column for t in tests])
    p = np.asarray(stats.hypergeom.sf(together - 1, universe, row, column), dtype=np.float64)
    return np.minimum(p, 1.0)


def _support_days(test: _DayTest, start: dt.date) -> tuple[dt.date, ...]:
    """The local days a day-level finding counts: the days seen together, the days on the
    weekday, the days followed."""
    if test.kind == "weekday":
        assert test.weekday is not None
        hits = test.first.days & ((np.arange(test.universe) + start.weekday()) % 7 == test.weekday)
    elif test.kind == "lagged":
        assert test.second is not None
        hits = test.first.days[: test.universe] & _follows(test.second.days, test.universe)
    else:
        assert test.second is not None
        hits = test.first.days & test.second.days
    return tuple(start + dt.timedelta(days=int(i)) for i in np.flatnonzero(hits))


# -- the words ------------------------------------------------------------------------------


def _inline(name: str) -> str:
    """A name in the middle of a sentence: "Headache" -> "headache", "IBS flare" kept."""
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def _capital(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _co_occurrence_sentence(test: _DayTest) -> str:
    assert test.second is not None
    first_count, second_count = test.row, test.column
    # Read it from the item seen on fewer days: "X on a of the n days with Y".
    if second_count <= first_count:
        given, other, given_count, other_count = test.second, test.first, second_count, first_count
    else:
        given, other, given_count, other_count = test.first, test.second, first_count, second_count
    elsewhere = other_count - test.together
    rest = test.universe - given_count
    with_given = f"a check-in on the {given.name}" if given.area else _inline(given.name)
    if other.area:
        subject = f"a check-in on the {other.name} (quick scan or deep dive) happened"
    else:
        subject = f"{_inline(other.name)} was logged"
        if given.area:
            with_given += " (quick scan or deep dive)"
    return _capital(
        f"{subject} on {test.together} of the {given_count} days with {with_given}, "
        f"against {elsewhere} of the {rest} other days."
    )


def _lagged_sentence(test: _DayTest) -> str:
    assert test.second is not None
    elsewhere = test.column - test.together
    return _capital(
        f"{_inline(test.second.name)} was logged within {LAG_DAYS} days after {test.together} of the "
        f"{test.row} days with {_inline(test.first.name)}, against after {elsewhere} of the "
        f"{test.universe - test.row} other days."
    )


def _weekday_sentence(test: _DayTest) -> str:
    assert test.weekday is not None
    elsewhere = test.row - test.together
    return _capital(
        f"{_inline(test.first.name)} was logged on {test.together} of the {test.column} "
        f"{WEEKDAYS[test.weekday]}s, against {elsewhere} of the {test.universe - test.column} other days."
    )


def _trend_sentence(test: _TrendTest, direction: TrendDirection) -> str:
    weeks = len(test.values)
    part = max(2, weeks // 3)
    before = sum(test.values[:part]) / part
    after = sum(test.values[-part:]) / part
    name = _inline(test.item.name)
    if test.measure == "frequency":
        more = "more" if direction == "rising" else "less"
        return _capital(
            f"{name} was logged {more} often over {weeks} weeks: on {before * 7:.1f} days a week in "
            f"the first {part} weeks, {after * 7:.1f} in the last {part}."
        )
    verb = "rose" if direction == "rising" else "fell"
    return (
        f"The average severity of {name} {verb} over {weeks} weeks with a severity logged: "
        f"{before:.1f} in the first {part} of them, {after:.1f} in the last {part}."
    )


# -- the guard ------------------------------------------------------------------------------


def _day_finding(test: _DayTest, p: float, q: float, tests: int, start: dt.date) -> PatternFinding | None:
    if test.together < MIN_TOGETHER_DAYS:
        return None
    if test.kind == "weekday":
        assert test.weekday is not None
        items: tuple[str, ...] = (test.first.name,)
        sentence = _weekday_sentence(test)
    else:
        assert test.second is not None
        items = (test.first.name, test.second.name)
        sentence = _lagged_sentence(test) if test.kind == "lagged" else _co_occurrence_sentence(test)
    return PatternFinding(
        kind=test.kind,
        items=items,
        body_area=test.second.name if test.second is not None and test.second.area else None,
        weekday=WEEKDAYS[test.weekday] if test.weekday is not None else None,
        effect_size=round(test.together * test.universe / (test.row * test.column), 2),
        effect_measure="lift",
        support=test.together,
        support_unit="days",
        p_value=p,
        q_value=q,
        tests=tests,
        days=_support_days(test, start),
        sentence=sentence,
    )


def _trend_finding(test: _TrendTest, q: float, tests: int) -> PatternFinding:
    direction: TrendDirection = "rising" if test.tau > 0 else "falling"
    return PatternFinding(
        kind="trend",
        items=(test.item.name,),
        measure=test.measure,
        direction=direction,
        effect_size=round(test.tau, 3),
        effect_measure="kendall_tau",
        support=len(test.values),
        support_unit="weeks",
        p_value=test.p_value,
        q_value=q,
        tests=tests,
        days=tuple(test.weeks),
        sentence=_trend_sentence(test, direction),
    )


def _candidates(
    history: PatternInput, start: dt.date, length: int
) -> list[tuple[_DayTest | _TrendTest, float]]:
    """Every test made for the person, with its p-value: one family for the correction."""
    symptoms, areas = _items(history, start, length)
    day_tests = _day_tests(symptoms, areas, start)
    p_values = _fisher_greater(day_tests).tolist()
    candidates: list[tuple[_DayTest | _TrendTest, float]] = []
    weekday: list[tuple[_DayTest, float]] = []
    for test, p in zip(day_tests, p_values, strict=True):
        if test.kind != "weekday":
            candidates.append((test, p))
            continue
        weekday.append((test, p))
        if len(weekday) == 7:
            # One test per symptom: its most telling weekday, the p-value times 7 for the
            # choice (a tie goes to the day with more logs, then the earlier day).
            best, p_best = min(weekday, key=lambda tp: (tp[1], -tp[0].together, tp[0].weekday))
            candidates.append((best, min(1.0, 7 * p_best)))
            weekday = []
    candidates += [(t, t.p_value) for t in _trend_tests(history, symptoms, start, length)]
    return candidates


_KIND_ORDER: Final = {"co_occurrence": 0, "lagged": 1, "weekday": 2, "trend": 3}


def find_patterns(history: PatternInput) -> list[PatternFinding]:
    """The patterns in ``history`` that survive the false-discovery guard, most certain first.

    Every test made for the person, of every kind, is in one Benjamini-Hochberg family at
    ``FDR_Q``; a finding is returned only if its q-value is within it and it has its kind's
    minimum support. An empty list means nothing could be told apart from chance.
    """
    span = _span(history)
    if span is None or span[1] < MIN_SPAN_DAYS:
        return []
    start, length = span
    candidates = _candidates(history, start, length)
    if not candidates:
        return []
    q_values = stats.false_discovery_control([p for _, p in candidates], method="bh").tolist()
    tests = len(candidates)
    findings = []
    for (test, p), q in zip(candidates, q_values, strict=True):
        if q > FDR_Q:
            continue
        if isinstance(test, _TrendTest):
            findings.append(_trend_finding(test, q, tests))
        elif (finding := _day_finding(test, p, q, tests, start)) is not None:
            findings.append(finding)
    findings.sort(key=lambda f: (f.q_value, f.p_value, _KIND_ORDER[f.kind], f.items, f.weekday or ""))
    return findings
