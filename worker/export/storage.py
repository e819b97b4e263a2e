"""Where exported PDFs are kept: a private Supabase Storage bucket, or a local folder.

Guarantees of every :class:`Storage` (both :class:`SupabaseStorage` and :class:`LocalStorage`):

* ``upload`` overwrites. Storing the same path twice succeeds and leaves the second bytes,
  so a retried export job never fails on the upload of its own earlier attempt.
* Object paths are checked before anything is sent or written (:func:`check_object_path`):
  relative, ``/``-separated segments of letters, digits, ``.``, ``_`` and ``-`` that start
  with a letter or digit, so no ``..``, no leading ``/``, no empty segment and nothing that
  could leave the bucket folder. A bad path, an empty file or a malformed content type is a
  :class:`ValueError`: a bug in the caller, not a storage failure.
* Every storage failure is a job error. :class:`StorageUnavailableError` (retryable) when
  another attempt may succeed: network errors, timeouts, HTTP 408/409/425/429 and 5xx, a
  full disk. :class:`StorageRejectedError` (permanent) when none will: a refused key, a
  missing bucket, a file over the bucket's size limit, a folder that cannot be written.
* ``delete_folder`` removes every object under ``<folder>/`` and returns how many it
  removed; a folder with nothing in it (or none at all) is 0, not an error, so a retried
  deletion succeeds. Its errors are classified as the upload's.
* No exception message holds the service key, a signed URL or its token, or file contents.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from uuid import UUID

import httpx
from storage3.exceptions import StorageApiError
from storage3.types import FileOptions
from storage3.utils import StorageException
from supabase import AsyncClient, AsyncClientOptions

from worker.config import StorageSettings
from worker.errors import ConfigError, PermanentError, RetryableError

__all__ = [
    "LocalStorage",
    "Storage",
    "StorageRejectedError",
    "StorageUnavailableError",
    "SupabaseStorage",
    "check_object_path",
    "create_storage",
    "export_object_path",
]

PDF = "application/pdf"

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_MAX_PATH = 1024  # Supabase Storage's limit on an object name
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*")
# Worth asking again: the set the job queue retries (worker/queue/retry.py), plus every 5xx.
# 409 cannot be "already exists" because every upload is an upsert: it is another attempt of
# the same job writing the same object at this moment.
_RETRY_STATUSES = frozenset({408, 409, 425, 429})
_SERVER_MESSAGE_LIMIT = 200
# delete_folder lists and removes a page of objects at a time (Storage's default list
# limit) and stops after this many pages: 100,000 objects, far beyond one person's exports.
# A folder larger than that fails the attempt as retryable; the next one goes on from
# what is left.
_DELETE_PAGE = 100
_DELETE_MAX_PAGES = 1000
# Local write failures that another attempt would meet again: permissions, a read-only disk,
# a file where a folder should be. Others (a full disk, an I/O error) may pass.
_LOCAL_ERRORS_THAT_STAY = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG}
)


class StorageUnavailableError(RetryableError):
    """Storage could not take the request now (network, timeout, overload): retry the job later."""


class StorageRejectedError(PermanentError):
    """Storage refused the request and will again (bad key, no such bucket, too large): says what to fix."""


class Storage(Protocol):
    """Keeps exported files and hands out links to them; callers never know which backend they hold.

    Build one per process (it holds a pool of connections) and ``aclose`` it at shutdown.
    """

    async def upload(self, path: str, data: bytes, *, content_type: str = PDF) -> None:
        """Store ``data`` at ``path``, replacing any earlier object there."""
        ...

    async def signed_url(self, path: str, *, expires_in: int = 3600) -> str:
        """A URL that lets its holder download ``path`` for ``expires_in`` seconds."""
        ...

    async def delete_folder(self, folder: str) -> int:
        """Remove every object under ``<folder>/`` (sub-folders included); how many were removed."""
        ...

    async def aclose(self) -> None:
        """Release connections; calling it twice is harmless."""
        ...

    def describe(self) -> str:
        """Where files go, for a log line or a status page; never holds a key."""
        ...


def export_object_path(user_id: UUID, export_id: UUID) -> str:
    """``<user_id>/<export_id>.pdf``: the folder is the owner's id, which the bucket's read policy checks."""
    return f"{user_id}/{export_id}.pdf"


def check_object_path(path: str) -> str:
    """``path`` if it is a safe object path (see the module docstring), else :class:`ValueError`."""
    shown = repr(path[:100])
    if not path:
        raise ValueError("an object path is empty")
    if len(path) > _MAX_PATH:
        raise ValueError(f"an object path is longer than {_MAX_PATH} characters: {shown}")
    if path.startswith("/"):
        raise ValueError(f"an object path must be relative, not start with '/': {shown}")
    for segment in path.split("/"):
        if not segment:
            raise ValueError(f"an object path has an empty segment: {shown}")
        if segment in {".", ".."}:
            raise ValueError(f"an object path must not contain '.' or '..' segments: {shown}")
        if not _SEGMENT.fullmatch(segment):
            raise ValueError(
                "an object path segment must be letters, digits, '.', '_' or '-', "
                f"starting with a letter or digit: {shown}"
            )
    return path


def _check_upload(path: str, data: bytes, content_type: str) -> None:
    check_object_path(path)
    # storage3 reads a str as a file name to open: refuse anything but bytes outright.
    if not isinstance(data, bytes):
        raise TypeError(f"upload takes bytes, not {type(data).__name__}")
    if not data:
        raise ValueError("refusing to store an empty file: the export was not rendered")
    if not _CONTENT_TYPE.fullmatch(content_type):
        raise ValueError(f"not a content type: {content_type[:100]!r}")


def _check_expiry(expires_in: int) -> None:
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in < 1:
        raise ValueError(f"expires_in must be a whole number of seconds, at least 1, not {expires_in!r}")


# -- Supabase Storage ------------------------------------------------------------------------------


class SupabaseStorage:
    """The private bucket ``settings.bucket`` of a Supabase project, through supabase-py's async client.

    Requests carry the service key (``apikey`` and ``Authorization: Bearer``), so the bucket's
    row-level policies do not apply to the worker. Uploads are ``POST
    /storage/v1/object/<bucket>/<path>`` with ``x-upsert: true``; signed URLs come from ``POST
    /storage/v1/object/sign/<bucket>/<path>`` and are returned as the full URL the client
    builds (``<SUPABASE_URL>/storage/v1/object/sign/<bucket>/<path>?token=...``).

    Error answers are read the way Supabase sends them: HTTP 400 with the real status in the
    JSON body's ``statusCode`` (older servers), or the real HTTP status (newer ones). Nothing
    is retried here; a retryable failure goes back to the job queue, which owns the backoff.
    ``http_client`` lets a caller supply (and then close) its own ``httpx.AsyncClient``.
    """

    def __init__(
        self,
        settings: StorageSettings,
        *,
        timeout_seconds: float = 60.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not settings.supabase_url or not settings.service_key:
            raise ConfigError("Supabase Storage needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY")
        self.bucket = settings.bucket
        self.url = settings.supabase_url
        self._key = settings.service_key
        self._owns_http = http_client is None
        # HTTP/2 when the server offers it, as storage3's own client; but redirects are not
        # followed (httpx would carry the ``apikey`` header, the service key, to another
        # host), the timeout is ours, and the pool is one we can close.
        self._http = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds), http2=True, follow_redirects=False
        )
        # The constructor, not acreate_client: that only adds a look-up of a signed-in user's
        # session, which a service-key client never has.
        client = AsyncClient(self.url, self._key, AsyncClientOptions(httpx_client=self._http))
        self._bucket = client.storage.from_(self.bucket)

    def __repr__(self) -> str:  # never the key
        return f"SupabaseStorage(url={self.url!r}, bucket={self.bucket!r})"

    def describe(self) -> str:
        return f"Supabase Storage bucket {self.bucket} at {self.url}"

    async def upload(self, path: str, data: bytes, *, content_type: str = PDF) -> None:
        """Store ``data`` at ``path`` (``x-upsert: true``: an existing object is replaced)."""
        _check_upload(path, data, content_type)
        options: FileOptions = {"content-type": content_type, "upsert": "true"}
        with self._translate_errors("upload"):
            await self._bucket.upload(path, data, options)

    async def signed_url(self, path: str, *, expires_in: int = 3600) -> str:
        """The full signed URL for ``path``, valid ``expires_in`` seconds; the object must exist."""
        check_object_path(path)
        _check_expiry(expires_in)
        with self._translate_errors("sign"):
            signed = await self._bucket.create_signed_url(path, expires_in)
        url = signed["signedURL"]
        if not url:
            raise StorageUnavailableError("Supabase Storage answered without a signed URL")
        return url

    async def delete_folder(self, folder: str) -> int:
        """Remove every object under ``<folder>/`` through ``list`` and ``remove``, a page at a time.

        Each round lists the first page of the folder (``offset`` 0: what was removed is no
        longer listed), removes its objects and empties its sub-folders the same way, until
        a listing comes back empty. At most ``_DELETE_MAX_PAGES`` listings in all.
        """
        check_object_path(folder)
        listings = 0

        async def empty(prefix: str) -> int:
            nonlocal listings
            removed = 0
            while True:
                if listings >= _DELETE_MAX_PAGES:
                    raise StorageUnavailableError(
                        f"a Supabase Storage folder holds more than {_DELETE_PAGE * _DELETE_MAX_PAGES} "
                        "objects; the next attempt removes the rest"
                    )
                listings += 1
                with self._translate_errors("list"):
                    listed = await self._bucket.list(prefix, {"limit": _DELETE_PAGE, "offset": 0})
                files, folders = _listing(listed)
                progress = 0
                if files:
                    with self._translate_errors("remove"):
                        answer = await self._bucket.remove([f"{prefix}/{name}" for name in files])
                    if not isinstance(answer, list):
                        raise StorageUnavailableError(
                            "Supabase Storage gave an answer that is not Storage's (removal)"
                        )
                    if not answer:
                        raise StorageUnavailableError(
                            f"Supabase Storage listed {len(files)} objects but removed none of them"
                        )
                    progress += len(answer)
                for name in folders:
                    progress += await empty(f"{prefix}/{name}")
                removed += progress
                if not progress:
                    # An empty listing, or only sub-folders that held nothing more.
                    return removed

        return await empty(folder)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    @contextlib.contextmanager
    def _translate_errors(self, action: str) -> Iterator[None]:
        """Turn what supabase-py raises into the job errors of this module."""
        try:
            yield
        except StorageApiError as exc:
            raise self._api_error(action, exc) from None
        except httpx.TimeoutException as exc:
            raise StorageUnavailableError(
                f"Supabase Storage did not answer in time ({_NOUNS[action]}, {type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise StorageUnavailableError(
                f"Supabase Storage could not be reached ({_NOUNS[action]}): {type(exc).__name__}: "
                f"{_clean(str(exc), self._key)}"
            ) from exc
        except (StorageException, ValueError, KeyError):
            # A 2xx whose body is not Storage's (a proxy's page, a truncated answer). Not
            # chained: a validation error quotes the body, which may hold a signed URL's token.
            raise StorageUnavailableError(
                f"Supabase Storage gave an answer that is not Storage's ({_NOUNS[action]})"
            ) from None

    def _api_error(self, action: str, exc: StorageApiError) -> StorageUnavailableError | StorageRejectedError:
        response = _http_response_of(exc)
        status = _real_status(exc, response)
        message = _server_message(exc, response, self._key)
        if status >= 500 or status in _RETRY_STATUSES:
            return StorageUnavailableError(
                f"Supabase Storage failed the {_NOUNS[action]} ({status}): {message}",
                retry_after=_retry_after(response),
            )
        return StorageRejectedError(
            f"Supabase Storage refused {_REFUSALS[action]} ({status}): {message}{self._hint(status, message)}"
        )

    def _hint(self, status: int, message: str) -> str:
        if 300 <= status < 400:
            return "; SUPABASE_URL redirects elsewhere: set the address it redirects to (https://)"
        if status in {401, 403}:
            return "; check SUPABASE_SERVICE_ROLE_KEY"
        if status == 404 and "bucket" in message.lower():
            return f"; check that the bucket {self.bucket} exists (PROXIMA_EXPORT_BUCKET)"
        if status == 413:
            return "; the file is larger than the bucket's file size limit"
        if status == 415:
            return "; the bucket's allowed MIME types do not include this file's"
        return ""


_NOUNS = {"upload": "upload", "sign": "URL signing", "list": "listing", "remove": "removal"}
_REFUSALS = {
    "upload": "the upload",
    "sign": "to sign a URL",
    "list": "to list a folder",
    "remove": "to remove objects",
}


def _listing(listed: object) -> tuple[list[str], list[str]]:
    """The object names and the sub-folder names of a ``list`` answer (folders have no ``id``)."""
    if not isinstance(listed, list):
        raise StorageUnavailableError("Supabase Storage gave an answer that is not Storage's (listing)")
    files: list[str] = []
    folders: list[str] = []
    for entry in listed:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or "/" in name or name in {".", ".."}:
            raise StorageUnavailableError("Supabase Storage gave an answer that is not Storage's (listing)")
        (files if entry.get("id") is not None else folders).append(name)
    return files, folders


def _http_response_of(exc: BaseException) -> httpx.Response | None:
    """The HTTP answer behind a storage3 error (it chains the ``HTTPStatusError``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, httpx.HTTPStatusError):
            return current.response
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _real_status(exc: StorageApiError, response: httpx.Response | None) -> int:
    """The HTTP status, or the body's ``statusCode`` when the HTTP status is Supabase's generic 400."""
    http_status = response.status_code if response is not None else None
    if http_status is not None and http_status != 400:
        return http_status
    try:
        return int(str(exc.status))
    except ValueError:
        return http_status or 400


