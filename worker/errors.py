"""The errors the command line turns into one clear line each, and the one formatter of
every error that is stored or logged."""

from __future__ import annotations

import re


class ProximaError(Exception):
    """Base of every error that is reported to a person as one line."""


class ConfigError(ProximaError):
    """A setting (environment variable or flag) is missing or malformed."""


class DatabaseUnreachableError(ProximaError):
    """The database named by the settings cannot be reached."""


class MigrationError(ProximaError):
    """A migration failed; it was rolled back and the ledger is unchanged."""


class DevDbError(ProximaError):
    """The local PostgreSQL harness could not do what was asked."""


class JobError(Exception):
    """Base of the errors that decide what happens to a job: retry it, or fail it."""


class RetryableError(JobError):
    """Worth another attempt later; ``retry_after`` (seconds) is a lower bound for the delay."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(JobError):
    """No attempt will succeed (bad input, bad credentials): fail the job at once."""


# -- one formatter for every error that is stored or logged ------------------------------------

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)
_ADDRESS = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\[[0-9a-f:]+\](?::\d+)?", re.I)
_SECRET = re.compile(r"\b(?:[A-Za-z0-9_\-]{32,}|eyJ[A-Za-z0-9_\-.]+)\b")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MESSAGE_LIMIT = 300


def _token(match: re.Match[str]) -> str:
    # A row's id names no one and helps an operator; anything else that long may be a secret.
    return match.group(0) if _UUID.fullmatch(match.group(0)) else "<token>"


def scrub(text: str, limit: int = _MESSAGE_LIMIT, *, quotes: bool = True) -> str:
    """One line of ``text`` without quoted values (unless ``quotes`` is false: our own
    messages quote only our own names), e-mail and network addresses, URLs or long
    tokens: what is left says what went wrong, never with what data."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    line = _CONTROL.sub(" ", first)
    for pattern, mark in ((_URL, "<url>"), (_EMAIL, "<email>"), (_ADDRESS, "<address>")):
        line = pattern.sub(mark, line)
    line = _SECRET.sub(_token, line)
    if quotes:
        line = _QUOTED.sub("...", line)
    line = " ".join(line.split()) or "(no message)"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def describe_error(exc: BaseException, limit: int = 2000) -> str:
    """The error as it is stored (``jobs.last_error``, ``analysis_generations.error``,
    ``export_history.error``) and logged: the kind of failure, the field or the SQLSTATE,
    never the data that caused it.

    A database error keeps its SQLSTATE, its primary message with values removed, and the
    table, column and constraint it names; never PostgreSQL's DETAIL or CONTEXT lines,
    which quote row values. A validation error keeps the fields and the kind of each
    problem, never the rejected input. Anything else keeps its type and its first line,
    scrubbed (:func:`scrub`). The full cause goes only to the debug log (``--log-level
    DEBUG``, off by default), which operators turn on for a post-mortem.
    """
    import httpx  # noqa: PLC0415 - kept out of the import of every command
    import psycopg  # noqa: PLC0415
    import pydantic  # noqa: PLC0415

    name = type(exc).__name__
    if isinstance(exc, psycopg.Error):
        diag = exc.diag
        parts = [f"{name} (SQLSTATE {exc.sqlstate or 'unknown'}): {scrub(diag.message_primary or str(exc))}"]
        for label, value in (
            ("table", diag.table_name),
            ("column", diag.column_name),
            ("constraint", diag.constraint_name),
        ):
            if value:
                parts.append(f"{label} {value}")
        message = "; ".join(parts)
    elif isinstance(exc, pydantic.ValidationError):
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        fields = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ())) or '(value)'}: {error.get('type', 'invalid')}"
            for error in errors[:5]
        )
        more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
        message = f"{name}: {len(errors)} invalid field(s): {fields}{more}"
    elif isinstance(exc, httpx.HTTPStatusError):
        message = f"{name}: HTTP {exc.response.status_code}"
    elif isinstance(exc, JobError):
        message = scrub(str(exc), limit, quotes=False)
    else:
        message = f"{name}: {scrub(str(exc))}"
    return message[:limit]
