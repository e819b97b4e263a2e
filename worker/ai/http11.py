"""A small HTTP/1.1 client for one origin: JSON POSTs over kept-alive connections.

Why not httpx: on this workload (two ~12 KB POSTs a person-week, hundreds in flight)
httpx/httpcore/anyio run about 3,000 Python function calls per request and scan every
pooled connection on each request and response; that was 3-4 ms of CPU per request, the
largest part of the worker's CPU per person-week. This client does one write per request
and reads the response with :class:`asyncio.StreamReader`: about 0.5 ms. Why not aiohttp:
measured beside this client at 200 requests in flight it takes 2.0-2.4x the CPU a request,
0.2-0.4 ms more a person-week (``bench/http_client.py``; BENCHMARKS.md).

What it does, and no more:

* one origin (``http`` or ``https``; TLS verified against certifi's roots when certifi is
  installed, else the system's), ``POST`` with a body, HTTP/1.1 keep-alive;
* responses framed by ``Content-Length``, ``Transfer-Encoding: chunked``, or the end of the
  connection; at most :data:`MAX_BODY` bytes of body, :data:`MAX_HEADERS` header lines;
* idle connections are reused (most recently used first) until ``keepalive_expiry``
  seconds idle or the server closes them; at most ``max_idle`` are kept. A request that
  fails on a reused connection before any byte of the answer arrived (the server closed
  it meanwhile) is sent once more on a new connection;
* no limit on connections in use: the caller bounds requests in flight;
* every failure is a :class:`TransportError` named like httpx's (``ConnectError``,
  ``WriteError``, ``ReadError``, ``RemoteProtocolError``); timeouts are the caller's
  (``asyncio.timeout``): a cancelled exchange closes its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_BODY = 16 * 1024 * 1024
MAX_HEADERS = 100
_STREAM_LIMIT = 256 * 1024  # longest header line or chunk-size line


class TransportError(Exception):
    """The exchange failed below HTTP (connection, TLS, or a response that is not HTTP)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float, expiry: float) -> bool:
        return (
            now - self.idle_since < expiry
            and not self.reader.at_eof()
            and not self.writer.is_closing()
            and not self.reader._buffer  # type: ignore[attr-defined]  # bytes nobody asked for
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def _ssl_context() -> ssl.SSLContext:
    try:
        import certifi  # noqa: PLC0415 - optional, as httpx uses it

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()


class ConnectionPool:
    """Kept-alive connections to the origin of ``base_url``; share one per process."""

    def __init__(self, base_url: str, *, max_idle: int = 100, keepalive_expiry: float = 60.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path_prefix = parts.path.rstrip("/")
        default_port = self.port == (443 if parts.scheme == "https" else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.authority = host if default_port else f"{host}:{self.port}"
        self._ssl = _ssl_context() if parts.scheme == "https" else None
        self._idle: list[_Connection] = []
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._closed = False

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    def request_head(self, path: str, headers: dict[str, str]) -> str:
        """The request line and headers, without ``Content-Length`` and the final blank line;
        build it once per set of headers and pass it to :meth:`post`."""
        lines = [f"POST {self.path_prefix}{path} HTTP/1.1", f"Host: {self.authority}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return "\r\n".join(lines) + "\r\n"

    async def post(self, head: str, body: bytes) -> Response:
        """Send ``head`` (from :meth:`request_head`) with ``body``; the whole response."""
        request = (head + f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body
        connection = self._take()
        if connection is not None:
            try:
                return await self._exchange(connection, request, reused=True)
            except _StaleConnectionError:
                pass  # the server closed it meanwhile: once more on a new connection
        return await self._exchange(await self._connect(), request, reused=False)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # -- internals -----------------------------------------------------------------------------

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable(now, self._expiry):
                return connection
            connection.close()
        return None

    def _give_back(self, connection: _Connection) -> None:
        if self._closed or len(self._idle) >= self._max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_connection(
                self.host,
                self.port,
                ssl=self._ssl,
                server_hostname=self.host if self._ssl else None,
                limit=_STREAM_LIMIT,
            )
        except (OSError, ssl.SSLError) as exc:
            raise TransportError("ConnectError", type(exc).__name__) from None
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, request: bytes, *, reused: bool) -> Response:
        keep = False
        try:
            try:
                connection.writer.write(request)
                await connection.writer.drain()
            except OSError as exc:
                if reused:
                    raise _StaleConnectionError from None
                raise TransportError("WriteError", type(exc).__name__) from None
            response, keep = await self._read_response(connection.reader, reused=reused)
            return response
        finally:
            if keep:
                self._give_back(connection)
            else:
                connection.close()

    async def _read_response(self, reader: asyncio.StreamReader, *, reused: bool) -> tuple[Response, bool]:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    if reused:
                        raise _StaleConnectionError
                    raise TransportError("RemoteProtocolError", "server disconnected without a response")
                version, status = _status_line(line)
                headers = await _headers(reader)
                if status >= 200:
                    break
            keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
            encoding = headers.get("transfer-encoding", "").lower()
            if "chunked" in encoding:
                content = await _chunked(reader)
            elif "content-length" in headers:
                length = _int(headers["content-length"])
                if length > MAX_BODY:
                    raise TransportError("RemoteProtocolError", "response body too large")
                content = await reader.readexactly(length)
            elif status in (204, 304):
                content = b""
            else:
                content = await reader.read(MAX_BODY + 1)
                while len(content) <= MAX_BODY and not reader.at_eof():
                    more = await reader.read(MAX_BODY + 1 - len(content))
                    if not more:
                        break
                    content += more
                if len(content) > MAX_BODY:
                    raise TransportError("RemoteProtocolError", "response body too large")
                keep = False
        except ConnectionResetError as exc:
            if reused:
                raise _StaleConnectionError from None
            raise TransportError("ReadError", type(exc).__name__) from None
        except asyncio.IncompleteReadError:
            raise TransportError("RemoteProtocolError", "the response was cut off") from None
        except (ValueError, asyncio.LimitOverrunError):
            raise TransportError("RemoteProtocolError", "the response is not valid HTTP/1.1") from None
        except OSError as exc:
            raise TransportError("ReadError", type(exc).__name__) from None
        return Response(status, headers, content), keep


class _StaleConnectionError(Exception):
    """A reused connection failed before any byte of the answer: it was closed meanwhile."""


def _int(text: str) -> int:
    value = int(text.strip())
    if value < 0:
        raise ValueError("negative length")
    return value


def _status_line(line: bytes) -> tuple[str, int]:
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or len(parts[1]) != 3:
        raise ValueError("bad status line")
    return parts[0], int(parts[1])


async def _headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            return headers
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(line, None)
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise ValueError("bad header line")
        headers[name.strip().lower()] = value.strip()
    raise ValueError("too many header lines")


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(line, None)
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            await _headers(reader)  # trailers
            return b"".join(parts)
        total += size
        if total > MAX_BODY:
            raise TransportError("RemoteProtocolError", "response body too large")
        parts.append(await reader.readexactly(size))
        if await reader.readline() not in (b"\r\n", b"\n"):
            raise ValueError("bad chunk end")