def _server_message(exc: StorageApiError, response: httpx.Response | None, key: str) -> str:
    # storage3 puts a body it could not parse (a gateway's HTML page) in the message whole.
    unparsed = exc.code == "InternalError" and str(exc.message).startswith("Unable to parse error message")
    if unparsed and response is not None:
        return response.reason_phrase or f"HTTP {response.status_code}"
    return _clean(f"{exc.message}", key) or str(exc.code)


def _clean(text: str, key: str) -> str:
    """One line, short, and never the key (a server may echo a header it disliked)."""
    text = " ".join(text.split()).replace(key, "***")
    if len(text) > _SERVER_MESSAGE_LIMIT:
        text = text[: _SERVER_MESSAGE_LIMIT - 3] + "..."
    return text


def _retry_after(response: httpx.Response | None) -> float | None:
    raw = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None  # an HTTP date: rare from Storage, and the queue's backoff is a fine default


# -- a local folder --------------------------------------------------------------------------------


class LocalStorage:
    """Files under ``folder`` (resolved to an absolute path at construction), for development and the demo.

    Each upload is atomic: the bytes go to a temporary file in the target's own folder, are
    flushed to disk (``fsync``) and then renamed over the target (``os.replace``), so a reader
    sees the old file or the new one, never half of one, and a crash leaves at most a stray
    ``.<name>.*.tmp`` file. Folders are created as needed (mode 0700) and files are written
    with mode 0600: a health report is for its owner only.

    ``signed_url`` returns a ``file://`` URL. A local folder has no expiry: ``expires_in`` is
    checked, then ignored, and the link works as long as the file is there.
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalStorage(folder={str(self.folder)!r})"

    def describe(self) -> str:
        return f"local folder {self.folder}"

    def path_of(self, path: str) -> Path:
        """Where the object ``path`` lives on disk (checked like every path)."""
        return self.folder.joinpath(*check_object_path(path).split("/"))

    async def upload(self, path: str, data: bytes, *, content_type: str = PDF) -> None:
        """Write ``data`` to ``<folder>/<path>`` atomically, replacing any earlier file."""
        _check_upload(path, data, content_type)
        await asyncio.to_thread(self._write, path, data)

    async def signed_url(self, path: str, *, expires_in: int = 3600) -> str:
        """``file://`` URL of an existing file; a missing one is a :class:`StorageRejectedError`."""
        target = self.path_of(path)
        _check_expiry(expires_in)
        if not await asyncio.to_thread(target.is_file):
            raise StorageRejectedError(f"no stored file {path} in the local folder {self.folder}")
        return target.as_uri()

    async def delete_folder(self, folder: str) -> int:
        """Remove ``<folder>/`` and every file under it; how many files were removed."""
        target = self.path_of(folder)
        return await asyncio.to_thread(self._remove_tree, folder, target)

    async def aclose(self) -> None:
        return None

    def _remove_tree(self, folder: str, target: Path) -> int:
        if target.is_symlink() or not target.is_dir():
            return 0
        removed = 0
        try:
            # Bottom-up, links never followed: a link is removed, not what it points to.
            # Something already gone (another attempt at the same time) is skipped.
            for parent, folders, files in os.walk(target, topdown=False, followlinks=False):
                for name in files:
                    removed += _unlink(os.path.join(parent, name))
                for name in folders:
                    path = os.path.join(parent, name)
                    if os.path.islink(path):
                        removed += _unlink(path)
                    else:
                        with contextlib.suppress(FileNotFoundError):
                            os.rmdir(path)
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(target)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            message = f"could not remove {folder} from the local folder {self.folder}: {reason}"
            if exc.errno in _LOCAL_ERRORS_THAT_STAY:
                raise StorageRejectedError(message) from exc
            raise StorageUnavailableError(message) from exc
        _fsync_folder(target.parent)
        return removed

    def _write(self, path: str, data: bytes) -> None:
        target = self.path_of(path)
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
            _fsync_folder(target.parent)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            message = f"could not write {path} in the local folder {self.folder}: {reason}"
            if exc.errno in _LOCAL_ERRORS_THAT_STAY:
                raise StorageRejectedError(message) from exc
            raise StorageUnavailableError(message) from exc


def _unlink(path: str) -> int:
    """1 when ``path`` was removed here, 0 when it was already gone."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return 1


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable. Best effort: some file systems refuse to fsync a folder.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def create_storage(settings: StorageSettings) -> Storage:
    """Supabase Storage when ``settings.backend`` is ``supabase``, else the local folder."""
    if settings.backend == "supabase":
        return SupabaseStorage(settings)
    return LocalStorage(settings.local_dir)
