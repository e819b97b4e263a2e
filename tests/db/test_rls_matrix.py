"""Row-level security as PostgREST applies it: who may read and write whose rows.

Every table the migrations create in ``public``, plus ``storage.objects`` in the
``health-exports`` bucket, is checked for four actors (the row's owner, another signed-in
person, ``anon`` and ``service_role``) and four operations. The spec:

* owners read their own rows in every app and report table; other people see none of them; anon is refused
  or sees nothing; service_role may do everything (it bypasses row-level security);
* a person writes their own story notes (on their own stories), changes the name and
  time zone of their own profile and the completion status of their own strategic
  moves; nothing else is written by anyone but service_role;
* in storage, a person reads only the objects in their own folder of ``health-exports``;
* the worker's job queue (``jobs``) is the service role's alone: people see none of it.

Each request runs as PostgREST runs it: in a transaction, ``set local role`` plus the
JWT claims in ``request.jwt.claims``. Its effect is then checked as the superuser.

The seeded database is built once per module; each test runs inside a transaction that
is rolled back, each request inside a savepoint of it.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg
import pytest
from db_support import create_database, drop_database
from psycopg import sql

from worker.db.devdb import LocalCluster

MONDAY = "2026-11-23"
NAMESPACE = uuid.UUID("6f1c1f55-3c0e-4d39-9a57-7d0f5f0c2a10")

EXPECTED_PUBLIC_TABLES = frozenset(
    {
        "profiles",
        "health_stories",
        "story_notes",
        "quick_scans",
        "symptom_tracking",
        "deep_dive_sessions",
        "conversations",
        "messages",
        "analysis_generations",
        "health_insights",
        "health_predictions",
        "shadow_patterns",
        "strategic_moves",
        "export_history",
        "jobs",
        "analysis_refreshes",
        "time_zone_names",
        "share_access_log",
        "daily_usage",
    }
)
# Reference data, the same for everyone (readable by all, written by migrations only):
# not owned rows, so not in the matrix; tests/db/test_time_zones.py covers its access.
REFERENCE_TABLES = frozenset({"time_zone_names"})


class Actor(enum.StrEnum):
    OWNER = "owner"
    OTHER = "other"
    ANON = "anon"
    SERVICE = "service_role"


class Op(enum.StrEnum):
    SELECT = "select"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class Person:
    """A signed-up user and the key of the one row they own in each target."""

    label: str

    @property
    def user_id(self) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, self.label)

    def key(self, target: str) -> uuid.UUID:
        if TARGET[target].key_column == "user_id":  # one row per person
            return self.user_id
        return uuid.uuid5(NAMESPACE, f"{self.label}/{target}")


OWNER = Person("owner")
OTHER = Person("other")

Row = dict[str, object]


@dataclass(frozen=True)
class Target:
    """A table under test: how to identify, make and change one row of it."""

    name: str
    relation: sql.Composable
    owner_may: frozenset[Op]
    make_row: Callable[[Person, str], Row]
    update_column: str
    update_value: str = "changed"
    key_column: str = "id"

    def row(self, person: Person, label: str, key: uuid.UUID) -> Row:
        # Keys travel as text (sent untyped, so they fit a uuid or a text key column alike).
        return {self.key_column: str(key), **self.make_row(person, label)}


READ_ONLY = frozenset({Op.SELECT})


def _public(
    name: str,
    make_row: Callable[[Person, str], Row],
    update_column: str,
    *,
    owner_may: frozenset[Op] = READ_ONLY,
    update_value: str = "changed",
    key_column: str = "id",
) -> Target:
    return Target(
        name=name,
        relation=sql.Identifier("public", name),
        owner_may=owner_may,
        make_row=make_row,
        update_column=update_column,
        update_value=update_value,
        key_column=key_column,
    )


# In dependency order: seeding inserts them top to bottom.
TARGETS: tuple[Target, ...] = (
    _public(
        "profiles",
        lambda p, label: {"name": f"profile {label}", "email": f"{p.label}@example.com", "timezone": "UTC"},
        "name",
        owner_may=frozenset({Op.SELECT, Op.UPDATE}),
        key_column="user_id",
    ),
    _public(
        "health_stories",
        lambda p, label: {"user_id": p.user_id, "title": f"story {label}", "story_text": "A week of walks."},
        "title",
    ),
    _public(
        "story_notes",
        lambda p, label: {
            "user_id": p.user_id,
            "story_id": p.key("health_stories"),
            "note_text": f"note {label}",
        },
        "note_text",
        owner_may=frozenset(Op),
    ),
    _public(
        "quick_scans",
        lambda p, label: {"user_id": str(p.user_id), "body_part": "knee", "llm_summary": f"scan {label}"},
        "llm_summary",
    ),
    _public(
        "symptom_tracking",
        lambda p, label: {
            "user_id": str(p.user_id),
            "symptom_name": f"headache {label}",
            "body_part": "head",
            "severity": 4,
        },
        "symptom_name",
    ),
    _public(
        "deep_dive_sessions",
        lambda p, label: {"user_id": str(p.user_id), "body_part": "chest", "llm_summary": f"dive {label}"},
        "llm_summary",
    ),
    _public(
        "conversations",
        lambda p, label: {"user_id": p.user_id, "title": f"chat {label}"},
        "title",
    ),
    _public(
        "messages",
        lambda p, label: {
            "conversation_id": p.key("conversations"),
            "role": "user",
            "content": f"message {label}",
        },
        "content",
    ),
    _public(
        "analysis_generations",
        lambda p, label: {"user_id": p.user_id, "week_of": MONDAY, "model": f"model {label}"},
        "model",
    ),
    _public(
        "health_insights",
        lambda p, label: {
            "user_id": p.user_id,
            "story_id": p.key("health_stories"),
            "insight_type": "positive",
            "title": f"insight {label}",
            "description": "Sleep improved.",
            "confidence": 80,
            "week_of": MONDAY,
            "generation_id": p.key("analysis_generations"),
        },
        "title",
    ),
    _public(
        "health_predictions",
        lambda p, label: {
            "user_id": p.user_id,
            "story_id": p.key("health_stories"),
            "event_description": f"prediction {label}",
            "probability": 40,
            "timeframe": "this week",
            "week_of": MONDAY,
        },
        "event_description",
    ),
    _public(
        "shadow_patterns",
        lambda p, label: {
            "user_id": p.user_id,
            "pattern_name": f"pattern {label}",
            "last_seen_description": "Evening runs.",
            "significance": "medium",
            "week_of": MONDAY,
        },
        "pattern_name",
    ),
    _public(
        "strategic_moves",
        lambda p, label: {
            "user_id": p.user_id,
            "strategy": f"strategy {label}",
            "strategy_type": "prevention",
            "priority": 5,
            "week_of": MONDAY,
        },
        "completion_status",
        update_value="in_progress",
        owner_may=frozenset({Op.SELECT, Op.UPDATE}),
    ),
    _public(
        "export_history",
        lambda p, label: {"user_id": p.user_id, "export_type": "pdf", "recipient_name": f"export {label}"},
        "recipient_name",
    ),
    # The worker's queue: "people see nothing of it", not even their own jobs. Its id is an
    # identity column, so rows are told apart by their dedupe key.
    _public(
        "jobs",
        lambda p, label: {"kind": "weekly_analysis", "user_id": p.user_id, "last_error": f"job {label}"},
        "last_error",
        owner_may=frozenset(),
        key_column="dedupe_key",
    ),
    # Refreshes used per person and week: people read their own counts, only the service
    # role (and the definer function request_analysis_refresh) writes them.
    _public(
        "analysis_refreshes",
        lambda p, label: {"user_id": p.user_id, "week_of": MONDAY, "refresh_count": 1},
        "refresh_count",
        update_value="7",
        key_column="user_id",
    ),
    # The views of a person's doctor shares: the owner reads them; only get_shared_report
    # (a definer function) and the service role write them.
    _public(
        "share_access_log",
        lambda p, label: {
            "share_id": p.key("export_history"),
            "user_id": p.user_id,
            "user_agent_hash": "a" * 64,
        },
        "user_agent_hash",
        update_value="b" * 64,
    ),
    # Shares and PDF exports used per person and day: read-only counts, like refreshes.
    _public(
        "daily_usage",
        lambda p, label: {"action": "pdf_export", "day": MONDAY, "used": 1},
        "used",
        update_value="7",
        key_column="user_id",
    ),
    Target(
        name="storage.objects",
        relation=sql.Identifier("storage", "objects"),
        make_row=lambda p, label: {
            "bucket_id": "health-exports",
            "name": f"{p.user_id}/{label}.pdf",
            "owner": p.user_id,
        },
        update_column="version",
        owner_may=READ_ONLY,
    ),
)
TARGET = {target.name: target for target in TARGETS}


def allowed(target: Target, actor: Actor, op: Op) -> bool:
    """The spec: service_role may do anything, the owner what the target lets them, others nothing."""
    if actor is Actor.SERVICE:
        return True
    if actor is Actor.OWNER:
        return op in target.owner_may
    return False


def matrix(op: Op) -> list[Any]:
    return [
        pytest.param(target, actor, id=f"{target.name}-{actor}-{op}") for target in TARGETS for actor in Actor
    ]


# -- the database ------------------------------------------------------------------------------


def insert_query(target: Target, row: Row) -> sql.Composed:
    return sql.SQL("insert into {} ({}) values ({})").format(
        target.relation,
        sql.SQL(", ").join(sql.Identifier(column) for column in row),
        sql.SQL(", ").join(sql.Placeholder(column) for column in row),
    )


def seed(conn: psycopg.Connection[Any]) -> None:
    """Two people, each owning one row of every target (as the superuser, bypassing RLS)."""
    for person in (OWNER, OTHER):
        conn.execute(
            "insert into auth.users (id, email, role, aud) values (%s, %s, 'authenticated', 'authenticated')",
            (person.user_id, f"{person.label}@example.com"),
        )
        for target in TARGETS:
            row = target.row(person, "x", person.key(target.name))
            conn.execute(insert_query(target, row), row)


@pytest.fixture(scope="module")
def seeded_db_url(cluster: LocalCluster, template_db: str) -> Iterator[str]:
    name = create_database(cluster, template_db, prefix="rls_matrix")
    try:
        with psycopg.connect(cluster.url(name), autocommit=True) as conn:
            seed(conn)
        yield cluster.url(name)
    finally:
        drop_database(cluster, name)


@pytest.fixture
def db(seeded_db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection to the seeded database, inside a transaction rolled back afterwards."""
    with (
        psycopg.connect(seeded_db_url, autocommit=True) as conn,
        conn.transaction(force_rollback=True),
    ):
        yield conn


