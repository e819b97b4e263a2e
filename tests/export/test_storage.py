"""Export storage: SupabaseStorage through the real supabase-py client against a fake Storage
server on real sockets (tests/support/fake_storage.py), LocalStorage on disk, StorageSettings."""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import httpx
import pytest
from fake_storage import FakeStorage, RecordedRequest
from storage3.exceptions import StorageApiError
from supabase import AsyncClient, AsyncClientOptions

from worker.config import StorageSettings, storage_settings_from_env
from worker.errors import ConfigError, PermanentError, RetryableError
from worker.export.storage import (
    LocalStorage,
    Storage,
    StorageRejectedError,
    StorageUnavailableError,
    SupabaseStorage,
    check_object_path,
    create_storage,
    export_object_path,
)

T = TypeVar("T")

KEY = "service-key-3f9a7c1e5b2d4a68"
WRONG_KEY = "service-key-wrong-77c0e2a91d"
BUCKET = "health-exports"
USER = UUID("7b0d3c58-4a51-4f3e-9c2a-1e6f0a9d8b42")
EXPORT = UUID("c2e4f6a8-1b3d-4e5f-8a7b-9c0d1e2f3a4b")
PATH = f"{USER}/{EXPORT}.pdf"
# Every byte value, CR/LF runs and a line that looks like a multipart boundary: a part
# parser or a text decoder that mangles any of them fails the "intact" test.
PDF = b"%PDF-1.7\n" + bytes(range(256)) + b"\r\n\r\n--boundary\r\n\n\r" + b"%%EOF\n"
OTHER_PDF = b"%PDF-1.7\n% the second attempt\n%%EOF\n"

BAD_PATHS = [
    "",
    "/7b0d3c58/c2e4f6a8.pdf",
    "7b0d3c58//c2e4f6a8.pdf",
    "7b0d3c58/c2e4f6a8.pdf/",
    "../c2e4f6a8.pdf",
    "7b0d3c58/../../etc/passwd",
    "7b0d3c58/./c2e4f6a8.pdf",
    ".hidden.pdf",
    "7b0d3c58\\c2e4f6a8.pdf",
    "7b0d3c58/%2e%2e/c2e4f6a8.pdf",
    "7b0d3c58/name with spaces.pdf",
    "x" * 1025,
]


@pytest.fixture
def fake() -> Iterator[FakeStorage]:
    with FakeStorage(service_key=KEY) as server:
        yield server


def supabase_storage(
    url: str, *, key: str = KEY, bucket: str = BUCKET, timeout_seconds: float = 5.0
) -> SupabaseStorage:
    settings = StorageSettings(supabase_url=url, service_key=key, bucket=bucket)
    return SupabaseStorage(settings, timeout_seconds=timeout_seconds)


def run(storage: Storage, call: Callable[[Storage], Awaitable[T]]) -> T:
    """Run ``call`` in its own event loop, then close the storage."""

    async def scenario() -> T:
        try:
            return await call(storage)
        finally:
            await storage.aclose()

    return asyncio.run(scenario())


def upload(storage: Storage, path: str = PATH, data: bytes = PDF, *, times: int = 1) -> None:
    async def call(s: Storage) -> None:
        for _ in range(times):
            await s.upload(path, data)

    run(storage, call)


def sign(storage: Storage, path: str = PATH, expires_in: int = 3600) -> str:
    return run(storage, lambda s: s.signed_url(path, expires_in=expires_in))


def only_request(fake: FakeStorage) -> RecordedRequest:
    requests = fake.requests
    assert len(requests) == 1, requests
    return requests[0]


# -- Supabase Storage: what the client sends --------------------------------------------------------


def test_an_upload_posts_to_the_object_path_in_the_bucket(fake: FakeStorage) -> None:
    upload(supabase_storage(fake.url))
    request = only_request(fake)
    assert (request.method, request.path) == ("POST", f"/storage/v1/object/health-exports/{PATH}")


def test_an_upload_carries_the_service_key_as_apikey_and_bearer_token(fake: FakeStorage) -> None:
    upload(supabase_storage(fake.url))
    headers = only_request(fake).headers
    assert headers["apikey"] == KEY
    assert headers["authorization"] == f"Bearer {KEY}"


