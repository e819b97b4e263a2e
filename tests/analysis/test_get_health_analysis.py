"""``public.get_health_analysis(week_of)``: a person's weekly report in one call, as PostgREST makes it.

Data is built as the superuser: people in ``auth.users`` with a profile time zone,
succeeded (or not) generations in ``analysis_generations`` and rows in the four report
tables. Each call runs as PostgREST runs a request: in a transaction, ``set local role``
plus the JWT claims in ``request.jwt.claims``. Each test has a fresh database.

``now()`` cannot be pinned, so a person's current week is computed the way the function
computes it, with ``public.user_week_of`` as the superuser.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import sql

MONDAY = dt.date(2026, 11, 23)
LIST_KEYS = ("insights", "predictions", "shadow_patterns", "strategic_moves")
REPORT_TABLES = {
    "insights": "health_insights",
    "predictions": "health_predictions",
    "shadow_patterns": "shadow_patterns",
    "strategic_moves": "strategic_moves",
}
UNSET: Any = object()


# -- building data (as the superuser) -------------------------------------------------------------


def add_user(conn: psycopg.Connection[Any], timezone: str = "UTC") -> uuid.UUID:
    user_id = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    conn.execute("insert into public.profiles (user_id, timezone) values (%s, %s)", (user_id, timezone))
    return user_id


def current_week(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> dt.date:
    row = conn.execute("select public.user_week_of(%s)", (user_id,)).fetchone()
    assert row is not None
    week: dt.date = row[0]
    return week


def add_generation(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID,
    week: dt.date,
    *,
    status: str = "succeeded",
    completed_at: dt.datetime | None = None,
) -> uuid.UUID:
    # A generation that ended records when; a running one has not ended yet.
    finished = None if status == "running" else (completed_at or dt.datetime.now(dt.UTC))
    row = conn.execute(
        "insert into public.analysis_generations (user_id, week_of, status, model, completed_at)"
        " values (%s, %s, %s, 'test-model', %s) returning id",
        (user_id, week, status, finished),
    ).fetchone()
    assert row is not None
    generation_id: uuid.UUID = row[0]
    return generation_id


def add_insight(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID,
    week: dt.date,
    generation_id: uuid.UUID | None,
    title: str,
    *,
    confidence: int | None = 50,
    created_at: dt.datetime | None = None,
    evidence: list[dict[str, Any]] | None = None,
) -> uuid.UUID:
    row = conn.execute(
        "insert into public.health_insights"
        " (user_id, story_id, insight_type, title, description, confidence, week_of, generation_id,"
        "  evidence, created_at)"
        " values (%s, %s, 'neutral', %s, 'what was seen', %s, %s, %s, %s, coalesce(%s, now()))"
        " returning id",
        (
            user_id,
            uuid.uuid4(),
            title,
            confidence,
            week,
            generation_id,
            json.dumps(evidence or []),
            created_at,
        ),
    ).fetchone()
    assert row is not None
    insight_id: uuid.UUID = row[0]
    return insight_id


def add_prediction(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID,
    week: dt.date,
    generation_id: uuid.UUID | None,
    event: str,
    *,
    probability: int | None = 50,
) -> None:
    conn.execute(
        "insert into public.health_predictions"
        " (user_id, story_id, event_description, probability, timeframe, week_of, generation_id)"
        " values (%s, %s, %s, %s, 'next week', %s, %s)",
        (user_id, uuid.uuid4(), event, probability, week, generation_id),
    )


def add_pattern(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID,
    week: dt.date,
    generation_id: uuid.UUID | None,
    name: str,
    *,
    significance: str | None = "medium",
    days_missing: int = 0,
) -> None:
    conn.execute(
        "insert into public.shadow_patterns"
        " (user_id, pattern_name, last_seen_description, significance, days_missing, week_of, generation_id)"
        " values (%s, %s, 'mentioned often before', %s, %s, %s, %s)",
        (user_id, name, significance, days_missing, week, generation_id),
    )


def add_move(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID,
    week: dt.date,
    generation_id: uuid.UUID | None,
    strategy: str,
    *,
    priority: int = 5,
) -> None:
    conn.execute(
        "insert into public.strategic_moves"
        " (user_id, strategy, strategy_type, priority, week_of, generation_id)"
        " values (%s, %s, 'prevention', %s, %s, %s)",
        (user_id, strategy, priority, week, generation_id),
    )


def add_full_week(conn: psycopg.Connection[Any], user_id: uuid.UUID, week: dt.date, label: str) -> uuid.UUID:
    """A succeeded generation of the week and one row, named after label, in each report table."""
    generation_id = add_generation(conn, user_id, week)
    add_insight(conn, user_id, week, generation_id, f"insight {label}")
    add_prediction(conn, user_id, week, generation_id, f"prediction {label}")
    add_pattern(conn, user_id, week, generation_id, f"pattern {label}")
    add_move(conn, user_id, week, generation_id, f"move {label}")
    return generation_id


# -- calling it (as PostgREST does) ---------------------------------------------------------------


def call(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID | None,
    week_of: dt.date | None = UNSET,
    *,
    role: str = "authenticated",
) -> dict[str, Any]:
    """One API request: the role, a JWT for user_id (none when None), and week_of when given."""
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        if user_id is not None:
            claims = {"sub": str(user_id), "role": role}
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        if week_of is UNSET:
            row = conn.execute("select public.get_health_analysis()").fetchone()
        else:
            row = conn.execute(
                "select public.get_health_analysis(week_of => %s::date)", (week_of,)
            ).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    return result


def titles(result: dict[str, Any]) -> dict[str, list[str]]:
    """The distinguishing text of each list's rows, in the order returned."""
    fields = {
        "insights": "title",
        "predictions": "event_description",
        "shadow_patterns": "pattern_name",
        "strategic_moves": "strategy",
    }
    return {key: [str(item[fields[key]]) for item in result[key]] for key in LIST_KEYS}


