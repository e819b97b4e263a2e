"""A fault-injecting HTTP/1.1 reverse proxy on 127.0.0.1, for chaos tests and benchmarks.

It stands in front of a test server (the fake DeepSeek or the fake Storage) and, for a
seeded random share of the requests it may touch, answers in the upstream's place with a
fault instead of forwarding::

    with ChaosProxy(fake.url, rate=0.3, seed=7) as proxy:
        settings = AISettings(provider="deepseek", api_key="sk-test", base_url=proxy.url)
        ...
        proxy.faults       # {"429": 12, "500": 9, "timeout": 11, "garbage": 10}

Fault kinds (``kinds``, chosen with equal weight):

* ``"429"``: Too Many Requests with ``Retry-After: <retry_after>`` and a JSON error body;
* ``"500"``, ``"502"``, ``"503"``, ``"504"``: that status; a JSON error body, or with
  ``gateway_text=True`` the plain-text body a gateway sends (Supabase's answers 503 so
  when Storage behind it is down);
* ``"timeout"``: the request is read and held without an answer for ``hold_seconds``
  (longer than the client's deadline), then the connection is closed;
* ``"garbage"``: a 200 whose body is not JSON (``Content-Type: application/json`` all the
  same), as a broken intermediary or a truncated answer looks.

What it guarantees:

* only requests for which ``eligible(method, path)`` is true can fail (default: all);
  :func:`chat_completions` and :func:`storage_uploads` are the two used here. The others,
  and the eligible requests drawn clean, are forwarded as they are (hop-by-hop headers
  aside) over a keep-alive connection to the upstream, and its answer is sent back whole;
* the draws come from ``random.Random(seed)`` in the order requests arrive, under a lock:
  with one client at a time the same seed gives the same faults; with many, the same
  counts in the long run;
* :attr:`ChaosProxy.faults` counts the faults sent by kind, :attr:`ChaosProxy.forwarded`
  the requests forwarded, :attr:`ChaosProxy.requests` every request received;
* it binds to 127.0.0.1 only (an upstream elsewhere is refused at construction), and
  :meth:`ChaosProxy.stop` (or leaving the ``with`` block) ends every hold and closes every
  client connection at once, so no thread outlives it by more than a moment.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import http.server
import json
import random
import socket
import sys
import threading
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

__all__ = ["FAULT_KINDS", "ChaosProxy", "Eligible", "chat_completions", "storage_uploads"]

Eligible = Callable[[str, str], bool]
"""Whether a request (method, path without the query) may be answered with a fault."""

FAULT_KINDS = ("429", "500", "502", "503", "504", "timeout", "garbage")
_ERROR_STATUSES = {"500": 500, "502": 502, "503": 503, "504": 504}
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }
)
_MAX_BODY = 128 * 1024 * 1024
_UPSTREAM_TIMEOUT_S = 300.0
_GARBAGE = b"<html><body>upstream hiccup</body></html>\n\x00\x17{not json"


def chat_completions(method: str, path: str) -> bool:
    """DeepSeek's chat completions: ``POST .../chat/completions``."""
    return method == "POST" and path.rstrip("/").endswith("/chat/completions")


def storage_uploads(method: str, path: str) -> bool:
    """Supabase Storage uploads: ``POST /storage/v1/object/<bucket>/<path>`` (not sign or list)."""
    prefix = "/storage/v1/object/"
    if method not in {"POST", "PUT"} or not path.startswith(prefix):
        return False
    parts = path[len(prefix) :].split("/")
    return len(parts) >= 2 and parts[0] not in {"sign", "list", "public", "authenticated", "info"}


