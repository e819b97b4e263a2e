"""A fake Supabase Storage server on 127.0.0.1, for tests of the real supabase-py client.

It is a real HTTP/1.1 server (keep-alive, one thread per connection) in a background
thread, so the async client under test talks to it over real sockets::

    with FakeStorage(service_key="service-key") as fake:
        settings = StorageSettings(supabase_url=fake.url, service_key="service-key")
        ...                                   # upload and sign through SupabaseStorage
        assert fake.object("health-exports", "u/e.pdf").data == pdf
        fake.fail_next(2)                     # the next two requests: 503

It speaks the endpoints supabase-py's storage client (storage3) uses for exports:

* ``POST /storage/v1/object/<bucket>/<path>``: upload, a ``multipart/form-data`` body whose
  ``file`` part holds the bytes (parsed by its boundary, byte for byte). Without
  ``x-upsert: true`` an existing object is a 409 "Duplicate", as Supabase answers; with it
  the object is replaced. A file over ``file_size_limit`` is a 413, a content type outside
  ``allowed_mime_types`` a 415. The answer is ``{"Id": ..., "Key": "<bucket>/<path>"}``.
* ``POST /storage/v1/object/sign/<bucket>/<path>`` with ``{"expiresIn": n}`` (a number or a
  numeric string, as storage3 sends it): ``{"signedURL": "/object/sign/<bucket>/<path>?token=..."}``;
  a missing object is a 404 "Object not found".
* ``GET /storage/v1/object/sign/<bucket>/<path>?token=...``: the object, if the token was
  issued for it and has not expired (no key needed: that is what a signed URL is for).
* ``POST /storage/v1/object/list/<bucket>`` with ``{"prefix", "limit", "offset", "sortBy":
  {"column", "order"}, "search"?}``: what lies directly in the folder ``prefix`` (a prefix
  without a trailing ``/`` is taken as a folder, as Supabase does), sorted by name: each
  object as ``{"name": <name in the folder>, "id", "updated_at", "created_at",
  "last_accessed_at", "metadata": {"size", "mimetype", ...}}``, each sub-folder as
  ``{"name", "id": null, ..., "metadata": null}``; then ``offset`` and ``limit`` (1 to 1000).
* ``DELETE /storage/v1/object/<bucket>`` with ``{"prefixes": [<path>, ...]}`` (1 to 1000
  full paths): removes those that exist and answers the list of removed objects
  (``{"bucket_id", "name": <path>, "id", ...}``); paths that exist nowhere are left out.

Before any of that, every request but a signed download must carry ``apikey: <key>`` and
``Authorization: Bearer <key>`` (else a 403 "Unauthorized"), and name a known bucket (else
a 404 "Bucket not found"). Errors follow Supabase's convention: HTTP 400 with the real code
in the body, ``{"statusCode": "403", "error": ..., "message": ...}``; ``status_in_body=False``
sends the real code as the HTTP status instead (as newer Storage servers do).

:meth:`FakeStorage.fail_next` makes the next N requests fail with a status (503 by default)
and a gateway's plain-text body, as when Storage is down behind its proxy; ``latency``
delays every answer. Every request is recorded (:attr:`FakeStorage.requests`), failed ones
included. It binds to 127.0.0.1 only, refuses bodies over ``max_body`` bytes, and
:meth:`FakeStorage.stop` (or leaving the ``with`` block) ends waits and the thread promptly.
"""

from __future__ import annotations

import email.parser
import email.policy
import http
import http.server
import json
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = ["FakeStorage", "RecordedRequest", "StoredObject"]

_PREFIX = "/storage/v1/object/"
_MIB = 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server saw it: ``path`` is percent-decoded, ``headers`` lower-cased."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body_size: int
    json: Any = None
    form: Mapping[str, str] = field(default_factory=dict)
    file_content_type: str | None = None
    file_name: str | None = None
    file_size: int | None = None


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    content_type: str
    cache_control: str | None
    version: int


@dataclass(frozen=True)
class _FilePart:
    data: bytes
    content_type: str
    name: str | None


class _RefusalError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


