"""Test harness: one private PostgreSQL cluster per session, one database per test.

The session builds a template database (local Supabase bootstrap plus every
migration, applied by the real migration runner); each test gets its own database
cloned from it with ``create database ... template ...``, and dropped afterwards.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from db_support import create_database, drop_database
from psycopg import sql

from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate_connection

TEMPLATE = "proxima_template"


def _interrupt(signum: int, frame: Any) -> None:
    # SIGTERM ends the run like Ctrl-C does, so fixtures tear the cluster down.
    raise KeyboardInterrupt(f"signal {signum}")


signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    local = LocalCluster.ephemeral()
    try:
        local.start()
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def template_db(cluster: LocalCluster) -> str:
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(TEMPLATE)))
    with psycopg.connect(cluster.url(TEMPLATE), autocommit=True) as conn:
        migrate_connection(conn)
    return TEMPLATE


@pytest.fixture
def db_url(cluster: LocalCluster, template_db: str) -> Iterator[str]:
    """A fresh database holding the bootstrap and every migration."""
    name = create_database(cluster, template_db)
    try:
        yield cluster.url(name)
    finally:
        drop_database(cluster, name)


@pytest.fixture
def empty_db_url(cluster: LocalCluster) -> Iterator[str]:
    """A fresh, empty database (nothing applied)."""
    name = create_database(cluster, None)
    try:
        yield cluster.url(name)
    finally:
        drop_database(cluster, name)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A superuser connection (as the migrations run) to a fresh migrated database."""
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection
