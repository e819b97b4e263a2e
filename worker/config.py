"""Settings read from the environment, validated once, passed around as objects."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict

from worker.errors import ConfigError

_URL_SCHEMES = ("postgres://", "postgresql://")


@dataclass(frozen=True)
class DatabaseTarget:
    """A validated PostgreSQL connection string and a description safe to print."""

    conninfo: str

    @property
    def description(self) -> str:
        """``host:port/dbname``: never the user's password."""
        params = conninfo_to_dict(self.conninfo)
        host = params.get("host") or params.get("hostaddr") or "localhost"
        port = params.get("port") or "5432"
        dbname = params.get("dbname") or params.get("user") or "postgres"
        return f"{host}:{port}/{dbname}"


def _redact(text: str, conninfo: str) -> str:
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except psycopg.Error:
        match = re.search(r"://[^:/@]*:([^@]*)@", conninfo)
        password = match.group(1) if match else None
    return text.replace(str(password), "***") if password else text


def parse_database_url(value: str, *, source: str = "DATABASE_URL") -> DatabaseTarget:
    """Validate a connection string without connecting.

    Accepts ``postgresql://`` URLs and libpq ``key=value`` strings; anything else is a
    :class:`ConfigError` naming the setting, with any password left out of the message.
    """
    value = value.strip()
    if not value:
        raise ConfigError(f"{source} is empty")
    looks_like_url = "://" in value
    if looks_like_url and not value.startswith(_URL_SCHEMES):
        scheme = value.split("://", 1)[0]
        raise ConfigError(f"{source} must start with postgresql:// (got a {scheme}:// address)")
    if not looks_like_url and "=" not in value:
        raise ConfigError(
            f"{source} is not a PostgreSQL URL (expected postgresql://user:password@host:port/db)"
        )
    try:
        params = conninfo_to_dict(value)
    except psycopg.Error as exc:
        reason = _redact(str(exc).strip().splitlines()[0], value)
        raise ConfigError(f"{source} is malformed: {reason}") from None
    port = params.get("port")
    if port is not None and not (str(port).isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"{source} has an invalid port: {port!r}")
    return DatabaseTarget(value)


def database_url_from_env(env: Mapping[str, str] | None = None) -> DatabaseTarget | None:
    """``DATABASE_URL`` if set, validated; ``None`` means the local harness is used."""
    env = os.environ if env is None else env
    value = env.get("DATABASE_URL")
    if value is None or not value.strip():
        return None
    return parse_database_url(value)
