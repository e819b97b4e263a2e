"""The export_pdf job end to end: request as the person, render, store, mark ready."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
import pypdf
import pytest
from db_support import rows
from fake_storage import FakeStorage
from pipeline_support import due_week, run_person_week
from reportlab.platypus.doctemplate import LayoutError

import worker.export.pdf as pdf_module
from worker.config import AISettings, StorageSettings
from worker.demo.seed import MAYA, seed_demo
from worker.errors import ProximaError
from worker.export.document import get_export, load_document
from worker.export.storage import LocalStorage, SupabaseStorage, create_storage
from worker.exporting import request_export, run_export
from worker.handlers.export import make_export_handler
from worker.queue.registry import Registry
from worker.queue.retry import RetryPolicy
from worker.report import ExportDocument, short_date
from worker.runtime.oneshot import run_until

PROJECT = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.UTC)
KEY = "service-role-key-for-tests"


@pytest.fixture
def maya_db(db_url: str) -> str:
    seed_demo(db_url, now=NOW)
    run_person_week(db_url, MAYA.id, due_week(MAYA.timezone, NOW), now=NOW)
    return db_url


@pytest.fixture
def export_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="proxima-exports-") as folder:
        yield Path(folder)


def _stories(url: str, user: UUID) -> list[UUID]:
    return [
        r[0]
        for r in rows(
            url, "select id from health_stories where user_id = %s order by generated_date", (user,)
        )
    ]


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())


def test_an_export_renders_every_chosen_story_and_is_stored_in_the_persons_folder(
    maya_db: str, export_dir: Path
) -> None:
    stories = _stories(maya_db, MAYA.id)
    export_id = request_export(maya_db, MAYA.id, stories, include_analysis=True, include_notes=True)
    storage = StorageSettings(local_dir=export_dir)
    result = run_export(maya_db, export_id, AISettings(), storage)
    assert result.storage_path == f"{MAYA.id}/{export_id}.pdf"
    pdf = (export_dir / result.storage_path).read_bytes()
    assert len(pdf) == result.size
    text = _text(pdf)
    for (title,) in rows(maya_db, "select title from health_stories where user_id = %s", (MAYA.id,)):
        assert title in text
    assert "Knee pain went quiet" in text
    assert "Slept badly before the Thursday deadline." in text
    week = due_week(MAYA.timezone, NOW)
    first, last = week - dt.timedelta(days=7), week - dt.timedelta(days=1)
    covers = f"This report covers {short_date(first)} to {short_date(last)} ({MAYA.timezone})."
    assert covers in text, "the week's period is printed"
    row = rows(
        maya_db,
        "select status, storage_path, file_size_bytes, error from export_history where id = %s",
        (export_id,),
    )
    assert row == [("ready", result.storage_path, len(pdf), None)]
    assert rows(maya_db, "select status from jobs where kind = 'export_pdf'") == [("succeeded",)]


def test_notes_and_analysis_are_left_out_when_asked(maya_db: str, export_dir: Path) -> None:
    export_id = request_export(maya_db, MAYA.id, None, include_analysis=False, include_notes=False)
    result = run_export(maya_db, export_id, AISettings(), StorageSettings(local_dir=export_dir))
    text = _text((export_dir / result.storage_path).read_bytes())
    assert "Slept badly" not in text
    assert "Key insights" not in text


def test_someone_elses_story_is_refused_and_nothing_is_written(maya_db: str) -> None:
    jonas_story = rows(maya_db, "select id from health_stories where user_id <> %s limit 1", (MAYA.id,))[0][0]
    with pytest.raises(ProximaError, match="is not one of your stories"):
        request_export(maya_db, MAYA.id, [jonas_story], include_analysis=True, include_notes=True)
    assert rows(maya_db, "select count(*) from export_history") == [(0,)]
    assert rows(maya_db, "select count(*) from jobs where kind = 'export_pdf'") == [(0,)]


def _fast_registry(storage_settings: StorageSettings) -> Registry:
    registry = Registry()
    storage = create_storage(storage_settings)
    registry.on_close(storage.aclose)
    registry.register(
        "export_pdf",
        make_export_handler(storage),
        retry=RetryPolicy(max_attempts=3, base_seconds=0.1, cap_seconds=0.3),
    )
    return registry


def _run_jobs(url: str, registry: Registry) -> None:
    def finished() -> bool:
        return bool(rows(url, "select count(*) from jobs where status in ('queued', 'running')")[0][0] == 0)

    assert run_until(url, registry, finished, timeout=60)


def test_a_story_deleted_before_rendering_fails_the_export_with_a_clear_error(
    maya_db: str, export_dir: Path
) -> None:
    stories = _stories(maya_db, MAYA.id)
    export_id = request_export(maya_db, MAYA.id, stories, include_analysis=True, include_notes=True)
    with psycopg.connect(maya_db, autocommit=True) as conn:
        conn.execute("delete from health_stories where id = %s", (stories[0],))
    _run_jobs(maya_db, _fast_registry(StorageSettings(local_dir=export_dir)))
    [(status, error, path)] = rows(
        maya_db, "select status, error, storage_path from export_history where id = %s", (export_id,)
    )
    assert status == "failed"
    assert "1 of the chosen stories no longer exist" in error
    assert path is None
    assert list(export_dir.rglob("*.pdf")) == [], "nothing half-written"
    assert rows(maya_db, "select status, attempts from jobs where kind = 'export_pdf'") == [("failed", 1)]


def test_the_supabase_storage_receives_the_pdf_at_the_persons_path(maya_db: str) -> None:
    with FakeStorage(service_key=KEY) as fake:
        settings = StorageSettings(supabase_url=fake.url, service_key=KEY)
        assert isinstance(create_storage(settings), SupabaseStorage)
        export_id = request_export(maya_db, MAYA.id, None, include_analysis=True, include_notes=True)
        result = run_export(maya_db, export_id, AISettings(), settings)
        stored = fake.object("health-exports", f"{MAYA.id}/{export_id}.pdf")
        assert stored is not None
        assert stored.data.startswith(b"%PDF")
        assert len(stored.data) == result.size
        assert result.url.startswith(fake.url)


def test_storage_down_is_retried_then_fails_the_export_with_its_error(maya_db: str) -> None:
    with FakeStorage(service_key=KEY) as fake:
        settings = StorageSettings(supabase_url=fake.url, service_key=KEY)
        export_id = request_export(maya_db, MAYA.id, None, include_analysis=True, include_notes=True)
        with psycopg.connect(maya_db, autocommit=True) as conn:
            conn.execute("update jobs set max_attempts = 3 where kind = 'export_pdf'")
        fake.fail_next(100, status=503)
        _run_jobs(maya_db, _fast_registry(settings))
        uploads = [r for r in fake.requests if r.method == "POST" and "/object/health-exports/" in r.path]
    assert len(uploads) >= 3, "each attempt tried the upload"
    [(status, error)] = rows(maya_db, "select status, error from export_history where id = %s", (export_id,))
    assert status == "failed"
    assert "503" in error
    assert rows(maya_db, "select status, attempts from jobs where kind = 'export_pdf'") == [("failed", 3)]


def test_a_storage_that_comes_back_gets_the_file_on_a_retry(maya_db: str) -> None:
    with FakeStorage(service_key=KEY) as fake:
        settings = StorageSettings(supabase_url=fake.url, service_key=KEY)
        export_id = request_export(maya_db, MAYA.id, None, include_analysis=True, include_notes=True)
        fake.fail_next(1, status=503)
        _run_jobs(maya_db, _fast_registry(settings))
        assert fake.object("health-exports", f"{MAYA.id}/{export_id}.pdf") is not None
    assert rows(maya_db, "select status from export_history where id = %s", (export_id,)) == [("ready",)]
    assert rows(maya_db, "select attempts from jobs where kind = 'export_pdf'") == [(2,)]


def test_the_command_line_exports_to_a_file(maya_db: str, export_dir: Path) -> None:
    out = export_dir / "report.pdf"
    env = {**os.environ, "DATABASE_URL": maya_db, "PROXIMA_EXPORT_DIR": str(export_dir / "store")}
    env.pop("SUPABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "worker", "export", "--user", str(MAYA.id), "--out", str(out)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"saved to {out}" in result.stdout
    assert out.read_bytes().startswith(b"%PDF")
    assert isinstance(create_storage(StorageSettings(local_dir=export_dir / "store")), LocalStorage)
    bad = subprocess.run(
        [sys.executable, "-m", "worker", "export", "--user", "not-a-uuid", "--out", str(out)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "'not-a-uuid' is not a UUID" in bad.stderr


def test_a_render_that_fails_fails_the_export_at_once_and_says_nothing_of_the_content(
    maya_db: str, export_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(doc: ExportDocument) -> list[Any]:
        raise LayoutError(f"Flowable <Paragraph '{doc.stories[0].story_text[:40]}'> too large on page 3")

    monkeypatch.setattr(pdf_module, "build_story", broken)
    export_id = request_export(maya_db, MAYA.id, None, include_analysis=True, include_notes=True)
    with psycopg.connect(maya_db, autocommit=True) as conn:
        conn.execute("update jobs set max_attempts = 3 where kind = 'export_pdf'")
    _run_jobs(maya_db, _fast_registry(StorageSettings(local_dir=export_dir)))
    [(status, error)] = rows(maya_db, "select status, error from export_history where id = %s", (export_id,))
    assert status == "failed"
    assert "could not be rendered (LayoutError)" in error
    first_story = rows(maya_db, "select story_text from health_stories where user_id = %s", (MAYA.id,))[0][0]
    assert first_story[:20] not in error
    assert rows(maya_db, "select status, attempts from jobs where kind = 'export_pdf'") == [("failed", 1)], (
        "not retried: the same document fails the same way"
    )
    assert list(export_dir.rglob("*.pdf")) == []


def _load(url: str, export_id: UUID) -> ExportDocument:
    async def load() -> ExportDocument:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return await load_document(conn, await get_export(conn, export_id), now=NOW)

    return asyncio.run(load())


def test_the_document_covers_the_days_the_stories_tell_of(maya_db: str) -> None:
    export_id = request_export(maya_db, MAYA.id, None, include_analysis=True, include_notes=True)
    doc = _load(maya_db, export_id)
    today = NOW.astimezone(ZoneInfo(MAYA.timezone)).date()
    assert doc.time_zone == MAYA.timezone
    assert all(s.covers_start and s.covers_end and s.covers_end <= s.generated_date for s in doc.stories)
    assert doc.period_start == min(s.covers_start for s in doc.stories if s.covers_start)
    assert doc.period_end == max(s.covers_end for s in doc.stories if s.covers_end)
    assert doc.period_end <= today, "the period never ends after the report was made"
    assert all(week.weekday() == 0 for week in doc.chart_weeks)
    assert doc.chart_weeks[0] <= doc.period_start < doc.chart_weeks[0] + dt.timedelta(days=7)
    assert doc.chart_weeks[-1] <= doc.period_end < doc.chart_weeks[-1] + dt.timedelta(days=7)
    assert all(len(serie.counts) == len(doc.chart_weeks) for serie in doc.symptom_series)
    # The story the weekly run wrote tells of the days its week's report covered.
    by_week = {week.week_of: week for week in doc.weeks}
    written = [s for s in doc.stories if s.week_of in by_week and by_week[s.week_of].covers_start]
    assert written
    for story in written:
        week = by_week[story.week_of]
        assert (story.covers_start, story.covers_end) == (week.covers_start, week.covers_end)