class FakeStorage:
    """Supabase Storage on ``127.0.0.1:<free port>``; see the module docstring."""

    def __init__(
        self,
        *,
        service_key: str,
        buckets: Collection[str] = ("health-exports",),
        file_size_limit: int = 50 * _MIB,
        allowed_mime_types: Collection[str] | None = ("application/pdf",),
        status_in_body: bool = True,
        latency: float = 0.0,
        max_body: int = 64 * _MIB,
    ) -> None:
        self.service_key = service_key
        self.buckets = frozenset(buckets)
        self.file_size_limit = file_size_limit
        self.allowed_mime_types = None if allowed_mime_types is None else frozenset(allowed_mime_types)
        self.status_in_body = status_in_body
        self.latency = latency
        self.max_body = max_body
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._objects: dict[tuple[str, str], StoredObject] = {}
        self._tokens: dict[str, tuple[str, str, float]] = {}
        self._stored_at: dict[tuple[str, str], str] = {}
        self._recorded: list[RecordedRequest] = []
        self._failures: list[tuple[int, float | None]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> FakeStorage:
        if self._server is not None:
            raise RuntimeError("the fake server is already running")
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-storage", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket: later connections are refused."""
        self._stopping.set()
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeStorage:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The project URL to configure (``SUPABASE_URL``)."""
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- what the tests drive and read -----------------------------------------------------------

    def fail_next(self, count: int, status: int = 503, *, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` and a gateway's plain-text body."""
        with self._lock:
            self._failures.extend([(status, retry_after)] * count)

    def put(self, bucket: str, path: str, data: bytes, content_type: str = "application/pdf") -> None:
        """Store an object directly, as if uploaded earlier."""
        with self._lock:
            self._store(bucket, path, data, content_type, None)

    def object(self, bucket: str, path: str) -> StoredObject | None:
        with self._lock:
            return self._objects.get((bucket, path))

    @property
    def objects(self) -> dict[tuple[str, str], StoredObject]:
        with self._lock:
            return dict(self._objects)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._recorded)

    def clear(self) -> None:
        """Forget recorded requests, pending failures, objects and tokens."""
        with self._lock:
            self._recorded.clear()
            self._failures.clear()
            self._objects.clear()
            self._tokens.clear()
            self._stored_at.clear()

    # -- serving (handler threads) ---------------------------------------------------------------

    def _store(
        self, bucket: str, path: str, data: bytes, content_type: str, cache_control: str | None
    ) -> None:
        earlier = self._objects.get((bucket, path))
        version = earlier.version + 1 if earlier else 1
        self._objects[(bucket, path)] = StoredObject(data, content_type, cache_control, version)
        self._stored_at[(bucket, path)] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    def _record(self, request: RecordedRequest) -> tuple[int, float | None] | None:
        """Record ``request``; the failure to answer it with, if one is pending."""
        with self._lock:
            self._recorded.append(request)
            return self._failures.pop(0) if self._failures else None

    def _wait_latency(self) -> bool:
        """``False`` when the server is stopping."""
        if self.latency > 0:
            self._stopping.wait(self.latency)
        return not self._stopping.is_set()

    def _check_key(self, headers: Mapping[str, str]) -> None:
        if (
            headers.get("apikey") != self.service_key
            or headers.get("authorization") != f"Bearer {self.service_key}"
        ):
            raise _RefusalError(403, "Unauthorized", "invalid signature")

    def _check_bucket(self, bucket: str) -> None:
        if bucket not in self.buckets:
            raise _RefusalError(404, "Bucket not found", "Bucket not found")

    def _upload(
        self,
        bucket: str,
        path: str,
        headers: Mapping[str, str],
        form: Mapping[str, str],
        part: _FilePart | None,
    ) -> dict[str, Any]:
        self._check_key(headers)
        self._check_bucket(bucket)
        if not path:
            raise _RefusalError(400, "InvalidKey", "Invalid key: (empty)")
        if part is None:
            raise _RefusalError(400, "InvalidRequest", "No file part named 'file' in the form")
        if len(part.data) > self.file_size_limit:
            raise _RefusalError(413, "Payload too large", "The object exceeded the maximum allowed size")
        if self.allowed_mime_types is not None and part.content_type not in self.allowed_mime_types:
            raise _RefusalError(415, "invalid_mime_type", f"mime type {part.content_type} is not supported")
        upsert = headers.get("x-upsert", "").lower() == "true"
        with self._lock:
            if (bucket, path) in self._objects and not upsert:
                raise _RefusalError(409, "Duplicate", "The resource already exists")
            self._store(bucket, path, part.data, part.content_type, form.get("cacheControl"))
        return {"Id": str(uuid.uuid4()), "Key": f"{bucket}/{path}"}

    def _sign(self, bucket: str, path: str, headers: Mapping[str, str], body: Any) -> dict[str, Any]:
        self._check_key(headers)
        self._check_bucket(bucket)
        raw = body.get("expiresIn") if isinstance(body, dict) else None
        try:
            expires_in = int(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else 0
        except ValueError:
            expires_in = 0
        if expires_in < 1:
            raise _RefusalError(400, "InvalidRequest", "body/expiresIn must be an integer >= 1")
        token = secrets.token_urlsafe(24)
        with self._lock:
            if (bucket, path) not in self._objects:
                raise _RefusalError(404, "not_found", "Object not found")
            self._tokens[token] = (bucket, path, time.monotonic() + expires_in)
        quoted = urllib.parse.quote(f"{bucket}/{path}")
        return {"signedURL": f"/object/sign/{quoted}?token={token}"}

    def _list(self, bucket: str, headers: Mapping[str, str], body: Any) -> list[dict[str, Any]]:
        self._check_key(headers)
        self._check_bucket(bucket)
        if not isinstance(body, dict) or not isinstance(body.get("prefix"), str):
            raise _RefusalError(400, "InvalidRequest", "body must have required property 'prefix'")
        limit, offset = body.get("limit", 100), body.get("offset", 0)
        if not _whole(limit) or not 1 <= limit <= 1000 or not _whole(offset) or offset < 0:
            raise _RefusalError(400, "InvalidRequest", "body/limit and body/offset must be whole numbers")
        sort = body["sortBy"] if isinstance(body.get("sortBy"), dict) else {}
        search = body["search"] if isinstance(body.get("search"), str) else ""
        prefix: str = body["prefix"]
        folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        entries: dict[str, dict[str, Any]] = {}
        with self._lock:
            for (stored_bucket, path), stored in self._objects.items():
                if stored_bucket != bucket or not path.startswith(folder):
                    continue
                name, slash, _ = path[len(folder) :].partition("/")
                if not name.lower().startswith(search.lower()):
                    continue
                if slash:
                    entries.setdefault(name, _folder_entry(name))
                else:
                    entries[name] = _object_entry(bucket, path, stored, self._stored_at[(bucket, path)]) | {
                        "name": name
                    }
        ordered = sorted(
            entries.values(), key=lambda entry: entry["name"], reverse=sort.get("order") == "desc"
        )
        return ordered[offset : offset + limit]

    def _remove(self, bucket: str, headers: Mapping[str, str], body: Any) -> list[dict[str, Any]]:
        self._check_key(headers)
        self._check_bucket(bucket)
        prefixes = body.get("prefixes") if isinstance(body, dict) else None
        if (
            not isinstance(prefixes, list)
            or not 1 <= len(prefixes) <= 1000
            or not all(isinstance(path, str) for path in prefixes)
        ):
            raise _RefusalError(400, "InvalidRequest", "body/prefixes must be a list of 1 to 1000 paths")
        removed: list[dict[str, Any]] = []
        with self._lock:
            for path in dict.fromkeys(prefixes):
                stored = self._objects.pop((bucket, path), None)
                if stored is not None:
                    stored_at = self._stored_at.pop((bucket, path))
                    removed.append(_object_entry(bucket, path, stored, stored_at) | {"bucket_id": bucket})
        return removed

    def _download(self, bucket: str, path: str, token: str) -> StoredObject:
        with self._lock:
            grant = self._tokens.get(token)
            stored = self._objects.get((bucket, path))
        if grant is None or grant[:2] != (bucket, path):
            raise _RefusalError(400, "InvalidJWT", "invalid signature")
        if grant[2] < time.monotonic():
            raise _RefusalError(400, "InvalidJWT", "jwt expired")
        if stored is None:
            raise _RefusalError(404, "not_found", "Object not found")
        return stored


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object_entry(bucket: str, path: str, stored: StoredObject, stored_at: str) -> dict[str, Any]:
    """An object as Storage describes it (``name`` is the full path; a listing shortens it)."""
    return {
        "name": path,
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{bucket}/{path}#{stored.version}")),
        "updated_at": stored_at,
        "created_at": stored_at,
        "last_accessed_at": stored_at,
        "metadata": {
            "eTag": f'"{stored.version}"',
            "size": len(stored.data),
            "mimetype": stored.content_type,
            "cacheControl": f"max-age={stored.cache_control or 3600}",
            "lastModified": stored_at,
            "contentLength": len(stored.data),
            "httpStatusCode": 200,
        },
    }


def _folder_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "id": None,
        "updated_at": None,
        "created_at": None,
        "last_accessed_at": None,
        "metadata": None,
    }


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], _FilePart | None]:
    """The text fields and the ``file`` part of a ``multipart/form-data`` body (RFC 7578)."""
    header = email.parser.Parser(policy=email.policy.HTTP).parsestr(f"Content-Type: {content_type}\r\n\r\n")
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str) or not boundary:
        raise _RefusalError(400, "InvalidRequest", "expected a multipart/form-data body with a boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    # The first delimiter has no CRLF before it; adding one makes every delimiter alike, and
    # no content may contain a delimiter, so splitting on it is exact for binary data.
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise _RefusalError(400, "InvalidRequest", "the multipart body is not closed by its boundary")
    fields: dict[str, str] = {}
    file_part: _FilePart | None = None
    for chunk in chunks[1:-1]:
        # After a delimiter: optional transport padding, CRLF, the part's headers, CRLF CRLF.
        _, _, part = chunk.partition(b"\r\n")
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            raise _RefusalError(400, "InvalidRequest", "a multipart part has no blank line after its headers")
        headers = email.parser.BytesHeaderParser(policy=email.policy.HTTP).parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        filename = headers.get_param("filename", header="content-disposition")
        if name == "file":
            file_part = _FilePart(
                content, headers.get_content_type(), filename if isinstance(filename, str) else None
            )
        elif isinstance(name, str):
            fields[name] = content.decode("utf-8", "replace")
    return fields, file_part


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeStorage


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx's pooled client expects
    server: _Server

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

    def _handle(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= fake.max_body:
            self._send_error(_RefusalError(413, "Payload too large", "The request body is too large"))
            self.close_connection = True
            return
        body = self.rfile.read(length)
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        query = dict(urllib.parse.parse_qsl(split.query))
        headers = {name.lower(): value for name, value in self.headers.items()}
        content_type = headers.get("content-type", "")
        form: dict[str, str] = {}
        part: _FilePart | None = None
        parsed_json: Any = None
        refusal: _RefusalError | None = None
        try:
            if content_type.startswith("multipart/"):
                form, part = _parse_multipart(content_type, body)
            elif content_type.startswith("application/json") and body:
                parsed_json = json.loads(body)
        except _RefusalError as problem:
            refusal = problem
        except ValueError:
            refusal = _RefusalError(400, "InvalidRequest", "the body is not valid JSON")
        failure = fake._record(
            RecordedRequest(
                method=self.command,
                path=path,
                query=query,
                headers=headers,
                body_size=len(body),
                json=parsed_json,
                form=form,
                file_content_type=part.content_type if part else None,
                file_name=part.name if part else None,
                file_size=len(part.data) if part else None,
            )
        )
        if not fake._wait_latency():
            self.close_connection = True
            return
        if failure is not None:
            self._send_failure(*failure)
            return
        try:
            if refusal is not None:
                raise refusal
            self._route(fake, path, query, headers, form, part, parsed_json)
        except _RefusalError as problem:
            self._send_error(problem)

    def _route(
        self,
        fake: FakeStorage,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        form: Mapping[str, str],
        part: _FilePart | None,
        body: Any,
    ) -> None:
        if not path.startswith(_PREFIX):
            raise _RefusalError(404, "not_found", f"Route {self.command}:{path} not found")
        rest = path[len(_PREFIX) :].split("/")
        if rest[0] == "sign" and len(rest) >= 3:
            bucket, key = rest[1], "/".join(rest[2:])
            if self.command == "POST":
                self._send_json(200, fake._sign(bucket, key, headers, body))
                return
            if self.command == "GET":
                stored = fake._download(bucket, key, query.get("token", ""))
                self._send(200, stored.data, stored.content_type)
                return
        elif rest[0] == "list" and len(rest) == 2 and self.command == "POST":
            self._send_json(200, fake._list(rest[1], headers, body))
            return
        elif self.command == "DELETE" and len(rest) == 1:
            self._send_json(200, fake._remove(rest[0], headers, body))
            return
        elif self.command == "POST" and len(rest) >= 2:
            self._send_json(200, fake._upload(rest[0], "/".join(rest[1:]), headers, form, part))
            return
        raise _RefusalError(404, "not_found", f"Route {self.command}:{path} not found")

    def _send_error(self, refusal: _RefusalError) -> None:
        status = 400 if self.server.fake.status_in_body else refusal.status
        body = {"statusCode": str(refusal.status), "error": refusal.error, "message": refusal.message}
        self._send_json(status, body)

    def _send_failure(self, status: int, retry_after: float | None) -> None:
        phrase = http.HTTPStatus(status).phrase
        extra = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        self._send(status, f"upstream says: {phrase}\n".encode(), "text/plain", extra)

    def _send_json(self, status: int, body: Mapping[str, Any] | list[Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

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