def test_an_upload_sends_the_file_part_as_application_pdf(fake: FakeStorage) -> None:
    upload(supabase_storage(fake.url))
    request = only_request(fake)
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert request.file_content_type == "application/pdf"
    assert request.file_name == f"{EXPORT}.pdf"


def test_an_upload_asks_for_upsert(fake: FakeStorage) -> None:
    upload(supabase_storage(fake.url))
    assert only_request(fake).headers["x-upsert"] == "true"


def test_the_uploaded_bytes_arrive_intact(fake: FakeStorage) -> None:
    upload(supabase_storage(fake.url))
    stored = fake.object(BUCKET, PATH)
    assert stored is not None
    assert stored.data == PDF
    assert stored.content_type == "application/pdf"


def test_uploading_the_same_path_again_replaces_the_object(fake: FakeStorage) -> None:
    upload(supabase_storage(fake.url))
    upload(supabase_storage(fake.url), data=OTHER_PDF)  # a retried job, in a new process
    stored = fake.object(BUCKET, PATH)
    assert stored is not None
    assert (stored.data, stored.version) == (OTHER_PDF, 2)


def test_without_upsert_the_fake_refuses_a_second_upload_as_supabase_does(fake: FakeStorage) -> None:
    # The guard for the test above: upsert is what makes the second upload succeed.
    async def twice() -> None:
        async with httpx.AsyncClient() as http:
            bucket = AsyncClient(fake.url, KEY, AsyncClientOptions(httpx_client=http)).storage.from_(BUCKET)
            for _ in range(2):
                await bucket.upload(PATH, PDF, {"content-type": "application/pdf"})

    with pytest.raises(StorageApiError) as caught:
        asyncio.run(twice())
    assert (str(caught.value.status), caught.value.code) == ("409", "Duplicate")


def test_a_signed_url_is_requested_for_3600_seconds_by_default(fake: FakeStorage) -> None:
    fake.put(BUCKET, PATH, PDF)
    run(supabase_storage(fake.url), lambda s: s.signed_url(PATH))
    request = only_request(fake)
    assert (request.method, request.path) == ("POST", f"/storage/v1/object/sign/health-exports/{PATH}")
    # storage3 sends the number as a string ("3600"); Storage's schema coerces it.
    assert set(request.json) == {"expiresIn"}
    assert int(request.json["expiresIn"]) == 3600


def test_a_signed_url_is_a_full_url_under_the_project_address(fake: FakeStorage) -> None:
    fake.put(BUCKET, PATH, PDF)
    url = sign(supabase_storage(fake.url))
    assert url.startswith(f"{fake.url}/storage/v1/object/sign/health-exports/{PATH}?token=")


def test_a_signed_url_downloads_the_pdf_without_a_key(fake: FakeStorage) -> None:
    fake.put(BUCKET, PATH, PDF)
    response = httpx.get(sign(supabase_storage(fake.url)))
    assert (response.status_code, response.content) == (200, PDF)


# -- Supabase Storage: refusals are permanent ------------------------------------------------------


@pytest.mark.parametrize("status_in_body", [True, False], ids=["400-with-statusCode", "real-status"])
def test_a_wrong_key_is_rejected_naming_the_setting(status_in_body: bool) -> None:
    with (
        FakeStorage(service_key=KEY, status_in_body=status_in_body) as fake,
        pytest.raises(StorageRejectedError) as caught,
    ):
        upload(supabase_storage(fake.url, key=WRONG_KEY))
    assert isinstance(caught.value, PermanentError)
    assert str(caught.value) == (
        "Supabase Storage refused the upload (403): invalid signature; check SUPABASE_SERVICE_ROLE_KEY"
    )


def test_a_rejection_does_not_contain_the_key(fake: FakeStorage) -> None:
    with pytest.raises(StorageRejectedError) as caught:
        upload(supabase_storage(fake.url, key=WRONG_KEY))
    assert WRONG_KEY not in str(caught.value)
    assert WRONG_KEY not in repr(caught.value)


