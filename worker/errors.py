"""The errors the command line turns into one clear line each."""

from __future__ import annotations


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