@dataclass(frozen=True)
class Outcome:
    """What one request did: refused with permission denied / an RLS violation, or rows."""

    refused: bool
    rowcount: int = 0
    rows: tuple[tuple[Any, ...], ...] = ()
    error: str = ""


def request(
    conn: psycopg.Connection[Any],
    actor: Actor,
    query: sql.Composed | LiteralString,
    params: Row | tuple[Any, ...] = (),
) -> Outcome:
    """Run one statement as PostgREST would for ``actor``, in a savepoint."""
    if actor in (Actor.OWNER, Actor.OTHER):
        person = OWNER if actor is Actor.OWNER else OTHER
        role, claims = "authenticated", {"sub": str(person.user_id), "role": "authenticated"}
    else:
        role, claims = str(actor), {"role": str(actor)}
    try:
        with conn.transaction():
            conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
            cursor = conn.execute(query, params)
            rows = tuple(cursor.fetchall()) if cursor.description is not None else ()
            return Outcome(refused=False, rowcount=cursor.rowcount, rows=rows)
    except psycopg.errors.InsufficientPrivilege as exc:
        return Outcome(refused=True, error=str(exc))
    finally:
        conn.execute("reset role")
        conn.execute("select set_config('request.jwt.claims', '', true)")


def row_exists(conn: psycopg.Connection[Any], target: Target, key: uuid.UUID) -> bool:
    query = sql.SQL("select count(*) from {} where {} = %s").format(
        target.relation, sql.Identifier(target.key_column)
    )
    row = conn.execute(query, (str(key),)).fetchone()
    assert row is not None
    return bool(row[0] == 1)