def test_an_unknown_bucket_is_rejected(fake: FakeStorage) -> None:
    with pytest.raises(StorageRejectedError) as caught:
        upload(supabase_storage(fake.url, bucket="no-such-bucket"))
    message = str(caught.value)
    assert message.startswith("Supabase Storage refused the upload (404): Bucket not found")
    assert "no-such-bucket" in message


def test_a_file_over_the_bucket_size_limit_is_rejected() -> None:
    with (
        FakeStorage(service_key=KEY, file_size_limit=64) as fake,
        pytest.raises(StorageRejectedError) as caught,
    ):
        upload(supabase_storage(fake.url))
    assert "(413)" in str(caught.value)


def test_signing_a_missing_object_is_rejected(fake: FakeStorage) -> None:
    with pytest.raises(StorageRejectedError) as caught:
        sign(supabase_storage(fake.url))
    assert str(caught.value) == "Supabase Storage refused to sign a URL (404): Object not found"


@pytest.mark.parametrize(
    ("status", "retryable", "hint"),
    [
        (301, False, "SUPABASE_URL redirects elsewhere"),
        (307, False, "SUPABASE_URL redirects elsewhere"),
        (401, False, "check SUPABASE_SERVICE_ROLE_KEY"),
        (413, False, "larger than the bucket's file size limit"),
        (415, False, "allowed MIME types"),
        (418, False, None),
        (408, True, None),
        (409, True, None),
        (425, True, None),
        (429, True, None),
        (500, True, None),
        (502, True, None),
        (504, True, None),
    ],
)
def test_every_status_is_a_refusal_or_an_outage_named_by_its_status_not_the_body(
    fake: FakeStorage, status: int, retryable: bool, hint: str | None
) -> None:
    # The body is a gateway's plain text, not Storage's JSON: the status and its reason
    # phrase are all the message may say, with a hint where the setting to check is known.
    fake.fail_next(1, status)
    expected = StorageUnavailableError if retryable else StorageRejectedError
    with pytest.raises(expected) as caught:
        upload(supabase_storage(fake.url))
    message = str(caught.value)
    assert f"({status})" in message
    assert "upstream says" not in message
    if hint is not None:
        assert hint in message
    else:
        assert "; " not in message
    assert isinstance(caught.value, RetryableError if retryable else PermanentError)


# -- Supabase Storage: outages are retryable ------------------------------------------------------


def test_storage_answering_503_is_retryable(fake: FakeStorage) -> None:
    fake.fail_next(1, 503)
    with pytest.raises(StorageUnavailableError) as caught:
        upload(supabase_storage(fake.url))
    assert isinstance(caught.value, RetryableError)
    assert str(caught.value) == "Supabase Storage failed the upload (503): Service Unavailable"


def test_rate_limiting_is_retryable_after_the_servers_delay(fake: FakeStorage) -> None:
    fake.fail_next(1, 429, retry_after=7)
    with pytest.raises(StorageUnavailableError) as caught:
        upload(supabase_storage(fake.url))
    assert caught.value.retry_after == 7.0


def test_signing_during_an_outage_is_retryable(fake: FakeStorage) -> None:
    fake.put(BUCKET, PATH, PDF)
    fake.fail_next(1, 502)
    with pytest.raises(StorageUnavailableError):
        sign(supabase_storage(fake.url))


def test_an_upload_after_an_outage_succeeds_with_the_same_storage(fake: FakeStorage) -> None:
    fake.fail_next(1, 503)

    async def attempt_twice(storage: Storage) -> None:
        with pytest.raises(StorageUnavailableError):
            await storage.upload(PATH, PDF)
        await storage.upload(PATH, PDF)

    run(supabase_storage(fake.url), attempt_twice)
    assert fake.object(BUCKET, PATH) is not None


def test_a_refused_connection_is_retryable() -> None:
    with FakeStorage(service_key=KEY) as stopped:
        url = stopped.url
    with pytest.raises(StorageUnavailableError) as caught:
        upload(supabase_storage(url))
    assert str(caught.value).startswith("Supabase Storage could not be reached (upload): ConnectError")


def test_a_timeout_is_retryable() -> None:
    with FakeStorage(service_key=KEY, latency=3.0) as slow, pytest.raises(StorageUnavailableError) as caught:
        upload(supabase_storage(slow.url, timeout_seconds=0.3))
    assert str(caught.value).startswith("Supabase Storage did not answer in time (upload")


