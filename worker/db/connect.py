"""Opening connections with errors a person can act on."""

from __future__ import annotations

from typing import Any

import psycopg

from worker.config import DatabaseTarget, _redact
from worker.errors import DatabaseUnreachableError

CONNECT_TIMEOUT_S = 10


def _reason(exc: BaseException, conninfo: str) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    # libpq says 'connection to server at "h", port p failed: <reason>': keep the reason.
    if " failed: " in text:
        text = text.rsplit(" failed: ", 1)[1]
    return _redact(text, conninfo)


def connect(target: DatabaseTarget, **kwargs: Any) -> psycopg.Connection[Any]:
    """A connection to ``target``, or :class:`DatabaseUnreachableError` in one line."""
    try:
        return psycopg.connect(target.conninfo, connect_timeout=CONNECT_TIMEOUT_S, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachableError(
            f"cannot connect to the database at {target.description}: {_reason(exc, target.conninfo)}"
        ) from None