class ChaosProxy:
    """A reverse proxy on ``127.0.0.1:<free port>`` in front of ``upstream``; see the module docstring."""

    def __init__(
        self,
        upstream: str,
        *,
        rate: float,
        seed: int = 0,
        kinds: Sequence[str] = ("429", "500", "timeout", "garbage"),
        eligible: Eligible | None = None,
        retry_after: float = 1.0,
        hold_seconds: float = 5.0,
        gateway_text: bool = False,
    ) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or parsed.hostname not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError(f"the upstream must be an http:// server on this machine, not {upstream!r}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
        if unknown or not kinds:
            raise ValueError(f"fault kinds must be some of {', '.join(FAULT_KINDS)}; got {list(kinds)}")
        if hold_seconds <= 0 or retry_after < 0:
            raise ValueError("hold_seconds must be positive and retry_after not negative")
        self.upstream_host = parsed.hostname or "127.0.0.1"
        self.upstream_port = parsed.port or 80
        self.upstream_base = parsed.path.rstrip("/")
        self.rate = rate
        self.kinds = tuple(kinds)
        self.eligible: Eligible = eligible or (lambda method, path: True)
        self.retry_after = retry_after
        self.hold_seconds = hold_seconds
        self.gateway_text = gateway_text
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._faults: collections.Counter[str] = collections.Counter()
        self._forwarded = 0
        self._requests = 0
        self._holding = 0
        self._sockets: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> ChaosProxy:
        if self._server is not None:
            raise RuntimeError("the proxy is already running")
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="chaos-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: holds end, client connections close, later connections are refused."""
        self._stopping.set()
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> ChaosProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The proxy's base URL (``http://127.0.0.1:<port>`` and the upstream's path)."""
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.upstream_base}"

    # -- what the tests read ---------------------------------------------------------------------

    @property
    def faults(self) -> dict[str, int]:
        """Faults sent so far, by kind."""
        with self._lock:
            return dict(self._faults)

    @property
    def forwarded(self) -> int:
        with self._lock:
            return self._forwarded

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def holding(self) -> int:
        """Requests being held without an answer right now (``timeout`` faults)."""
        with self._lock:
            return self._holding

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,
                "forwarded": self._forwarded,
                "faults": dict(self._faults),
            }

    # -- serving (handler threads) ---------------------------------------------------------------

    def _draw(self, method: str, path: str) -> str | None:
        """The fault to answer this request with, if any (and count the request)."""
        eligible = self.eligible(method, path)
        with self._lock:
            self._requests += 1
            if not eligible or self._rng.random() >= self.rate:
                self._forwarded += 1
                return None
            kind = self._rng.choice(self.kinds)
            self._faults[kind] += 1
            return kind

    def _hold(self) -> None:
        with self._lock:
            self._holding += 1
        try:
            self._stopping.wait(self.hold_seconds)
        finally:
            with self._lock:
                self._holding -= 1

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    proxy: ChaosProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a worker SIGKILLed mid-request, a timeout) is part of the
        # weather here, not an error worth a traceback; anything else is still printed.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None
        self.server.proxy._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._track(self.connection, add=False)
            if self._upstream is not None:
                self._upstream.close()

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures
        return

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > _MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= _MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        if body is None:
            self._send(413, b'{"error": "body too large"}', "application/json")
            self.close_connection = True
            return
        path = urllib.parse.urlsplit(self.path).path
        kind = proxy._draw(self.command, path)
        if kind is None:
            self._forward(body)
        elif kind == "timeout":
            proxy._hold()
            self.close_connection = True  # no answer at all: the client's deadline decides
        elif kind == "garbage":
            self._send(200, _GARBAGE, "application/json")
        elif kind == "429":
            message = {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}
            self._send(
                429,
                json.dumps(message).encode(),
                "application/json",
                {"Retry-After": f"{proxy.retry_after:g}"},
            )
        else:
            status = _ERROR_STATUSES[kind]
            if proxy.gateway_text:
                phrase = http.HTTPStatus(status).phrase
                self._send(status, f"{status} {phrase}\n".encode(), "text/plain")
            else:
                message = {"error": {"message": "The server had an error", "type": "server_error"}}
                self._send(status, json.dumps(message).encode(), "application/json")

    def _forward(self, body: bytes) -> None:
        proxy = self.server.proxy
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        headers["Host"] = f"{proxy.upstream_host}:{proxy.upstream_port}"
        if body or self.command in {"POST", "PUT", "PATCH"}:
            headers["Content-Length"] = str(len(body))
        for tries in (1, 2):  # a kept-alive upstream connection may have been closed meanwhile
            upstream = self._upstream or http.client.HTTPConnection(
                proxy.upstream_host, proxy.upstream_port, timeout=_UPSTREAM_TIMEOUT_S
            )
            self._upstream = upstream
            try:
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                status, reason = response.status, response.reason
                kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
                if response.will_close:
                    upstream.close()
                    self._upstream = None
                break
            except (OSError, http.client.HTTPException):
                upstream.close()
                self._upstream = None
                if tries == 2 or proxy._stopping.is_set():
                    self._send(502, b'{"error": "the upstream did not answer"}', "application/json")
                    self.close_connection = True
                    return
        self.send_response(status, reason)
        for name, value in kept:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _send(
        self, status: int, body: bytes, content_type: str, extra: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