# -- Supabase Storage: paths, inputs, description ---------------------------------------------------


def test_a_bad_path_is_refused_before_any_request(fake: FakeStorage) -> None:
    with pytest.raises(ValueError, match=r"'\.' or '\.\.'"):
        upload(supabase_storage(fake.url), path=f"{USER}/../{EXPORT}.pdf")
    assert fake.requests == []


def test_an_empty_file_is_refused(fake: FakeStorage) -> None:
    with pytest.raises(ValueError, match="empty file"):
        upload(supabase_storage(fake.url), data=b"")
    assert fake.requests == []


def test_a_file_name_is_not_accepted_as_data(fake: FakeStorage) -> None:
    # storage3 would open a str as a file name and upload that file.
    with pytest.raises(TypeError):
        run(supabase_storage(fake.url), lambda s: s.upload(PATH, "/etc/hostname"))  # type: ignore[arg-type]
    assert fake.requests == []


def test_supabase_storage_describes_its_bucket_without_the_key(fake: FakeStorage) -> None:
    storage = supabase_storage(fake.url)
    assert storage.describe() == f"Supabase Storage bucket health-exports at {fake.url}"
    assert KEY not in repr(storage)


@pytest.mark.parametrize("path", BAD_PATHS)
def test_check_object_path_refuses_unsafe_paths(path: str) -> None:
    with pytest.raises(ValueError, match="object path"):
        check_object_path(path)


def test_an_export_lives_in_its_owners_folder() -> None:
    assert export_object_path(USER, EXPORT) == PATH
    assert check_object_path(PATH) == PATH


# -- LocalStorage -----------------------------------------------------------------------------------


def test_local_upload_writes_the_file_under_the_folder(tmp_path: Path) -> None:
    upload(LocalStorage(tmp_path))
    assert (tmp_path / str(USER) / f"{EXPORT}.pdf").read_bytes() == PDF


def test_local_upload_replaces_an_earlier_file(tmp_path: Path) -> None:
    upload(LocalStorage(tmp_path))
    upload(LocalStorage(tmp_path), data=OTHER_PDF)
    assert (tmp_path / PATH).read_bytes() == OTHER_PDF


def test_local_upload_renames_a_complete_file_from_the_same_folder_over_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(LocalStorage(tmp_path))
    target = tmp_path / PATH
    seen: list[tuple[Path, bytes, bytes]] = []
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        seen.append((Path(src), Path(src).read_bytes(), target.read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    upload(LocalStorage(tmp_path), data=OTHER_PDF)
    [(source, new_bytes, old_bytes_meanwhile)] = seen
    assert source.parent == target.parent
    assert (new_bytes, old_bytes_meanwhile) == (OTHER_PDF, PDF)


def test_a_failed_local_write_leaves_the_earlier_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(LocalStorage(tmp_path))

    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StorageUnavailableError):
        upload(LocalStorage(tmp_path), data=OTHER_PDF)
    assert (tmp_path / PATH).read_bytes() == PDF
    assert sorted(p.name for p in (tmp_path / str(USER)).iterdir()) == [f"{EXPORT}.pdf"]


def test_a_full_disk_is_retryable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StorageUnavailableError) as caught:
        upload(LocalStorage(tmp_path))
    assert isinstance(caught.value, RetryableError)
    assert "No space left on device" in str(caught.value)


def test_a_local_folder_that_is_a_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "exports").write_bytes(b"not a folder")
    with pytest.raises(StorageRejectedError):
        upload(LocalStorage(tmp_path / "exports"))


def test_local_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    upload(LocalStorage(tmp_path))
    assert stat.S_IMODE((tmp_path / PATH).stat().st_mode) == 0o600


def test_a_local_signed_url_is_the_files_file_url(tmp_path: Path) -> None:
    upload(LocalStorage(tmp_path))
    url = sign(LocalStorage(tmp_path))
    assert url == (tmp_path / PATH).resolve().as_uri()
    assert url.startswith("file:///")


def test_a_local_signed_url_of_a_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(StorageRejectedError):
        sign(LocalStorage(tmp_path))


