"""What a model may say: the answer models mirror the tables and refuse diagnoses and doses."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from worker.report import (
    AnalysisAnswer,
    Insight,
    MovesAnswer,
    Prediction,
    ShadowPatternWording,
    StoryDraft,
    StrategicMove,
    _free_text_fields,
    unsafe_medical_claim,
)


def _prediction(**overrides: Any) -> dict[str, Any]:
    return {
        "event_description": "Energy dips are likely on long workdays",
        "probability": 60,
        "timeframe": "Next 7 days",
        "preventable": True,
        "reasoning": "Afternoon fatigue followed the three longest days this week.",
        "suggested_actions": ["Take a short walk after lunch"],
        **overrides,
    }


def _insight(**overrides: Any) -> dict[str, Any]:
    return {
        "insight_type": "neutral",
        "title": "Headaches held steady",
        "description": "Two headaches this week, as in the weeks before.",
        "confidence": 55,
        "evidence": ["symptom_tracking: headache"],
        **overrides,
    }


@pytest.mark.parametrize(
    "text",
    [
        "You may have migraine disorder",
        "This pattern is consistent with hypertension",
        "Signs of an infection are showing",
        "you likely have arthritis",
    ],
)
def test_a_diagnosis_is_refused(text: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="holds a diagnosis"):
        Prediction.model_validate(_prediction(event_description=text))


@pytest.mark.parametrize("text", ["Take 400 mg of ibuprofen", "Use 2 puffs when it starts", "1000 IU daily"])
def test_a_medication_dose_is_refused(text: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="holds an instruction about a medicine"):
        Prediction.model_validate(_prediction(suggested_actions=[text]))


@pytest.mark.parametrize(
    "text",
    [
        "Energy dips are likely mid-week",
        "Sleep quality may change after late screens",
        "Drink 500 ml more water",
    ],
)
def test_general_events_and_everyday_advice_pass(text: str) -> None:
    assert unsafe_medical_claim(text) is None


def test_the_refusal_never_repeats_the_health_text() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Prediction.model_validate(_prediction(reasoning="This suggests a sinus infection after the flight."))
    assert "sinus" not in str(caught.value).split("input_value")[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [("probability", 101), ("probability", -1), ("timeframe", ""), ("suggested_actions", [])],
)
def test_predictions_mirror_the_table_checks(field: str, value: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        Prediction.model_validate(_prediction(**{field: value}))


@pytest.mark.parametrize(("insights", "predictions"), [(2, 2), (6, 2), (3, 1), (3, 4)])
def test_the_analysis_answer_holds_3_to_5_insights_and_2_to_3_predictions(
    insights: int, predictions: int
) -> None:
    with pytest.raises(pydantic.ValidationError):
        AnalysisAnswer.model_validate(
            {
                "insights": [_insight(title=f"Insight number {i}") for i in range(insights)],
                "predictions": [_prediction() for _ in range(predictions)],
                "shadow_patterns": [],
            }
        )


def test_unknown_fields_and_wrong_types_are_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        AnalysisAnswer.model_validate(
            {
                "insights": [_insight(), _insight(), _insight(insight_type="alarming")],
                "predictions": [_prediction(), _prediction()],
                "shadow_patterns": [],
            }
        )
    with pytest.raises(pydantic.ValidationError):
        Prediction.model_validate(_prediction(severity="high"))


def _move(strategy: str, **overrides: Any) -> dict[str, Any]:
    return {
        "strategy": strategy,
        "strategy_type": "prevention",
        "priority": 5,
        "rationale": "Because the pattern repeats on busy days.",
        "expected_outcome": "Fewer afternoon dips within two weeks.",
        **overrides,
    }


def test_exactly_five_distinct_strategic_moves_with_the_table_types() -> None:
    moves = [_move(f"Try idea number {i} this week", priority=i + 1) for i in range(5)]
    assert len(MovesAnswer.model_validate({"strategic_moves": moves}).strategic_moves) == 5
    with pytest.raises(pydantic.ValidationError):
        MovesAnswer.model_validate({"strategic_moves": moves[:4]})
    with pytest.raises(pydantic.ValidationError, match="distinct"):
        MovesAnswer.model_validate({"strategic_moves": [_move("Same idea every time")] * 5})
    with pytest.raises(pydantic.ValidationError):
        MovesAnswer.model_validate({"strategic_moves": [*moves[:4], _move("Odd one", strategy_type="cure")]})
    with pytest.raises(pydantic.ValidationError):
        MovesAnswer.model_validate({"strategic_moves": [*moves[:4], _move("Too urgent", priority=11)]})


# -- strict answers: no coercion, no control or direction characters, distinct priorities ------


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (Prediction, "probability", True),
        (Prediction, "probability", "60"),
        (Prediction, "probability", 60.0),
        (Prediction, "preventable", "yes"),
        (Prediction, "preventable", 1),
        (Insight, "confidence", "55"),
        (Insight, "confidence", False),
        (Insight, "title", 12345),
    ],
)
def test_no_value_is_coerced_into_a_number_or_a_flag(
    model: type[pydantic.BaseModel], field: str, value: Any
) -> None:
    base = _prediction() if model is Prediction else _insight()
    with pytest.raises(pydantic.ValidationError) as caught:
        model.model_validate({**base, field: value})
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


@pytest.mark.parametrize(
    "character",
    ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u202e", "\u202a", "\u2066", "\u2069", "\ufffe", "\uffff"],
)
def test_control_and_direction_characters_are_refused_with_their_code_point(character: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=f"U\\+{ord(character):04X}"):
        Insight.model_validate(_insight(description=f"Two headaches{character} this week, as before."))


def test_newlines_and_tabs_stay_allowed() -> None:
    assert Insight.model_validate(_insight(description="Two headaches this week,\nas in\tthe weeks before."))


def test_the_five_moves_need_different_priorities() -> None:
    moves = [_move(f"Try idea number {i} this week", priority=i + 1) for i in range(5)]
    moves[4] = {**moves[4], "priority": 1}
    with pytest.raises(pydantic.ValidationError, match="different priorities"):
        MovesAnswer.model_validate({"strategic_moves": moves})


def _valid_answers() -> dict[type[pydantic.BaseModel], dict[str, Any]]:
    return {
        Prediction: _prediction(),
        Insight: _insight(),
        ShadowPatternWording: {
            "pattern_name": "Evening headaches",
            "last_seen_description": "Headaches came most evenings in the weeks before this one.",
        },
        StrategicMove: {
            "strategy": "Keep a short walk after lunch on busy days",
            "strategy_type": "prevention",
            "priority": 1,
            "rationale": "Afternoon energy dipped on the three longest days.",
            "expected_outcome": "Steadier afternoons over the next week.",
        },
        StoryDraft: {
            "title": "A steadier week",
            "subtitle": "Energy, sleep and a few headaches",
            "story_text": "Energy held up most days this week, and the headaches came less often than before.",
        },
    }


def test_every_free_text_field_of_every_answer_is_read_by_the_guard() -> None:
    """Only fields with a closed set of values (Literal) are left out of the guard: each
    string field that can hold the model's own words refuses a diagnosis."""
    claim = "You may have migraine disorder by the look of it"  # fits every field's length
    checked = 0
    for model, answer in _valid_answers().items():
        model.model_validate(answer)  # the valid answer passes
        for name, value in answer.items():
            annotation = str(model.model_fields[name].annotation)
            if isinstance(value, str):
                bad: Any = claim
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                bad = [claim]
            else:
                assert name not in _free_text_fields(model) or not isinstance(value, str | list)
                continue
            if annotation.startswith("typing.Literal"):
                assert name not in _free_text_fields(model)
                continue
            assert name in _free_text_fields(model)
            with pytest.raises(pydantic.ValidationError, match="holds a diagnosis"):
                model.model_validate({**answer, name: bad})
            checked += 1
    assert checked == 15  # every string and list-of-strings field but the two closed ones
