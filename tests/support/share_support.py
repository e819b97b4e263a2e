"""Doctor shares in tests: people, stories and analysis rows, and the share RPCs called as
PostgREST calls them (``set local role`` plus ``request.jwt.claims``), or as the share page
calls ``get_shared_report`` (as ``proxima_share_reader``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

UNSET: Any = object()
SHARE_READER = "proxima_share_reader"


def add_person(
    conn: psycopg.Connection[Any],
    *,
    name: str | None = "Maya Lind",
    timezone: str = "UTC",
    email: str | None = None,
) -> uuid.UUID:
    user_id = uuid.uuid4()
    conn.execute(
        "insert into auth.users (id, email, role, aud) values (%s, %s, 'authenticated', 'authenticated')",
        (user_id, email or f"{user_id.hex[:12]}@people.example.com"),
    )
    conn.execute(
        "insert into public.profiles (user_id, name, email, timezone) values (%s, %s, %s, %s)",
        (user_id, name, email, timezone),
    )
    return user_id


def add_story(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID,
    *,
    title: str = "A week of walks",
    text: str = "Walked every evening; the knee was quiet.",
    generated: dt.datetime | None = None,
) -> uuid.UUID:
    row = conn.execute(
        "insert into public.health_stories (user_id, title, subtitle, story_text, generated_date)"
        " values (%s, %s, 'Weekly story', %s, %s) returning id",
        (user_id, title, text, generated or dt.datetime.now(dt.UTC)),
    ).fetchone()
    assert row is not None
    story_id: uuid.UUID = row[0]
    return story_id


def add_note(conn: psycopg.Connection[Any], user_id: uuid.UUID, story_id: uuid.UUID, text: str) -> None:
    conn.execute(
        "insert into public.story_notes (user_id, story_id, note_text) values (%s, %s, %s)",
        (user_id, story_id, text),
    )


def add_week_analysis(
    conn: psycopg.Connection[Any], user_id: uuid.UUID, story_id: uuid.UUID, week_of: dt.date, text: str
) -> None:
    """One insight, prediction, shadow pattern and strategic move for the week, each carrying ``text``."""
    conn.execute(
        "insert into public.health_insights (user_id, story_id, insight_type, title, description, confidence,"
        " week_of) values (%s, %s, 'warning', %s, %s, 70, %s)",
        (user_id, story_id, f"Insight {text}", f"Insight detail {text}", week_of),
    )
    conn.execute(
        "insert into public.health_predictions (user_id, story_id, event_description, probability, timeframe,"
        " preventable, reasoning, week_of) values (%s, %s, %s, 40, 'this week', true, %s, %s)",
        (user_id, story_id, f"Prediction {text}", f"Reasoning {text}", week_of),
    )
    conn.execute(
        "insert into public.shadow_patterns (user_id, pattern_name, last_seen_description, significance,"
        " last_mentioned_date, days_missing, week_of) values (%s, %s, %s, 'high', %s, 9, %s)",
        (user_id, f"Pattern {text}", f"Last seen {text}", week_of - dt.timedelta(days=9), week_of),
    )
    conn.execute(
        "insert into public.strategic_moves (user_id, strategy, strategy_type, priority, rationale, week_of)"
        " values (%s, %s, 'prevention', 8, %s, %s)",
        (user_id, f"Move {text}", f"Rationale {text}", week_of),
    )


def monday_of(moment: dt.datetime) -> dt.date:
    day = moment.date()
    return day - dt.timedelta(days=day.weekday())


# -- calling the RPCs -------------------------------------------------------------------------------


def call_as(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID | None,
    function: str,
    arguments: dict[str, tuple[Any, str]],
    *,
    role: str = "authenticated",
) -> Any:
    """``select public.<function>(name => value::type, ...)`` as PostgREST runs it for ``user_id``."""
    params = {name: value for name, (value, _) in arguments.items()}
    named = [
        sql.SQL("{} => {}::{}").format(sql.Identifier(name), sql.Placeholder(name), sql.SQL(cast))  # type: ignore[arg-type]
        for name, (_, cast) in arguments.items()
    ]
    query = sql.SQL("select {}({})").format(sql.Identifier("public", function), sql.SQL(", ").join(named))
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        if user_id is not None:
            claims = {"sub": str(user_id), "role": role}
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def create_share(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID | None,
    story_ids: list[uuid.UUID | None] | None,
    *,
    recipient_email: str | None = UNSET,
    expires_in_days: int | None = UNSET,
) -> dict[str, Any]:
    arguments: dict[str, tuple[Any, str]] = {"story_ids": (story_ids, "uuid[]")}
    if recipient_email is not UNSET:
        arguments["recipient_email"] = (recipient_email, "text")
    if expires_in_days is not UNSET:
        arguments["expires_in_days"] = (expires_in_days, "integer")
    result: dict[str, Any] = call_as(conn, user_id, "create_doctor_share", arguments)
    return result


def revoke_share(
    conn: psycopg.Connection[Any], user_id: uuid.UUID, share_id: uuid.UUID | None
) -> dict[str, Any]:
    result: dict[str, Any] = call_as(conn, user_id, "revoke_doctor_share", {"share_id": (share_id, "uuid")})
    return result


def open_share(
    conn: psycopg.Connection[Any],
    token: str | None,
    *,
    user_agent: str | None = None,
    role: str = SHARE_READER,
) -> dict[str, Any]:
    """``get_shared_report`` as the share page calls it (no JWT, its own role)."""
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        row = conn.execute("select public.get_shared_report(%s, %s)", (token, user_agent)).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    return result


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def sqlstate_of(action: Callable[[], object]) -> str | None:
    """The SQLSTATE ``action`` fails with (None if it succeeds)."""
    try:
        action()
    except psycopg.Error as exc:
        return exc.sqlstate
    return None


def error_of(action: Callable[[], object]) -> psycopg.Error:
    try:
        action()
    except psycopg.Error as exc:
        return exc
    raise AssertionError("expected a database error")


def count(conn: psycopg.Connection[Any], query: str, params: Any = None) -> int:
    row = conn.execute(query.encode(), params).fetchone()  # type: ignore[call-overload]
    assert row is not None
    return int(row[0])


def everything_stored(conn: psycopg.Connection[Any]) -> str:
    """Every row of every table in every schema but the system ones, as one text."""
    tables = conn.execute(
        "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema')"
        " and n.nspname not like 'pg_toast%'"
    ).fetchall()
    parts = []
    for schema, table in tables:
        query = sql.SQL("select coalesce(string_agg(t::text, E'\\n'), '') from {} t").format(
            sql.Identifier(schema, table)
        )
        row = conn.execute(query).fetchone()
        parts.append(str(row[0]) if row else "")
    return "\n".join(parts)