def test_local_storage_refuses_a_path_that_leaves_its_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        upload(LocalStorage(tmp_path / "exports"), path="../escaped.pdf")
    assert list(tmp_path.iterdir()) == []


def test_local_storage_describes_its_absolute_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert LocalStorage(Path("exports")).describe() == f"local folder {tmp_path.resolve() / 'exports'}"


# -- create_storage and StorageSettings ----------------------------------------------------------


def test_create_storage_uses_supabase_when_url_and_key_are_set() -> None:
    settings = StorageSettings(supabase_url="https://example.supabase.co", service_key=KEY)
    assert isinstance(create_storage(settings), SupabaseStorage)


def test_create_storage_uses_the_local_folder_otherwise(tmp_path: Path) -> None:
    storage = create_storage(StorageSettings(local_dir=tmp_path))
    assert isinstance(storage, LocalStorage)
    assert storage.folder == tmp_path.resolve()


def test_the_backend_is_supabase_with_url_and_key_and_local_with_neither() -> None:
    assert StorageSettings(supabase_url="https://example.supabase.co", service_key=KEY).backend == "supabase"
    assert StorageSettings().backend == "local"


def test_a_url_without_a_key_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="SUPABASE_SERVICE_ROLE_KEY is missing"):
        storage_settings_from_env({"SUPABASE_URL": "https://example.supabase.co"})


def test_a_key_without_a_url_is_a_config_error_naming_the_url_and_not_the_key() -> None:
    with pytest.raises(ConfigError, match="SUPABASE_URL is missing") as caught:
        storage_settings_from_env({"SUPABASE_SERVICE_ROLE_KEY": KEY})
    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.supabase.co", "example.supabase.co", "https://", "https://admin:hunter2@example.co"],
)
def test_a_url_that_is_not_http_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StorageSettings(supabase_url=url, service_key=KEY)
    message = str(caught.value)
    assert message.startswith("SUPABASE_URL must be an http(s) URL")
    assert "hunter2" not in message
    assert "\n" not in message


def test_a_key_with_spaces_is_a_config_error_that_does_not_echo_it() -> None:
    with pytest.raises(ConfigError) as caught:
        StorageSettings(supabase_url="https://example.supabase.co", service_key=f"{KEY} trailing")
    assert KEY not in str(caught.value)


@pytest.mark.parametrize("bucket", ["Health-Exports", "ab", "health_exports", "x" * 64, "health exports"])
def test_a_bad_bucket_name_is_a_config_error(bucket: str) -> None:
    with pytest.raises(ConfigError, match="PROXIMA_EXPORT_BUCKET"):
        StorageSettings(bucket=bucket)


def test_the_service_key_falls_back_to_supabase_service_key() -> None:
    env = {"SUPABASE_URL": "https://example.supabase.co/", "SUPABASE_SERVICE_KEY": KEY}
    settings = storage_settings_from_env(env)
    assert (settings.supabase_url, settings.service_key) == ("https://example.supabase.co", KEY)


def test_supabase_service_role_key_wins_over_the_fallback() -> None:
    env = {
        "SUPABASE_URL": "https://example.supabase.co",
        "SUPABASE_SERVICE_ROLE_KEY": KEY,
        "SUPABASE_SERVICE_KEY": WRONG_KEY,
    }
    assert storage_settings_from_env(env).service_key == KEY


def test_the_defaults_are_the_health_exports_bucket_and_an_exports_folder() -> None:
    settings = storage_settings_from_env({})
    assert (settings.backend, settings.bucket, settings.local_dir) == ("local", BUCKET, Path("exports"))


def test_the_export_folder_and_bucket_come_from_the_environment(tmp_path: Path) -> None:
    env = {"PROXIMA_EXPORT_DIR": str(tmp_path), "PROXIMA_EXPORT_BUCKET": "weekly-pdfs"}
    settings = storage_settings_from_env(env)
    assert (settings.local_dir, settings.bucket) == (tmp_path, "weekly-pdfs")


def test_the_settings_repr_hides_the_key() -> None:
    settings = StorageSettings(supabase_url="https://example.supabase.co", service_key=KEY)
    assert KEY not in repr(settings)
    assert "example.supabase.co" in repr(settings)
