"""Structured logging: JSON lines when not on a terminal, readable lines when on one.

Log with bound context (``job_id``, ``kind``, ``user_id``); never log story text,
symptoms, e-mail addresses or tokens.

Every line the process writes to stderr goes through the same renderer: the libraries'
own loggers (psycopg's pool, httpx, asyncio) and Python's warnings are routed through
structlog's formatter, so a JSON log stays JSON. httpx and httpcore are held at WARNING:
at INFO they print every request's URL, and a signed Storage URL carries a token.
psycopg's pool is held at ERROR: during an outage it would log every reconnect attempt.
"""

from __future__ import annotations

import logging
import sys

import structlog

_QUIET_LIBRARIES = ("httpx", "httpcore", "hpack", "h2")
# The pool logs each failed reconnect (four a second per connection while the database is
# away) and each connection it discards; the worker says once that the database is away.
_OUTAGE_CHATTY = ("psycopg.pool",)


def configure(level: str = "INFO") -> None:
    """Set up structlog, and route the standard library's logging through it, once for the process."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    on_terminal = sys.stderr.isatty()
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if on_terminal else structlog.processors.JSONRenderer()
    )
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name, timestamper],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    for name in _OUTAGE_CHATTY:
        logging.getLogger(name).setLevel(max(numeric, logging.ERROR))
    logging.captureWarnings(True)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
