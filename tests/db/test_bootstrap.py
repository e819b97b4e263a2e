"""The local bootstrap behaves like Supabase for everything the migrations rely on.

``supabase/local/bootstrap.sql`` stands in for a Supabase project on a plain
PostgreSQL server: the API roles, ``auth.uid()``/``auth.role()``/``auth.jwt()`` reading
the claims PostgREST sets per request, the storage path helpers, the private
``health-exports`` bucket (made by a migration) and Supabase's default grants.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

API_ROLES = ("anon", "authenticated", "service_role")


def _set_claims(conn: psycopg.Connection[Any], claims: dict[str, str]) -> None:
    conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))


def test_auth_uid_reads_the_sub_of_request_jwt_claims(conn: psycopg.Connection[Any]) -> None:
    user_id = uuid.uuid4()
    with conn.transaction():
        _set_claims(conn, {"sub": str(user_id), "role": "authenticated"})
        row = conn.execute("select auth.uid()").fetchone()
    assert row == (user_id,)


def test_auth_uid_falls_back_to_the_legacy_request_jwt_claim_sub(conn: psycopg.Connection[Any]) -> None:
    user_id = uuid.uuid4()
    with conn.transaction():
        conn.execute("select set_config('request.jwt.claim.sub', %s, true)", (str(user_id),))
        row = conn.execute("select auth.uid()").fetchone()
    assert row == (user_id,)


def test_auth_uid_is_null_when_no_claims_are_set(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute("select auth.uid()").fetchone()
    assert row == (None,)


def test_auth_uid_is_null_again_after_a_requests_local_claims_end(conn: psycopg.Connection[Any]) -> None:
    # A pooled connection keeps the setting's name after a transaction-local
    # set_config ends, with an empty value: that must not read as a user.
    with conn.transaction():
        _set_claims(conn, {"sub": str(uuid.uuid4()), "role": "authenticated"})
    row = conn.execute("select auth.uid()").fetchone()
    assert row == (None,)


def test_auth_role_reads_the_role_of_request_jwt_claims(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        _set_claims(conn, {"sub": str(uuid.uuid4()), "role": "authenticated"})
        row = conn.execute("select auth.role()").fetchone()
    assert row == ("authenticated",)


def test_auth_jwt_returns_all_of_request_jwt_claims_as_jsonb(conn: psycopg.Connection[Any]) -> None:
    claims = {"sub": str(uuid.uuid4()), "role": "authenticated", "email": "owner@example.com"}
    with conn.transaction():
        _set_claims(conn, claims)
        row = conn.execute("select auth.jwt()").fetchone()
    assert row == (claims,)


def test_the_authenticated_role_may_call_the_auth_helpers(conn: psycopg.Connection[Any]) -> None:
    user_id = uuid.uuid4()
    with conn.transaction():
        conn.execute("set local role authenticated")
        _set_claims(conn, {"sub": str(user_id), "role": "authenticated"})
        row = conn.execute("select auth.uid(), auth.role(), auth.jwt() ->> 'sub'").fetchone()
    assert row == (user_id, "authenticated", str(user_id))


@pytest.mark.parametrize("role", API_ROLES)
def test_the_api_role_exists(conn: psycopg.Connection[Any], role: str) -> None:
    row = conn.execute("select count(*) from pg_roles where rolname = %s", (role,)).fetchone()
    assert row == (1,)


def test_only_service_role_bypasses_row_level_security(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "select rolname, rolbypassrls from pg_roles where rolname = any(%s) order by rolname",
        (list(API_ROLES),),
    ).fetchall()
    assert rows == [("anon", False), ("authenticated", False), ("service_role", True)]


def test_storage_foldername_returns_the_folders_of_a_path(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute("select storage.foldername('a/b/c.pdf')").fetchone()
    assert row == (["a", "b"],)


def test_the_health_exports_bucket_exists_and_is_private(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute("select name, public from storage.buckets where id = 'health-exports'").fetchone()
    assert row == ("health-exports", False)


@pytest.mark.parametrize("role", API_ROLES)
def test_a_table_created_in_public_later_is_granted_to_the_api_role_by_default(
    conn: psycopg.Connection[Any], role: str
) -> None:
    conn.execute("create table public.created_after_bootstrap (id integer primary key)")
    rows = conn.execute(
        "select privilege from unnest(array['select', 'insert', 'update', 'delete']) as privilege"
        " where has_table_privilege(%s, 'public.created_after_bootstrap', privilege)",
        (role,),
    ).fetchall()
    assert [privilege for (privilege,) in rows] == ["select", "insert", "update", "delete"]