def column_value(conn: psycopg.Connection[Any], target: Target, key: uuid.UUID, column: str) -> Any:
    query = sql.SQL("select {} from {} where {} = %s").format(
        sql.Identifier(column), target.relation, sql.Identifier(target.key_column)
    )
    row = conn.execute(query, (str(key),)).fetchone()
    assert row is not None, f"{target.name} row {key} is gone"
    return row[0]


def assert_refused_or_without_effect(outcome: Outcome) -> None:
    assert outcome.refused or outcome.rowcount == 0, outcome


# -- the tables under test -----------------------------------------------------------------------


def test_the_migrations_create_exactly_the_expected_public_tables(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f')"
    ).fetchall()
    assert {name for (name,) in rows} == EXPECTED_PUBLIC_TABLES


def test_every_expected_public_table_has_a_row_in_the_matrix() -> None:
    assert {target.name for target in TARGETS} == (EXPECTED_PUBLIC_TABLES - REFERENCE_TABLES) | {
        "storage.objects"
    }


def test_row_level_security_is_enabled_on_every_public_table(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity"
    ).fetchall()
    assert rows == []


# The app's own tables: their sequences keep whatever grants the app gave them.
APP_TABLES = frozenset(
    {
        "profiles",
        "health_stories",
        "story_notes",
        "quick_scans",
        "symptom_tracking",
        "deep_dive_sessions",
        "conversations",
        "messages",
    }
)


def test_no_api_role_may_use_the_sequences_of_our_tables(db: psycopg.Connection[Any]) -> None:
    """Supabase's default privileges grant every new sequence to anon and authenticated;
    drawing ids from ours (jobs_id_seq) or reading how many jobs there were is nobody's business."""
    rows = db.execute(
        "select s.relname, t.relname,"
        "       has_sequence_privilege('anon', s.oid, 'usage, select, update'),"
        "       has_sequence_privilege('authenticated', s.oid, 'usage, select, update')"
        "  from pg_class s"
        "  join pg_namespace n on n.oid = s.relnamespace"
        "  join pg_depend d on d.classid = 'pg_class'::regclass and d.objid = s.oid"
        "   and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')"
        "  join pg_class t on t.oid = d.refobjid"
        " where s.relkind = 'S' and n.nspname in ('public', 'proxima_private')"
    ).fetchall()
    ours = {sequence: granted for sequence, table, *granted in rows if table not in APP_TABLES}
    assert "jobs_id_seq" in ours
    assert {sequence for sequence, granted in ours.items() if any(granted)} == set()


# -- the matrix ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("target", "actor"), matrix(Op.SELECT))
def test_select_shows_each_actor_exactly_the_rows_the_spec_allows(
    db: psycopg.Connection[Any], target: Target, actor: Actor
) -> None:
    query = sql.SQL("select {} from {}").format(sql.Identifier(target.key_column), target.relation)
    outcome = request(db, actor, query)
    visible = {str(key) for (key,) in outcome.rows}
    own_rows_readable = Op.SELECT in target.owner_may
    expected = {
        Actor.OWNER: {str(OWNER.key(target.name))} if own_rows_readable else set(),
        Actor.OTHER: {str(OTHER.key(target.name))} if own_rows_readable else set(),
        Actor.ANON: set(),
        Actor.SERVICE: {str(OWNER.key(target.name)), str(OTHER.key(target.name))},
    }[actor]
    if expected:
        assert not outcome.refused, outcome.error
        assert visible == expected
    else:
        assert outcome.refused or visible == set(), outcome
    assert (str(OWNER.key(target.name)) in visible) is allowed(target, actor, Op.SELECT)


@pytest.mark.parametrize(("target", "actor"), matrix(Op.INSERT))
def test_insert_of_a_row_for_the_owner_succeeds_only_where_the_spec_allows(
    db: psycopg.Connection[Any], target: Target, actor: Actor
) -> None:
    if target.key_column == "user_id":
        # One row per person (profiles; analysis_refreshes for a week): make room for the new one.
        db.execute(sql.SQL("delete from {} where user_id = %s").format(target.relation), (OWNER.user_id,))
    key = OWNER.user_id if target.key_column == "user_id" else uuid.uuid4()
    row = target.row(OWNER, "new", key)
    outcome = request(db, actor, insert_query(target, row), row)
    if allowed(target, actor, Op.INSERT):
        assert not outcome.refused, outcome.error
        assert outcome.rowcount == 1
        assert row_exists(db, target, key)
    else:
        assert_refused_or_without_effect(outcome)
        assert not row_exists(db, target, key)


@pytest.mark.parametrize(("target", "actor"), matrix(Op.UPDATE))
def test_update_of_the_owners_row_takes_effect_only_where_the_spec_allows(
    db: psycopg.Connection[Any], target: Target, actor: Actor
) -> None:
    key = OWNER.key(target.name)
    before = str(column_value(db, target, key, target.update_column))
    assert before != target.update_value
    query = sql.SQL("update {} set {} = %s where {} = %s").format(
        target.relation, sql.Identifier(target.update_column), sql.Identifier(target.key_column)
    )
    outcome = request(db, actor, query, (target.update_value, str(key)))
    after = str(column_value(db, target, key, target.update_column))
    if allowed(target, actor, Op.UPDATE):
        assert not outcome.refused, outcome.error
        assert outcome.rowcount == 1
        assert after == target.update_value
    else:
        assert_refused_or_without_effect(outcome)
        assert after == before


