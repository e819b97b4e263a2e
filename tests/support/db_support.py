"""Database helpers shared by the fixtures and tests: clone the migrated template, read rows."""

from __future__ import annotations

import itertools
import os
from typing import Any

import psycopg
from psycopg import sql

from worker.db.devdb import LocalCluster

_counter = itertools.count()


def create_database(cluster: LocalCluster, template: str | None, prefix: str = "t") -> str:
    """A new database cloned from ``template`` (``template0`` when ``None``); returns its name."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    query = sql.SQL("create database {} template {}").format(
        sql.Identifier(name), sql.Identifier(template or "template0")
    )
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(query)
    return name


def drop_database(cluster: LocalCluster, name: str) -> None:
    with psycopg.connect(cluster.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def rows(url: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Every row of ``query``, read as the superuser in its own connection."""
    with psycopg.connect(url) as conn:
        return conn.execute(query.encode(), params).fetchall()  # type: ignore[call-overload]
