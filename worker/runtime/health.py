"""``GET /health`` and ``GET /metrics`` of a running worker (when ``PORT`` is set).

A small WSGI app on the standard library's server, in a daemon thread, so a busy or
blocked event loop cannot hide itself: the thread asks the loop to answer and reports
503 when it does not within the timeout.

``/health`` is 200 when all of these hold, else 503 with the failing part named:

* Postgres answers ``select 1`` on the health check's own connection;
* every registered loop (the worker, the schedule) is still running;
* the event loop answers within two seconds.

``/metrics`` is the Prometheus text format of :data:`worker.metrics.REGISTRY` (through
``prometheus_client``), with the queue gauges read at scrape time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import psycopg
from prometheus_client import make_wsgi_app

from worker.db.queries import load_queries
from worker.metrics import REGISTRY, QueueCollector

_LOOP_TIMEOUT = 2.0
_DB_TIMEOUT = 3

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: the process's log is structured lines only."""


class HealthServer:
    """Serves health and metrics for one worker process."""

    def __init__(self, conninfo: str, *, host: str, port: int) -> None:
        self._conninfo = conninfo
        self._loops: dict[str, asyncio.Task[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._db: psycopg.Connection[Any] | None = None
        self._db_lock = threading.Lock()
        self._collector = QueueCollector(conninfo)
        REGISTRY.register(self._collector)
        self._metrics = make_wsgi_app(REGISTRY)
        self._server = make_server(host, port, self._app, server_class=_Server, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread.start()

    def watch(self, name: str, task: asyncio.Task[Any]) -> None:
        """A loop whose end makes the process unhealthy."""
        self._loops[name] = task

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        REGISTRY.unregister(self._collector)
        with self._db_lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- checks ---------------------------------------------------------------------------

    def _database_ok(self) -> bool:
        with self._db_lock:
            for _ in range(2):  # a dropped connection is opened again once
                try:
                    if self._db is None or self._db.closed:
                        self._db = psycopg.connect(
                            self._conninfo,
                            connect_timeout=_DB_TIMEOUT,
                            autocommit=True,
                            application_name="proxima-health",
                            options=f"-c statement_timeout={_DB_TIMEOUT * 1000}",
                        )
                    self._db.execute(load_queries("worker.ops", "queries.sql")["health_ping"])
                    return True
                except psycopg.Error:
                    if self._db is not None:
                        self._db.close()
                    self._db = None
            return False

    def _loops_ok(self) -> dict[str, str]:
        loop = self._loop
        if loop is None or loop.is_closed():
            return {"event_loop": "stopped"}

        async def states() -> dict[str, str]:
            return {name: ("stopped" if task.done() else "running") for name, task in self._loops.items()}

        try:
            found = asyncio.run_coroutine_threadsafe(states(), loop).result(_LOOP_TIMEOUT)
        except (TimeoutError, RuntimeError):
            return {"event_loop": "not answering"}
        return {"event_loop": "running", **found}

    def check(self) -> tuple[bool, dict[str, Any]]:
        loops = self._loops_ok()
        database = self._database_ok()
        healthy = database and all(state == "running" for state in loops.values()) and len(loops) > 1
        return healthy, {
            "status": "ok" if healthy else "unhealthy",
            "database": "ok" if database else "unreachable",
            "loops": loops,
        }

    # -- HTTP ------------------------------------------------------------------------------

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/metrics":
            return self._metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/health" and method in {"GET", "HEAD"}:
            healthy, body = self.check()
            payload = json.dumps(body).encode()
            start_response(
                "200 OK" if healthy else "503 Service Unavailable",
                [
                    ("Content-Type", "application/json"),
                    ("Cache-Control", "no-store"),
                    ("Content-Length", str(len(payload))),
                ],
            )
            return [payload] if method == "GET" else []
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