@pytest.mark.parametrize(("target", "actor"), matrix(Op.DELETE))
def test_delete_of_the_owners_row_takes_effect_only_where_the_spec_allows(
    db: psycopg.Connection[Any], target: Target, actor: Actor
) -> None:
    key = OWNER.key(target.name)
    query = sql.SQL("delete from {} where {} = %s").format(target.relation, sql.Identifier(target.key_column))
    outcome = request(db, actor, query, (str(key),))
    if allowed(target, actor, Op.DELETE):
        assert not outcome.refused, outcome.error
        assert outcome.rowcount == 1
        assert not row_exists(db, target, key)
    else:
        assert_refused_or_without_effect(outcome)
        assert row_exists(db, target, key)


# -- strategic moves: only the completion status, only one's own --------------------------------

MOVES = TARGET["strategic_moves"]


def test_marking_ones_strategic_move_completed_stamps_completed_at(db: psycopg.Connection[Any]) -> None:
    key = OWNER.key(MOVES.name)
    assert column_value(db, MOVES, key, "completed_at") is None
    outcome = request(
        db,
        Actor.OWNER,
        "update public.strategic_moves set completion_status = 'completed' where id = %s",
        (key,),
    )
    assert outcome.rowcount == 1
    assert column_value(db, MOVES, key, "completed_at") is not None


def test_moving_a_completed_strategic_move_back_clears_completed_at(db: psycopg.Connection[Any]) -> None:
    key = OWNER.key(MOVES.name)
    set_status = "update public.strategic_moves set completion_status = %s where id = %s"
    request(db, Actor.OWNER, set_status, ("completed", key))
    outcome = request(db, Actor.OWNER, set_status, ("in_progress", key))
    assert outcome.rowcount == 1
    assert column_value(db, MOVES, key, "completed_at") is None


@pytest.mark.parametrize(
    ("column", "value"),
    [("strategy", "Run a marathon"), ("priority", 10), ("completed_at", None), ("user_id", OTHER.user_id)],
    ids=["strategy", "priority", "completed_at", "user_id"],
)
def test_a_person_may_not_change_any_other_column_of_their_strategic_move(
    db: psycopg.Connection[Any], column: str, value: object
) -> None:
    key = OWNER.key(MOVES.name)
    before = column_value(db, MOVES, key, column)
    query = sql.SQL("update public.strategic_moves set {} = %s where id = %s").format(sql.Identifier(column))
    outcome = request(db, Actor.OWNER, query, (value, key))
    assert outcome.refused
    assert "permission denied" in outcome.error
    assert column_value(db, MOVES, key, column) == before


def test_updating_someone_elses_strategic_move_affects_no_row(db: psycopg.Connection[Any]) -> None:
    key = OWNER.key(MOVES.name)
    outcome = request(
        db,
        Actor.OTHER,
        "update public.strategic_moves set completion_status = 'skipped' where id = %s",
        (key,),
    )
    assert not outcome.refused, outcome.error
    assert outcome.rowcount == 0
    assert column_value(db, MOVES, key, "completion_status") == "pending"


# -- story notes: one's own, on one's own stories -----------------------------------------------

NOTES = TARGET["story_notes"]
ADD_NOTE = "insert into public.story_notes (id, user_id, story_id, note_text) values (%s, %s, %s, 'hi')"


def test_a_person_may_not_add_a_note_to_someone_elses_story(db: psycopg.Connection[Any]) -> None:
    key = uuid.uuid4()
    outcome = request(db, Actor.OTHER, ADD_NOTE, (key, OTHER.user_id, OWNER.key("health_stories")))
    assert outcome.refused
    assert not row_exists(db, NOTES, key)


def test_a_person_may_not_add_a_note_in_someone_elses_name(db: psycopg.Connection[Any]) -> None:
    key = uuid.uuid4()
    outcome = request(db, Actor.OTHER, ADD_NOTE, (key, OWNER.user_id, OTHER.key("health_stories")))
    assert outcome.refused
    assert not row_exists(db, NOTES, key)


def test_a_person_may_not_move_their_note_onto_someone_elses_story(db: psycopg.Connection[Any]) -> None:
    key = OWNER.key(NOTES.name)
    outcome = request(
        db,
        Actor.OWNER,
        "update public.story_notes set story_id = %s where id = %s",
        (OTHER.key("health_stories"), key),
    )
    assert_refused_or_without_effect(outcome)
    assert column_value(db, NOTES, key, "story_id") == OWNER.key("health_stories")


