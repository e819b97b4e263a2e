"""One formatter for every stored or logged error: what failed, never with what data.

Stored errors (``jobs.last_error``, ``analysis_generations.error``, ``export_history.error``)
can reach the person and land in logs, so they keep the kind of failure, the field and the
SQLSTATE, and lose PostgreSQL's DETAIL and CONTEXT lines, row values, quoted input,
addresses, URLs and tokens.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pydantic
import pytest

from worker.errors import PermanentError, RetryableError, describe_error, scrub

HEALTH_TEXT = "my chest pain came back at night"


def test_a_check_violation_keeps_sqlstate_table_and_constraint_but_no_row_values(
    conn: psycopg.Connection[Any],
) -> None:
    conn.execute("insert into auth.users (id) values ('00000000-0000-4000-8000-000000000001')")
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(
            "insert into public.strategic_moves (user_id, strategy, priority, week_of)"
            " values ('00000000-0000-4000-8000-000000000001', %s, 99, '2026-11-30')",
            (HEALTH_TEXT,),
        )
    assert caught.value.diag.message_detail and HEALTH_TEXT in caught.value.diag.message_detail
    text = describe_error(caught.value)
    assert text.startswith("CheckViolation (SQLSTATE 23514):")
    assert "table strategic_moves" in text and "constraint strategic_moves_priority_check" in text
    assert "chest" not in text and "DETAIL" not in text and "Failing row" not in text


def test_a_nul_character_refused_by_the_database_is_described_without_the_text(
    conn: psycopg.Connection[Any],
) -> None:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("select %s::text", (f"{HEALTH_TEXT}\x00 and more",))
    text = describe_error(caught.value)
    assert "chest" not in text
    assert "SQLSTATE" in text or "DataError" in text


def test_an_error_with_a_context_line_loses_it(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "create function raise_it(t text) returns void language plpgsql as"
        " $$ begin raise exception 'bad value %', t; end $$"
    )
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("select raise_it(%s)", (HEALTH_TEXT,))
    assert caught.value.diag.context
    text = describe_error(caught.value)
    assert "PL/pgSQL" not in text and "raise_it" not in text


def test_a_validation_error_names_fields_and_kinds_never_the_input() -> None:
    class Move(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(strict=True)
        priority: int
        strategy: str

    with pytest.raises(pydantic.ValidationError) as caught:
        Move.model_validate({"priority": HEALTH_TEXT, "strategy": 5})
    text = describe_error(caught.value)
    assert text == "ValidationError: 2 invalid field(s): priority: int_type; strategy: string_type"


@pytest.mark.parametrize(
    ("raw", "hidden"),
    [
        ("could not reach db.internal.example:5432 from 10.0.4.17:5432", "10.0.4.17"),
        ("connection to postgresql://user:secret@host/db failed", "secret"),
        ("mail to jane.doe@example.com bounced", "jane.doe@example.com"),
        ("token sk-abcdefghijklmnopqrstuvwxyz0123456789 refused", "sk-abcdefghijklmnopqrstuvwxyz0123456789"),
        (f"value '{HEALTH_TEXT}' is invalid", "chest"),
        (f'value "{HEALTH_TEXT}" is invalid', "chest"),
        (f"first line\nDETAIL: {HEALTH_TEXT}", "chest"),
        ("bidi \u202e override and \x07 bell", "\u202e"),
    ],
)
def test_scrub_removes_data_addresses_and_secrets(raw: str, hidden: str) -> None:
    assert hidden not in scrub(raw)


def test_a_row_id_stays_readable() -> None:
    story = "3f1b0a56-0d5e-4c1e-9a3b-6a1a8a0b2c3d"
    assert story in describe_error(PermanentError(f"story {story} no longer exists"))


def test_our_own_errors_keep_their_message_and_unknown_ones_their_type() -> None:
    assert (
        describe_error(RetryableError("DeepSeek: the server answered 503"))
        == "DeepSeek: the server answered 503"
    )
    assert describe_error(ValueError(f"bad '{HEALTH_TEXT}'")) == "ValueError: bad ..."


def test_an_http_error_keeps_only_its_status() -> None:
    request = httpx.Request("POST", "https://api.example.com/chat/completions?key=secret")
    response = httpx.Response(503, request=request, text=HEALTH_TEXT)
    error = httpx.HTTPStatusError(
        "Server error '503' for url ...?key=secret", request=request, response=response
    )
    assert describe_error(error) == "HTTPStatusError: HTTP 503"


def test_every_description_is_one_bounded_line() -> None:
    text = describe_error(RuntimeError("word " * 5000 + "\nsecond line"))
    assert "\n" not in text and len(text) <= 320
