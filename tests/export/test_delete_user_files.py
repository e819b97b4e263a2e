"""A deleted person's files leave Storage: the trigger on auth.users, the delete_user_files
job, and ``Storage.delete_folder`` on the fake Supabase Storage server and on a local folder."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from db_support import rows
from fake_storage import FakeStorage
from psycopg.types.json import Jsonb
from supabase import AsyncClient, AsyncClientOptions

from worker.config import StorageSettings
from worker.export.storage import (
    LocalStorage,
    Storage,
    StorageRejectedError,
    StorageUnavailableError,
    SupabaseStorage,
    create_storage,
    export_object_path,
)
from worker.handlers import default_registry
from worker.handlers.deletion import make_delete_user_files_handler
from worker.queue.registry import Registry
from worker.queue.retry import RetryPolicy
from worker.runtime.oneshot import run_until

KEY = "service-key-for-deletion-tests"
BUCKET = "health-exports"
PDF = b"%PDF-1.7\n%%EOF\n"


@pytest.fixture
def fake() -> Iterator[FakeStorage]:
    with FakeStorage(service_key=KEY) as server:
        yield server


def supabase_storage(fake: FakeStorage, *, key: str = KEY, bucket: str = BUCKET) -> SupabaseStorage:
    return SupabaseStorage(
        StorageSettings(supabase_url=fake.url, service_key=key, bucket=bucket), timeout_seconds=5
    )


def delete_folder(storage: Storage, folder: str) -> int:
    async def scenario() -> int:
        try:
            return await storage.delete_folder(folder)
        finally:
            await storage.aclose()

    return asyncio.run(scenario())


def exports_of(user: uuid.UUID, count: int) -> list[str]:
    return [export_object_path(user, uuid.uuid4()) for _ in range(count)]


# -- Storage.delete_folder on Supabase Storage ----------------------------------------------------


def test_every_object_in_the_folder_is_removed_page_by_page_and_nothing_else(fake: FakeStorage) -> None:
    person, other = uuid.uuid4(), uuid.uuid4()
    theirs = exports_of(person, 250)
    kept = [*exports_of(other, 3), f"{person}-archive/kept.pdf", f"{str(person)[:8]}/kept.pdf"]
    for path in theirs + kept:
        fake.put(BUCKET, path, PDF)

    assert delete_folder(supabase_storage(fake), str(person)) == 250

    assert {path for (_, path) in fake.objects} == set(kept)
    lists = [r for r in fake.requests if r.method == "POST" and r.path == f"/storage/v1/object/list/{BUCKET}"]
    removals = [r for r in fake.requests if r.method == "DELETE"]
    assert [len(r.json["prefixes"]) for r in removals] == [100, 100, 50]
    assert len(lists) == 4, "three pages and the empty listing that ends"
    assert all(r.json["prefix"] == str(person) for r in lists)
    assert all((r.json["limit"], r.json["offset"]) == (100, 0) for r in lists)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in fake.requests)


def test_objects_in_sub_folders_are_removed_too(fake: FakeStorage) -> None:
    person = uuid.uuid4()
    paths = [f"{person}/a.pdf", f"{person}/old/b.pdf", f"{person}/old/older/c.pdf", f"{person}/z/d.pdf"]
    for path in paths:
        fake.put(BUCKET, path, PDF)

    assert delete_folder(supabase_storage(fake), str(person)) == 4
    assert fake.objects == {}


def test_an_empty_or_missing_folder_is_zero_after_one_listing(fake: FakeStorage) -> None:
    assert delete_folder(supabase_storage(fake), str(uuid.uuid4())) == 0
    assert [(r.method, r.path) for r in fake.requests] == [("POST", f"/storage/v1/object/list/{BUCKET}")]


def test_the_fake_lists_a_folder_as_supabase_does(fake: FakeStorage) -> None:
    person = uuid.uuid4()
    fake.put(BUCKET, f"{person}/b.pdf", PDF)
    fake.put(BUCKET, f"{person}/a/c.pdf", PDF)

    async def listing() -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            client = AsyncClient(fake.url, KEY, AsyncClientOptions(httpx_client=http))
            return await client.storage.from_(BUCKET).list(str(person))

    [folder, file] = asyncio.run(listing())
    assert folder == {
        "name": "a",
        "id": None,
        "updated_at": None,
        "created_at": None,
        "last_accessed_at": None,
        "metadata": None,
    }
    assert file["name"] == "b.pdf"
    assert uuid.UUID(file["id"])
    assert file["metadata"]["size"] == len(PDF)
    assert file["metadata"]["mimetype"] == "application/pdf"


def test_storage_down_is_retryable(fake: FakeStorage) -> None:
    fake.put(BUCKET, f"{uuid.uuid4()}/a.pdf", PDF)
    fake.fail_next(1, status=503)
    with pytest.raises(StorageUnavailableError, match=r"listing.*503"):
        delete_folder(supabase_storage(fake), str(uuid.uuid4()))


def test_a_wrong_key_is_a_permanent_refusal_that_names_the_setting(fake: FakeStorage) -> None:
    with pytest.raises(StorageRejectedError, match="SUPABASE_SERVICE_ROLE_KEY") as caught:
        delete_folder(supabase_storage(fake, key="a-wrong-key"), str(uuid.uuid4()))
    assert "a-wrong-key" not in str(caught.value)


def test_a_missing_bucket_is_a_permanent_refusal(fake: FakeStorage) -> None:
    with pytest.raises(StorageRejectedError, match="bucket elsewhere exists"):
        delete_folder(supabase_storage(fake, bucket="elsewhere"), str(uuid.uuid4()))


@pytest.mark.parametrize("folder", ["", "../x", "a/../b", "/abs", "a//b", "a/"])
def test_a_bad_folder_is_refused_before_anything_is_sent(fake: FakeStorage, folder: str) -> None:
    with pytest.raises(ValueError, match="object path"):
        delete_folder(supabase_storage(fake), folder)
    assert fake.requests == []


# -- Storage.delete_folder on a local folder ------------------------------------------------------


def test_a_local_folder_is_removed_with_its_files_and_nothing_else(tmp_path: Path) -> None:
    store = tmp_path / "store"
    person, other = uuid.uuid4(), uuid.uuid4()
    storage = LocalStorage(store)

    async def fill() -> None:
        for path in [
            *exports_of(person, 3),
            f"{person}/old/a.pdf",
            *exports_of(other, 2),
            f"{person}-x/b.pdf",
        ]:
            await storage.upload(path, PDF)

    asyncio.run(fill())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.pdf").write_bytes(PDF)
    os.symlink(outside, store / str(person) / "link")

    assert delete_folder(LocalStorage(store), str(person)) == 5  # four files and the link

    assert not (store / str(person)).exists()
    assert len(list((store / str(other)).iterdir())) == 2
    assert (store / f"{person}-x" / "b.pdf").exists()
    assert (outside / "precious.pdf").read_bytes() == PDF, "a link is removed, not followed"


def test_a_missing_local_folder_is_zero(tmp_path: Path) -> None:
    assert delete_folder(LocalStorage(tmp_path), str(uuid.uuid4())) == 0


def test_a_local_folder_that_cannot_be_emptied_is_a_permanent_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = uuid.uuid4()
    folder = tmp_path / str(person)
    folder.mkdir()
    (folder / "a.pdf").write_bytes(PDF)

    def refuse(path: Any, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "unlink", refuse)  # as root, a read-only folder would not stop it
    with pytest.raises(StorageRejectedError, match=r"could not remove .* Permission denied"):
        delete_folder(LocalStorage(tmp_path), str(person))
    monkeypatch.undo()
    assert (folder / "a.pdf").exists()


def test_a_local_folder_on_a_failing_disk_is_retryable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = uuid.uuid4()
    (tmp_path / str(person)).mkdir()
    (tmp_path / str(person) / "a.pdf").write_bytes(PDF)

    def fail(path: Any, *args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(os, "unlink", fail)
    with pytest.raises(StorageUnavailableError, match="Input/output error"):
        delete_folder(LocalStorage(tmp_path), str(person))


# -- the trigger on auth.users ----------------------------------------------------------------------


def _person(conn: psycopg.Connection[Any]) -> uuid.UUID:
    person = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (person,))
    return person


DELETION_JOBS = (
    "select user_id, payload, dedupe_key, priority, max_attempts, status, run_at - created_at"
    " from public.jobs where kind = 'delete_user_files'"
)


def test_deleting_a_person_enqueues_one_deletion_job_that_survives_the_cascade(
    conn: psycopg.Connection[Any],
) -> None:
    person = _person(conn)
    other = _person(conn)
    for owner in (person, other):
        conn.execute("insert into public.jobs (kind, user_id) values ('weekly_analysis', %s)", (owner,))

    conn.execute("delete from auth.users where id = %s", (person,))

    assert conn.execute(DELETION_JOBS).fetchall() == [
        (
            None,
            {"user_id": str(person)},
            f"delete_user_files:{person}",
            -10,
            10,
            "queued",
            dt.timedelta(minutes=10),
        )
    ]
    assert conn.execute("select user_id from public.jobs where kind = 'weekly_analysis'").fetchall() == [
        (other,)
    ], "the person's own jobs went with them"


def test_deleting_many_people_at_once_enqueues_one_job_each(conn: psycopg.Connection[Any]) -> None:
    people = [_person(conn) for _ in range(3)]
    conn.execute("delete from auth.users where id = any(%s)", (people,))
    payloads = [r[1]["user_id"] for r in conn.execute(DELETION_JOBS).fetchall()]
    assert sorted(payloads) == sorted(str(p) for p in people)


def test_a_deletion_rolled_back_enqueues_nothing(conn: psycopg.Connection[Any]) -> None:
    person = _person(conn)
    with pytest.raises(RuntimeError), conn.transaction():
        conn.execute("delete from auth.users where id = %s", (person,))
        raise RuntimeError("changed my mind")
    assert conn.execute(DELETION_JOBS).fetchall() == []


def test_a_deletion_already_queued_is_not_enqueued_twice(conn: psycopg.Connection[Any]) -> None:
    person = _person(conn)
    conn.execute("delete from auth.users where id = %s", (person,))
    conn.execute("insert into auth.users (id) values (%s)", (person,))
    conn.execute("delete from auth.users where id = %s", (person,))
    assert len(conn.execute(DELETION_JOBS).fetchall()) == 1


def test_nobody_can_call_the_trigger_function(conn: psycopg.Connection[Any]) -> None:
    granted = conn.execute(
        "select r from unnest(array['anon', 'authenticated', 'service_role']) r"
        " where has_function_privilege(r, 'public.enqueue_user_files_deletion()', 'execute')"
    ).fetchall()
    assert granted == []


# -- the job, through the real worker ----------------------------------------------------------------


def _delete_person(url: str, person: uuid.UUID) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from auth.users where id = %s", (person,))
        conn.execute("update public.jobs set run_at = now() where kind = 'delete_user_files'")


def _new_people(url: str, count: int) -> list[uuid.UUID]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [_person(conn) for _ in range(count)]


def _run_jobs(url: str, registry: Registry) -> None:
    def finished() -> bool:
        return bool(rows(url, "select count(*) from jobs where status in ('queued', 'running')")[0][0] == 0)

    assert run_until(url, registry, finished, kinds=("delete_user_files",), timeout=60)


def _fast_registry(storage: Storage) -> Registry:
    registry = Registry()
    registry.on_close(storage.aclose)
    registry.register(
        "delete_user_files",
        make_delete_user_files_handler(storage),
        retry=RetryPolicy(max_attempts=10, base_seconds=0.1, cap_seconds=0.3),
    )
    return registry


def _job(url: str) -> tuple[Any, ...]:
    [job] = rows(url, "select status, attempts, last_error from jobs where kind = 'delete_user_files'")
    return job


def test_the_worker_removes_the_deleted_persons_objects_and_no_one_elses(
    db_url: str, fake: FakeStorage
) -> None:
    person, other = _new_people(db_url, 2)
    theirs, kept = exports_of(person, 3), exports_of(other, 2)
    for path in theirs + kept:
        fake.put(BUCKET, path, PDF)

    _delete_person(db_url, person)
    settings = StorageSettings(supabase_url=fake.url, service_key=KEY)
    _run_jobs(db_url, default_registry(storage_settings=settings))

    assert _job(db_url) == ("succeeded", 1, None)
    assert {path for (_, path) in fake.objects} == set(kept)


def test_the_worker_removes_the_deleted_persons_local_folder(db_url: str, tmp_path: Path) -> None:
    person, other = _new_people(db_url, 2)
    settings = StorageSettings(local_dir=tmp_path)
    storage = create_storage(settings)
    assert isinstance(storage, LocalStorage)

    async def fill() -> None:
        for path in exports_of(person, 2) + exports_of(other, 1):
            await storage.upload(path, PDF)

    asyncio.run(fill())

    _delete_person(db_url, person)
    _run_jobs(db_url, default_registry(storage_settings=settings))

    assert _job(db_url) == ("succeeded", 1, None)
    assert not (tmp_path / str(person)).exists()
    assert len(list((tmp_path / str(other)).iterdir())) == 1


def test_a_person_with_no_files_is_a_success(db_url: str, fake: FakeStorage) -> None:
    [person] = _new_people(db_url, 1)
    _delete_person(db_url, person)
    _run_jobs(db_url, _fast_registry(supabase_storage(fake)))
    assert _job(db_url) == ("succeeded", 1, None)


def test_storage_down_is_retried_until_the_files_are_gone(db_url: str, fake: FakeStorage) -> None:
    [person] = _new_people(db_url, 1)
    for path in exports_of(person, 2):
        fake.put(BUCKET, path, PDF)
    _delete_person(db_url, person)
    fake.fail_next(2, status=503)

    _run_jobs(db_url, _fast_registry(supabase_storage(fake)))

    assert _job(db_url) == ("succeeded", 3, None)
    assert fake.objects == {}


def test_a_person_who_still_exists_keeps_their_files(db_url: str, fake: FakeStorage) -> None:
    [person] = _new_people(db_url, 1)
    path = export_object_path(person, uuid.uuid4())
    fake.put(BUCKET, path, PDF)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.jobs (kind, payload) values ('delete_user_files', %s)",
            (Jsonb({"user_id": str(person)}),),
        )

    _run_jobs(db_url, _fast_registry(supabase_storage(fake)))

    status, attempts, error = _job(db_url)
    assert (status, attempts) == ("failed", 1)
    assert "still exists" in error
    assert fake.object(BUCKET, path) is not None
    assert fake.requests == []


@pytest.mark.parametrize(
    "payload", [{}, {"user_id": "not-a-uuid"}, {"user_id": str(uuid.uuid4()), "folder": "x"}]
)
def test_a_malformed_payload_fails_at_once_and_removes_nothing(
    db_url: str, fake: FakeStorage, payload: dict[str, Any]
) -> None:
    fake.put(BUCKET, f"{uuid.uuid4()}/a.pdf", PDF)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into public.jobs (kind, payload) values ('delete_user_files', %s)",
            (Jsonb(payload),),
        )

    _run_jobs(db_url, _fast_registry(supabase_storage(fake)))

    assert _job(db_url)[:2] == ("failed", 1)
    assert len(fake.objects) == 1
