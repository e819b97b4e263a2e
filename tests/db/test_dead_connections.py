"""A killed worker's statement ends within seconds, and its locks with it.

The retention migration sets, for its database, client_connection_check_interval = 2s
(the server checks a client's socket while a statement runs) and TCP keepalives (30 s
idle, then every 10 s, 3 probes). Per-database settings are not copied when a database
is cloned from a template, so each test applies the migration again to its own database
(it is re-runnable) before it connects.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from worker.db.migrate import MIGRATIONS_DIR

MIGRATION = MIGRATIONS_DIR / "20261201100300_retention_and_deletion.sql"

# Takes a row lock, says which backend holds it, then sleeps in a statement for a minute.
HOLDER = textwrap.dedent(
    """
    import sys
    import psycopg

    conn = psycopg.connect(sys.argv[1])
    conn.execute("select id from held where id = 1 for update")
    pid = conn.execute("select pg_backend_pid()").fetchone()[0]
    print(pid, flush=True)
    conn.execute("select pg_sleep(60)")
    """
)


def _apply_migration(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute(MIGRATION.read_bytes())


@pytest.fixture
def held_db(db_url: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("create table held (id integer primary key)")
        conn.execute("insert into held values (1)")
    return db_url


@pytest.fixture
def holder(held_db: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A process holding the row lock inside a long statement, and its backend's pid."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, held_db], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "the holder did not take its lock within 30 s"
        line = process.stdout.readline().strip()
        assert line.isdigit(), (
            f"the holder said {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        )
        yield process, int(line)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


def _backend_alive(conn: psycopg.Connection[Any], pid: int) -> bool:
    row = conn.execute("select exists (select 1 from pg_stat_activity where pid = %s)", (pid,)).fetchone()
    return bool(row and row[0])


def _lock_free(conn: psycopg.Connection[Any]) -> bool:
    try:
        with conn.transaction():
            conn.execute("select id from held where id = 1 for update nowait")
    except psycopg.errors.LockNotAvailable:
        return False
    return True


def _gone_within(conn: psycopg.Connection[Any], pid: int, seconds: float) -> float | None:
    """Seconds until the backend is gone and the lock free, or None if not within ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if not _backend_alive(conn, pid) and _lock_free(conn):
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def test_the_migration_sets_the_checks_for_new_sessions_of_its_database(db_url: str) -> None:
    _apply_migration(db_url)
    with psycopg.connect(db_url) as conn:
        found: dict[str, str] = dict(
            conn.execute(
                "select name, setting from pg_settings where name in ('client_connection_check_interval',"
                " 'tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count')"
            ).fetchall()
        )
    assert found == {
        "client_connection_check_interval": "2000",
        "tcp_keepalives_idle": "30",
        "tcp_keepalives_interval": "10",
        "tcp_keepalives_count": "3",
    }


def test_a_killed_clients_statement_ends_and_its_lock_is_freed_within_seconds(
    held_db: str, request: pytest.FixtureRequest
) -> None:
    _apply_migration(held_db)
    process, pid = request.getfixturevalue("holder")
    with psycopg.connect(held_db, autocommit=True) as conn:
        assert _backend_alive(conn, pid)
        assert not _lock_free(conn), "the holder holds the row"

        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

        took = _gone_within(conn, pid, 10)
        assert took is not None, "the backend outlived its client by more than 10 s"


def test_without_the_setting_the_statement_outlives_its_client(
    held_db: str, request: pytest.FixtureRequest
) -> None:
    """The control: on a database without the migration's settings, the backend keeps
    sleeping (and locking) after its client is gone."""
    with psycopg.connect(held_db) as conn:
        assert conn.execute("show client_connection_check_interval").fetchone() == ("0",)
    process, pid = request.getfixturevalue("holder")
    with psycopg.connect(held_db, autocommit=True) as conn:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        try:
            assert _gone_within(conn, pid, 4) is None
        finally:
            conn.execute("select pg_terminate_backend(%s)", (pid,))


def test_where_the_role_may_not_alter_the_database_the_migration_says_so_and_goes_on(
    db_url: str,
) -> None:
    text = MIGRATION.read_text()
    match = re.search(r"-- -- dead connections -+\n.*?(do \$\$.*?\$\$;)", text, re.S)
    assert match is not None
    notices: list[str] = []
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        with conn.transaction():
            conn.execute("set local role authenticated")
            conn.execute(match.group(1).encode())
        settings = conn.execute(
            "select count(*) from pg_db_role_setting where setdatabase = (select oid from pg_database"
            " where datname = current_database())"
        ).fetchone()
    assert any("could not set the dead-connection checks" in n for n in notices), notices
    assert settings == (0,)
