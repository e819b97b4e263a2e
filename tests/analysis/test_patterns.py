"""Patterns with honest statistics: each kind found when present, not when absent or thin,
every test of a person corrected together, the same answer every time, and the targets held
on synthetic people whose truth is known.

Hand-made histories start on Monday 2026-09-07 (local dates, as the gather delivers them)
and run for eight weeks unless a test says otherwise; a conversation on the first and last
day makes the whole period the person's engaged span.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence

import numpy as np
import pytest
from scipy import stats
from synthetic_patterns import PLANTED_KINDS, STRENGTH, PlantedKind, null_person, planted_person

from worker.analysis import patterns
from worker.analysis.gather import Event, RawWeek
from worker.analysis.patterns import (
    FDR_Q,
    MAX_WEEKS,
    PatternFinding,
    PatternInput,
    find_patterns,
)
from worker.report import WeekWindow, forbidden_character, unsafe_medical_claim

MONDAY = dt.date(2026, 9, 7)


def day(offset: int) -> dt.date:
    return MONDAY + dt.timedelta(days=offset)


def symptom(
    name: str, offsets: Iterable[int], severity: int | Sequence[int] = 5, part: str | None = None
) -> list[Event]:
    offsets = list(offsets)
    levels = [severity] * len(offsets) if isinstance(severity, int) else list(severity)
    return [
        Event("symptom", day(o), name, part, level, None, None, None)
        for o, level in zip(offsets, levels, strict=True)
    ]


def scans(area: str, offsets: Iterable[int]) -> list[Event]:
    return [Event("quick_scan", day(o), None, area, None, "low", None, None) for o in offsets]


def history(*groups: list[Event], days: int = 56, engaged_from: int = 0) -> PatternInput:
    engaged = [
        Event("conversation", day(o), None, None, None, None, None, None) for o in (engaged_from, days - 1)
    ]
    events = [e for group in groups for e in group] + engaged
    return PatternInput.from_events(events, MONDAY, day(days - 1))


def family_of(person: PatternInput) -> list[tuple[object, float]]:
    """Every test ``find_patterns`` makes for the person, with its raw p-value."""
    span = patterns._span(person)
    assert span is not None
    return [(test, p) for test, p in patterns._candidates(person, *span)]


def of_kind(findings: list[PatternFinding], kind: str) -> list[PatternFinding]:
    return [f for f in findings if f.kind == kind]


# -- co-occurrence --------------------------------------------------------------------------

HEADACHE_DAYS = [1, 5, 9, 14, 20, 24, 34, 39, 47]  # on every weekday, none more than twice


def test_two_symptoms_on_the_same_days_are_a_co_occurrence_told_with_its_numbers() -> None:
    together = [1, 5, 9, 20, 24, 39, 47]
    found = of_kind(
        find_patterns(
            history(symptom("Headache", HEADACHE_DAYS), symptom("Neck stiffness", [*together, 3, 30, 52]))
        ),
        "co_occurrence",
    )
    assert len(found) == 1
    finding = found[0]
    assert set(finding.items) == {"Headache", "Neck stiffness"}
    assert finding.sentence == (
        "Neck stiffness was logged on 7 of the 9 days with headache, against 3 of the 47 other days."
    )
    assert finding.support == 7 and finding.support_unit == "days"
    assert finding.days == tuple(day(o) for o in together)
    # Lift: 7 days seen together where 9 * 10 / 56 = 1.6 were expected.
    assert finding.effect_size == pytest.approx(7 / (9 * 10 / 56), abs=0.01)
    assert finding.p_value <= finding.q_value <= FDR_Q


def test_a_symptom_and_check_ins_on_another_body_area_can_go_together() -> None:
    found = of_kind(
        find_patterns(
            history(
                symptom("Ankle pain", HEADACHE_DAYS, part="ankle"),
                scans("knee", [1, 5, 9, 14, 20, 24, 34, 50]),
            )
        ),
        "co_occurrence",
    )
    assert [(f.items, f.body_area) for f in found] == [(("Ankle pain", "knee"), "knee")]
    assert found[0].sentence == (
        "Ankle pain was logged on 7 of the 8 days with a check-in on the knee (quick scan or deep dive), "
        "against 2 of the 48 other days."
    )


def test_check_ins_on_a_symptoms_own_body_area_are_not_offered_as_a_pattern() -> None:
    found = find_patterns(
        history(symptom("Knee pain", HEADACHE_DAYS, part="knee"), scans("knee", HEADACHE_DAYS))
    )
    assert not of_kind(found, "co_occurrence")


def test_symptoms_on_different_days_do_not_co_occur() -> None:
    found = find_patterns(
        history(symptom("Headache", HEADACHE_DAYS), symptom("Nausea", [3, 11, 17, 23, 29, 36, 43, 52]))
    )
    assert not of_kind(found, "co_occurrence")


def test_a_person_who_logged_nothing_has_no_findings() -> None:
    assert find_patterns(PatternInput(MONDAY, day(83))) == []


def test_too_little_data_gives_no_co_occurrence() -> None:
    # Ten days engaged: under the two weeks every test needs.
    short = history(symptom("Headache", [0, 2, 4, 6, 8]), symptom("Nausea", [0, 2, 4, 6, 8]), days=10)
    assert find_patterns(short) == []
    # Eight weeks, but a symptom logged on three days is never tested.
    rare = history(symptom("Headache", [5, 20, 40]), symptom("Nausea", [5, 20, 40]))
    assert not of_kind(find_patterns(rare), "co_occurrence")


# -- weekday --------------------------------------------------------------------------------

MONDAYS = [0, 7, 14, 21, 28, 35, 42, 49]


def test_a_symptom_that_favours_a_weekday_is_found_on_that_local_weekday() -> None:
    found = of_kind(find_patterns(history(symptom("Knee pain", [*MONDAYS, 10, 33]))), "weekday")
    assert len(found) == 1
    finding = found[0]
    assert (finding.items, finding.weekday, finding.support) == (("Knee pain",), "Monday", 8)
    assert finding.sentence == "Knee pain was logged on 8 of the 8 Mondays, against 2 of the 48 other days."
    # The days are the local dates given, and the weekday is theirs.
    assert finding.days == tuple(day(o) for o in MONDAYS)
    assert {d.weekday() for d in finding.days} == {0}


def test_the_seven_weekdays_are_paid_for_with_a_factor_of_seven() -> None:
    finding = of_kind(find_patterns(history(symptom("Knee pain", [*MONDAYS, 10, 33]))), "weekday")[0]
    table = [[8, 0], [2, 46]]
    one_day = stats.fisher_exact(np.array(table), alternative="greater").pvalue
    assert finding.p_value == pytest.approx(7 * one_day)


def test_a_symptom_spread_over_the_week_has_no_weekday() -> None:
    spread = [0, 8, 16, 24, 32, 40, 48, 3, 12, 27]  # every weekday, none more than twice
    assert not of_kind(find_patterns(history(symptom("Knee pain", spread))), "weekday")


def test_three_weeks_are_too_few_to_call_a_weekday() -> None:
    short = history(
        symptom("Knee pain", [0, 7, 14, 3, 10, 17]), symptom("Fatigue", [1, 2, 5, 9, 12, 16]), days=21
    )
    assert not of_kind(find_patterns(short), "weekday")


# -- lagged order ---------------------------------------------------------------------------

NECK_DAYS = [1, 8, 15, 22, 29, 36, 43, 48]


def test_a_symptom_followed_by_another_within_two_days_is_a_lagged_pattern_in_that_order() -> None:
    found = of_kind(
        find_patterns(
            history(symptom("Neck stiffness", NECK_DAYS), symptom("Headache", [d + 1 for d in NECK_DAYS]))
        ),
        "lagged",
    )
    assert [f.items for f in found] == [("Neck stiffness", "Headache")]
    assert found[0].sentence == (
        "Headache was logged within 2 days after 8 of the 8 days with neck stiffness, "
        "against after 8 of the 46 other days."
    )
    assert found[0].days == tuple(day(o) for o in NECK_DAYS)


def test_a_symptom_that_comes_days_later_is_not_following() -> None:
    found = find_patterns(
        history(symptom("Neck stiffness", NECK_DAYS), symptom("Headache", [d + 4 for d in NECK_DAYS]))
    )
    assert not of_kind(found, "lagged")


def test_three_occasions_are_too_few_for_a_lagged_pattern() -> None:
    found = find_patterns(
        history(symptom("Neck stiffness", [8, 29, 43]), symptom("Headache", [9, 30, 44, 12, 50]))
    )
    assert not of_kind(found, "lagged")


# -- trends ---------------------------------------------------------------------------------


def rising_days(weeks: int) -> list[int]:
    """Week k (from 0) has k logs, on its first k days."""
    return [7 * week + d for week in range(weeks) for d in range(week)]


def test_a_symptom_logged_more_often_week_after_week_is_rising() -> None:
    found = of_kind(find_patterns(history(symptom("Headache", rising_days(8)))), "trend")
    assert [(f.measure, f.direction, f.support) for f in found] == [("frequency", "rising", 8)]
    assert found[0].sentence == (
        "Headache was logged more often over 8 weeks: on 0.5 days a week in the first 2 weeks, 6.5 in the last 2."
    )
    assert found[0].days == tuple(day(7 * w) for w in range(8))
    assert found[0].effect_measure == "kendall_tau" and found[0].effect_size > 0


def test_a_severity_that_falls_week_after_week_is_falling() -> None:
    offsets = [7 * week + d for week in range(8) for d in (0, 2, 4)]
    severity = [9 - o // 7 for o in offsets]
    found = of_kind(find_patterns(history(symptom("Back pain", offsets, severity))), "trend")
    assert [(f.measure, f.direction) for f in found] == [("severity", "falling")]
    assert found[0].sentence == (
        "The average severity of back pain fell over 8 weeks with a severity logged: "
        "8.5 in the first 2 of them, 2.5 in the last 2."
    )


def test_a_steady_symptom_has_no_trend() -> None:
    offsets = [7 * week + d for week in range(8) for d in (0, 3)]
    severity = [4, 6] * 8
    assert not of_kind(find_patterns(history(symptom("Headache", offsets, severity))), "trend")


def test_five_weeks_are_too_few_for_a_trend() -> None:
    assert not of_kind(find_patterns(history(symptom("Headache", rising_days(5)), days=35)), "trend")


def test_weeks_before_the_person_started_logging_are_not_weeks_without_symptoms() -> None:
    # Twelve weeks read, the person active in the last six only, with a steady symptom.
    offsets = [7 * week + d for week in range(6, 12) for d in (1, 4)]
    person = history(symptom("Headache", offsets), days=84, engaged_from=offsets[0])
    assert not of_kind(find_patterns(person), "trend")


# -- the guard ------------------------------------------------------------------------------


def correction_case() -> PatternInput:
    together = [8, 26, 38, 51]
    a_days = [2, 8, 15, 19, 26, 31, 38, 44, 51]
    b_days = [*together, 4, 12, 22, 34, 47]
    return history(symptom("Headache", a_days), symptom("Nausea", b_days))


def test_a_p_value_that_passes_alone_is_dropped_once_every_test_of_the_person_is_counted() -> None:
    person = correction_case()
    alone = stats.fisher_exact(np.array([[4, 5], [5, 42]]), alternative="greater").pvalue
    assert alone < FDR_Q  # by itself, it would pass
    assert not of_kind(find_patterns(person), "co_occurrence")
    family = family_of(person)
    p_values = [p for _, p in family]
    assert len(family) >= 5
    assert min(p_values) == pytest.approx(alone)
    assert min(stats.false_discovery_control(p_values, method="bh")) > FDR_Q


def test_q_values_are_benjamini_hochberg_over_every_test_of_every_kind() -> None:
    person = planted_person("co_occurrence", random.Random("bh"))
    findings = find_patterns(person.history)
    family = family_of(person.history)
    kinds = {getattr(test, "kind", "trend") for test, _ in family}
    assert kinds == {"co_occurrence", "lagged", "weekday", "trend"}
    q_values = stats.false_discovery_control([p for _, p in family], method="bh")
    assert findings
    for finding in findings:
        assert finding.tests == len(family)
        assert finding.q_value in q_values.tolist()
        assert finding.q_value <= FDR_Q


def test_a_pattern_on_two_days_is_dropped_even_when_its_q_value_passes() -> None:
    # Twelve weeks, each symptom on four days, two of them shared: p = 0.010, three tests.
    person = history(symptom("Headache", [3, 17, 30, 60]), symptom("Nausea", [3, 17, 45, 74]), days=84)
    family = family_of(person)
    assert min(stats.false_discovery_control([p for _, p in family], method="bh")) <= FDR_Q
    assert find_patterns(person) == []


def test_the_work_per_person_is_bounded_whatever_they_log() -> None:
    rng = random.Random("busy")
    events = [
        Event("symptom", day(o), f"Symptom {s}", None, rng.randint(1, 10), None, None, None)
        for s in range(20)
        for o in range(84)
        if rng.random() < 0.3
    ]
    events += [
        Event("quick_scan", day(o), None, f"area {a}", None, "low", None, None)
        for a in range(10)
        for o in range(0, 84, 3)
    ]
    person = PatternInput.from_events(events, MONDAY, day(83))
    family = family_of(person)
    # 8 symptoms and 4 areas of 20 and 10: 28 + 32 co-occurrence, 56 lagged, 8 weekday, 16 trend.
    assert len(family) == 140


def test_the_same_history_gives_the_same_findings_in_the_same_order() -> None:
    person = planted_person("lagged", random.Random("same"))
    first = find_patterns(person.history)
    assert first == find_patterns(person.history)
    reordered = PatternInput.from_events(list(reversed(person.events)), person.first_day, person.last_day)
    assert find_patterns(reordered) == first


def test_sentences_are_plain_words_a_report_may_hold() -> None:
    rng = random.Random("words")
    for kind in PLANTED_KINDS:
        for finding in find_patterns(planted_person(kind, rng).history):
            assert unsafe_medical_claim(finding.sentence) is None
            assert forbidden_character(finding.sentence) is None
            assert any(ch.isdigit() for ch in finding.sentence)


# -- the input ------------------------------------------------------------------------------


def test_the_input_keeps_the_last_twelve_weeks_and_the_persons_own_activity() -> None:
    events = [
        *symptom("headache", [0], 3),
        *symptom("Headache ", [0], 7),  # the same symptom, the day's highest severity kept
        Event("deep_dive", day(2), None, "Lower back", None, "completed", None, None),
        Event("message", day(3), None, None, None, "user", None, None),
        Event("story", day(4), "A week", None, None, None, "text", None, "weekly_analysis"),
        *symptom("Old", [-200]),
    ]
    person = PatternInput.from_events(events, day(-300), day(50))
    assert person.first_day == day(50 - 7 * MAX_WEEKS + 1)
    assert list(person.symptoms) == ["headache"]
    assert person.symptoms["headache"].severity == {day(0): 7}
    assert person.body_areas == {"lower back": frozenset({day(2)})}
    assert person.active_days == frozenset({day(0), day(2), day(3)})  # a story we wrote is not activity


def test_the_history_of_a_gathered_week_is_its_local_dates() -> None:
    window = WeekWindow(
        week_of=dt.date(2026, 11, 30),
        start=dt.date(2026, 11, 23),
        end=dt.date(2026, 11, 29),
        timezone="Pacific/Kiritimati",
    )
    raw = RawWeek(
        user_id=__import__("uuid").uuid4(), display_name=None, window=window, events=symptom("Headache", [77])
    )
    person = PatternInput.from_raw_week(raw)
    assert (person.first_day, person.last_day) == (raw.first_day, dt.date(2026, 11, 29))
    assert person.symptoms["headache"].severity == {day(77): 5}


# -- the statistics are scipy's -------------------------------------------------------------


def test_the_vectorised_fisher_tail_is_fishers_exact_test() -> None:
    tables = [(56, 9, 10, 7), (84, 12, 14, 3), (30, 5, 5, 0), (60, 20, 25, 15)]
    item = patterns._Item("Headache", False, None, np.zeros(1, dtype=np.bool_), np.zeros(1))
    tests = [
        patterns._DayTest("co_occurrence", item, None, None, n, row, col, a) for n, row, col, a in tables
    ]
    expected = [
        stats.fisher_exact(
            np.array([[a, row - a], [col - a, n - row - col + a]]), alternative="greater"
        ).pvalue
        for n, row, col, a in tables
    ]
    assert patterns._fisher_greater(tests).tolist() == pytest.approx(expected, rel=1e-9)


def test_the_unwrapped_kendall_test_is_scipys_kendalltau() -> None:
    rng = np.random.default_rng(7)
    for size in (8, 12, 84):
        x = np.repeat(np.arange(12), 7)[:size] if size == 84 else np.arange(size)
        for y in (rng.integers(0, 2, size), rng.normal(size=size), rng.integers(1, 10, size)):
            ours = patterns._kendalltau(x, y)
            public = stats.kendalltau(x, y)
            assert (ours.statistic, ours.pvalue) == pytest.approx((public.statistic, public.pvalue))


# -- the targets, at a small size (bench/pattern_power.py measures them at a larger one) --------


@pytest.mark.parametrize("kind", PLANTED_KINDS)
def test_nine_in_ten_planted_patterns_are_found_at_the_documented_strength(kind: PlantedKind) -> None:
    rng = random.Random(f"target:{kind}")
    people = [planted_person(kind, rng) for _ in range(40)]
    found = sum(p.planted is not None and p.planted.found_in(find_patterns(p.history)) for p in people)
    assert found >= 36, f"{kind} at {STRENGTH[kind]}: {found} of 40"


def test_at_most_one_null_person_in_twenty_has_any_finding() -> None:
    rng = random.Random("target:null")
    with_findings = sum(bool(find_patterns(null_person(rng).history)) for _ in range(100))
    assert with_findings <= 5, f"{with_findings} of 100"