def week_titles(label: str) -> dict[str, list[str]]:
    return {
        "insights": [f"insight {label}"],
        "predictions": [f"prediction {label}"],
        "shadow_patterns": [f"pattern {label}"],
        "strategic_moves": [f"move {label}"],
    }


# -- whose rows ------------------------------------------------------------------------------------


def test_only_the_callers_rows_are_returned_never_another_persons_of_the_same_week(
    conn: psycopg.Connection[Any],
) -> None:
    me = add_user(conn)
    other = add_user(conn)
    add_full_week(conn, me, MONDAY, "mine")
    add_full_week(conn, other, MONDAY, "theirs")

    result = call(conn, me, MONDAY)

    assert titles(result) == week_titles("mine")


def test_another_persons_generation_is_never_reported_as_the_callers(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    other = add_user(conn)
    add_full_week(conn, other, MONDAY, "theirs")

    result = call(conn, me, MONDAY)

    assert result["generation_id"] is None
    assert result["generated_at"] is None


# -- which week ------------------------------------------------------------------------------------


def test_an_explicit_monday_returns_that_week_even_when_a_later_week_has_an_analysis(
    conn: psycopg.Connection[Any],
) -> None:
    me = add_user(conn)
    add_full_week(conn, me, MONDAY, "asked")
    add_full_week(conn, me, MONDAY + dt.timedelta(days=7), "later")

    result = call(conn, me, MONDAY)

    assert result["week_of"] == "2026-11-23"
    assert titles(result) == week_titles("asked")


def test_by_default_the_current_week_is_the_one_in_the_callers_own_time_zone(
    conn: psycopg.Connection[Any],
) -> None:
    # UTC+14 and UTC-11: for 25 hours of every week these two people are in different
    # weeks. Each has an analysis of the week before, the week of and the week after
    # their own current week; the default must pick their own current week.
    people = {"Pacific/Kiritimati": add_user(conn, "Pacific/Kiritimati")}
    people["Pacific/Pago_Pago"] = add_user(conn, "Pacific/Pago_Pago")
    expected: dict[str, dt.date] = {}
    for zone, person in people.items():
        week = current_week(conn, person)
        expected[zone] = week
        for offset in (-7, 0, 7):
            add_full_week(conn, person, week + dt.timedelta(days=offset), f"{zone} {offset}")

    for zone, person in people.items():
        result = call(conn, person)

        assert result["week_of"] == expected[zone].isoformat()
        assert titles(result) == week_titles(f"{zone} 0")


def test_without_an_analysis_this_week_the_default_is_the_latest_week_that_has_one(
    conn: psycopg.Connection[Any],
) -> None:
    me = add_user(conn, "Europe/Berlin")
    this_week = current_week(conn, me)
    add_full_week(conn, me, this_week - dt.timedelta(days=21), "three weeks ago")
    add_full_week(conn, me, this_week - dt.timedelta(days=7), "last week")

    result = call(conn, me)

    assert result["week_of"] == (this_week - dt.timedelta(days=7)).isoformat()
    assert titles(result) == week_titles("last week")


def test_an_explicit_null_week_of_chooses_the_week_as_if_none_was_given(
    conn: psycopg.Connection[Any],
) -> None:
    me = add_user(conn)
    last_week = current_week(conn, me) - dt.timedelta(days=7)
    add_full_week(conn, me, last_week, "last week")

    result = call(conn, me, None)

    assert result["week_of"] == last_week.isoformat()


@pytest.mark.parametrize("status", ["running", "failed", "skipped"])
def test_a_generation_that_did_not_succeed_does_not_make_a_week_the_default(
    conn: psycopg.Connection[Any], status: str
) -> None:
    me = add_user(conn)
    this_week = current_week(conn, me)
    add_full_week(conn, me, this_week - dt.timedelta(days=7), "last week")
    add_generation(conn, me, this_week, status=status)

    result = call(conn, me)

    assert result["week_of"] == (this_week - dt.timedelta(days=7)).isoformat()


def test_a_person_with_no_analysis_gets_the_current_week_with_empty_lists(
    conn: psycopg.Connection[Any],
) -> None:
    me = add_user(conn, "Asia/Tokyo")

    result = call(conn, me)

    assert result == {
        "week_of": current_week(conn, me).isoformat(),
        "generated_at": None,
        "generation_id": None,
        "trigger": None,
        "period": None,
        "insights": [],
        "predictions": [],
        "shadow_patterns": [],
        "strategic_moves": [],
    }


def test_an_explicit_week_without_an_analysis_gives_empty_lists_and_no_generation(
    conn: psycopg.Connection[Any],
) -> None:
    me = add_user(conn)
    add_full_week(conn, me, MONDAY, "another week")

    result = call(conn, me, MONDAY - dt.timedelta(days=7))

    assert result["week_of"] == "2026-11-16"
    assert result["generation_id"] is None
    assert result["generated_at"] is None
    assert all(result[key] == [] for key in LIST_KEYS)


def test_rows_of_a_week_without_a_recorded_generation_are_still_returned(
    conn: psycopg.Connection[Any],
) -> None:
    me = add_user(conn)
    add_insight(conn, me, MONDAY, None, "written before generations were recorded")
    add_move(conn, me, MONDAY, None, "an older move")

    result = call(conn, me, MONDAY)

    assert result["generation_id"] is None
    assert [item["title"] for item in result["insights"]] == ["written before generations were recorded"]
    assert [item["strategy"] for item in result["strategic_moves"]] == ["an older move"]


# -- the generation ------------------------------------------------------------------------------


def test_the_generation_is_the_weeks_latest_succeeded_one(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    first_done = dt.datetime(2026, 11, 23, 9, 5, tzinfo=dt.UTC)
    refresh_done = dt.datetime(2026, 11, 25, 18, 30, tzinfo=dt.UTC)
    add_generation(conn, me, MONDAY, completed_at=first_done)
    refresh = add_generation(conn, me, MONDAY, completed_at=refresh_done)
    add_generation(conn, me, MONDAY, status="failed", completed_at=refresh_done + dt.timedelta(hours=1))

    result = call(conn, me, MONDAY)

    assert result["generation_id"] == str(refresh)
    assert dt.datetime.fromisoformat(result["generated_at"]) == refresh_done


# -- refusals --------------------------------------------------------------------------------------


def test_a_week_of_that_is_not_a_monday_is_refused_with_22023(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)

    with pytest.raises(psycopg.errors.InvalidParameterValue) as caught:
        call(conn, me, dt.date(2026, 11, 25))

    assert caught.value.sqlstate == "22023"
    assert caught.value.diag.message_primary == "week_of must be a Monday; 2026-11-25 is a Wednesday"


@pytest.mark.parametrize("week_of", ["infinity", "-infinity"])
def test_a_week_of_without_end_is_refused_as_not_a_monday(
    conn: psycopg.Connection[Any], week_of: str
) -> None:
    me = add_user(conn)
    claims = json.dumps({"sub": str(me), "role": "authenticated"})

    with pytest.raises(psycopg.errors.InvalidParameterValue) as caught, conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        conn.execute("select public.get_health_analysis(%s::date)", (week_of,))

    assert caught.value.sqlstate == "22023"
    assert caught.value.diag.message_primary == f"week_of must be a Monday; {week_of} is not a day"


def test_a_week_of_that_is_not_a_date_is_refused_as_an_invalid_date(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    claims = json.dumps({"sub": str(me), "role": "authenticated"})

    with pytest.raises(psycopg.errors.InvalidDatetimeFormat) as caught, conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        conn.execute("select public.get_health_analysis('not-a-date')")

    assert caught.value.sqlstate == "22007"
    assert caught.value.diag.message_primary == 'invalid input syntax for type date: "not-a-date"'


def test_a_call_without_a_jwt_is_refused_with_pt401(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.Error) as caught:
        call(conn, None)

    assert caught.value.sqlstate == "PT401"
    assert caught.value.diag.message_primary == "sign in to read your analysis"


def test_anon_may_not_execute_it(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
        call(conn, None, role="anon")


def test_service_role_may_not_execute_it(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
        call(conn, None, role="service_role")


# -- order -----------------------------------------------------------------------------------------


def test_insights_are_ordered_by_confidence_highest_first_then_oldest_first(
    conn: psycopg.Connection[Any],
) -> None:
    me = add_user(conn)
    gen = add_generation(conn, me, MONDAY)
    at = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    add_insight(conn, me, MONDAY, gen, "unrated", confidence=None, created_at=at)
    add_insight(conn, me, MONDAY, gen, "70 newer", confidence=70, created_at=at + dt.timedelta(minutes=2))
    add_insight(conn, me, MONDAY, gen, "40", confidence=40, created_at=at)
    add_insight(conn, me, MONDAY, gen, "70 older", confidence=70, created_at=at + dt.timedelta(minutes=1))
    add_insight(conn, me, MONDAY, gen, "95", confidence=95, created_at=at + dt.timedelta(minutes=3))

    result = call(conn, me, MONDAY)

    assert titles(result)["insights"] == ["95", "70 older", "70 newer", "40", "unrated"]


def test_predictions_are_ordered_by_probability_highest_first(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    gen = add_generation(conn, me, MONDAY)
    for probability in (30, None, 85, 0, 60):
        add_prediction(conn, me, MONDAY, gen, f"p{probability}", probability=probability)

    result = call(conn, me, MONDAY)

    assert titles(result)["predictions"] == ["p85", "p60", "p30", "p0", "pNone"]


def test_shadow_patterns_are_ordered_by_significance_then_longest_missing_first(
    conn: psycopg.Connection[Any],
) -> None:
    me = add_user(conn)
    gen = add_generation(conn, me, MONDAY)
    for significance, days in (
        ("low", 30),
        ("high", 3),
        (None, 90),
        ("medium", 10),
        ("high", 21),
        ("medium", 2),
    ):
        add_pattern(
            conn, me, MONDAY, gen, f"{significance} {days}", significance=significance, days_missing=days
        )

    result = call(conn, me, MONDAY)

    assert titles(result)["shadow_patterns"] == [
        "high 21",
        "high 3",
        "medium 10",
        "medium 2",
        "low 30",
        "None 90",
    ]


def test_strategic_moves_are_ordered_with_priority_10_first(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    gen = add_generation(conn, me, MONDAY)
    for priority in (5, 10, 1, 7):
        add_move(conn, me, MONDAY, gen, f"priority {priority}", priority=priority)

    result = call(conn, me, MONDAY)

    assert titles(result)["strategic_moves"] == ["priority 10", "priority 7", "priority 5", "priority 1"]


# -- what each row holds -------------------------------------------------------------------------


def test_each_row_holds_its_tables_columns_except_user_id(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    add_full_week(conn, me, MONDAY, "week")

    result = call(conn, me, MONDAY)

    for key, table in REPORT_TABLES.items():
        columns = {
            str(name)
            for (name,) in conn.execute(
                "select attname from pg_attribute"
                " where attrelid = ('public.' || %s)::regclass and attnum > 0 and not attisdropped",
                (table,),
            )
        }
        assert "user_id" in columns
        assert [set(item) for item in result[key]] == [columns - {"user_id"}]


def test_insights_include_their_evidence(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    gen = add_generation(conn, me, MONDAY)
    evidence: list[dict[str, Any]] = [
        {"kind": "symptom", "name": "headache", "weekly_counts": [1, 3, 4]},
        {"kind": "quick_scan", "body_part": "head", "count": 2},
    ]
    add_insight(conn, me, MONDAY, gen, "headaches are more frequent", evidence=evidence)

    result = call(conn, me, MONDAY)

    assert [item["evidence"] for item in result["insights"]] == [evidence]


def test_dates_are_iso_whatever_the_sessions_datestyle(conn: psycopg.Connection[Any]) -> None:
    me = add_user(conn)
    add_full_week(conn, me, MONDAY, "week")
    conn.execute("set datestyle = 'SQL, DMY'")

    result = call(conn, me, MONDAY)

    assert result["week_of"] == "2026-11-23"
    assert all(item["week_of"] == "2026-11-23" for key in LIST_KEYS for item in result[key])
    assert dt.datetime.fromisoformat(result["generated_at"]).tzinfo is not None


def test_it_is_a_security_invoker_function_with_an_empty_search_path(
    conn: psycopg.Connection[Any],
) -> None:
    # Invoker on purpose: the tables' row-level security is what limits what it reads.
    # Volatile, because a time_zone argument is saved on the profile.
    row = conn.execute(
        "select prosecdef, provolatile, proconfig from pg_proc"
        " where oid = 'public.get_health_analysis(date, text)'::regprocedure"
    ).fetchone()

    assert row == (False, "v", ['search_path=""'])