def test_a_person_may_not_hand_their_note_to_someone_else(db: psycopg.Connection[Any]) -> None:
    key = OWNER.key(NOTES.name)
    outcome = request(
        db, Actor.OWNER, "update public.story_notes set user_id = %s where id = %s", (OTHER.user_id, key)
    )
    assert_refused_or_without_effect(outcome)
    assert column_value(db, NOTES, key, "user_id") == OWNER.user_id


# -- profiles: one's own name and time zone ------------------------------------------------------

PROFILES = TARGET["profiles"]


def test_a_person_may_change_the_time_zone_of_their_profile(db: psycopg.Connection[Any]) -> None:
    outcome = request(
        db,
        Actor.OWNER,
        "update public.profiles set timezone = 'Europe/Berlin' where user_id = %s",
        (OWNER.user_id,),
    )
    assert outcome.rowcount == 1
    assert column_value(db, PROFILES, OWNER.user_id, "timezone") == "Europe/Berlin"


def test_a_person_may_not_change_the_email_of_their_profile(db: psycopg.Connection[Any]) -> None:
    outcome = request(
        db,
        Actor.OWNER,
        "update public.profiles set email = 'mallory@example.com' where user_id = %s",
        (OWNER.user_id,),
    )
    assert outcome.refused
    assert "permission denied" in outcome.error
    assert column_value(db, PROFILES, OWNER.user_id, "email") == "owner@example.com"


def test_changing_someone_elses_profile_affects_no_row(db: psycopg.Connection[Any]) -> None:
    outcome = request(
        db, Actor.OTHER, "update public.profiles set name = 'Mallory' where user_id = %s", (OWNER.user_id,)
    )
    assert not outcome.refused, outcome.error
    assert outcome.rowcount == 0
    assert column_value(db, PROFILES, OWNER.user_id, "name") == "profile x"


# -- storage: one's own folder of health-exports only -------------------------------------------


def test_a_person_does_not_see_their_folder_in_another_bucket(db: psycopg.Connection[Any]) -> None:
    db.execute("insert into storage.buckets (id, name, public) values ('avatars', 'avatars', false)")
    db.execute(
        "insert into storage.objects (bucket_id, name, owner) values ('avatars', %s, %s)",
        (f"{OWNER.user_id}/x.pdf", OWNER.user_id),
    )
    outcome = request(db, Actor.OWNER, "select bucket_id, name from storage.objects")
    assert outcome.rows == (("health-exports", f"{OWNER.user_id}/x.pdf"),)


def test_a_person_may_not_upload_into_their_own_export_folder(db: psycopg.Connection[Any]) -> None:
    name = f"{OWNER.user_id}/upload.pdf"
    outcome = request(
        db,
        Actor.OWNER,
        "insert into storage.objects (bucket_id, name, owner) values ('health-exports', %s, %s)",
        (name, OWNER.user_id),
    )
    assert outcome.refused
    row = db.execute("select count(*) from storage.objects where name = %s", (name,)).fetchone()
    assert row == (0,)


# -- export shares: never listed through the table ----------------------------------------------


def _insert_live_doctor_share(db: psycopg.Connection[Any]) -> None:
    outcome = request(
        db,
        Actor.SERVICE,
        "insert into public.export_history (user_id, export_type, expires_at)"
        " values (%s, 'doctor_share', now() + interval '7 days')",
        (OWNER.user_id,),
    )
    assert outcome.rowcount == 1


@pytest.mark.parametrize("actor", [Actor.ANON, Actor.OTHER], ids=str)
def test_no_share_rows_are_listed_to_anyone_but_their_owner(
    db: psycopg.Connection[Any], actor: Actor
) -> None:
    _insert_live_doctor_share(db)
    outcome = request(
        db, actor, "select user_id from public.export_history where export_type = 'doctor_share'"
    )
    assert outcome.refused or outcome.rows == ()


def test_the_owner_sees_their_own_live_doctor_share(db: psycopg.Connection[Any]) -> None:
    _insert_live_doctor_share(db)
    outcome = request(
        db, Actor.OWNER, "select user_id from public.export_history where export_type = 'doctor_share'"
    )
    assert outcome.rows == ((OWNER.user_id,),)


def test_a_share_row_cannot_hold_its_token_or_link_in_clear(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.CheckViolation), db.transaction():
        db.execute(
            "insert into public.export_history (user_id, export_type, share_token, share_link, expires_at)"
            " values (%s, 'doctor_share', 'share-token-0123456789abcdef', 'https://example.com/s',"
            " now() + interval '7 days')",
            (OWNER.user_id,),
        )
