"""Requesting a PDF export as a person and waiting for it: shared by the CLI and the demo."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname
from uuid import UUID

import httpx
import psycopg

from worker.config import AISettings, StorageSettings
from worker.errors import ProximaError
from worker.export.document import query
from worker.export.storage import create_storage
from worker.handlers import default_registry
from worker.runtime.oneshot import run_until


@dataclass(frozen=True)
class ExportResult:
    export_id: UUID
    storage_path: str
    size: int
    url: str


def request_export(
    conninfo: str, user_id: UUID, story_ids: list[UUID] | None, *, include_analysis: bool, include_notes: bool
) -> UUID:
    """``request_pdf_export`` as the person (their checks apply); all their stories by default."""
    with psycopg.connect(conninfo) as conn:
        if story_ids is None:
            story_ids = [row[0] for row in conn.execute(query("user_story_ids"), {"user_id": user_id})]
        claims = json.dumps({"sub": str(user_id), "role": "authenticated"})
        try:
            conn.execute(query("act_as_user"), {"claims": claims})
            row = conn.execute(
                query("request_pdf_export"),
                {
                    "story_ids": story_ids,
                    "include_analysis": include_analysis,
                    "include_notes": include_notes,
                },
            ).fetchone()
        except psycopg.Error as exc:
            message = exc.diag.message_primary or str(exc).splitlines()[0]
            raise ProximaError(f"the export was refused: {message}") from None
    assert row is not None
    return UUID(str(row[0]))


def export_status(conninfo: str, export_id: UUID) -> tuple[Any, ...]:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(query("export_status"), {"export_id": export_id}).fetchone()
    assert row is not None
    return tuple(row)


def run_export(
    conninfo: str, export_id: UUID, ai: AISettings, storage_settings: StorageSettings, *, timeout: float = 300
) -> ExportResult:
    """Run export jobs until this export is ready (or failed), then return where it is."""
    registry = default_registry(ai, storage_settings)
    run_until(
        conninfo,
        registry,
        lambda: export_status(conninfo, export_id)[0] in {"ready", "failed"},
        kinds=("export_pdf",),
        timeout=timeout,
    )
    status, path, size, error = export_status(conninfo, export_id)
    if status != "ready":
        raise ProximaError(f"the export did not complete ({status}): {error or 'timed out'}")
    return ExportResult(export_id, str(path), int(size), _signed_url(storage_settings, str(path)))


def _signed_url(settings: StorageSettings, path: str) -> str:
    async def sign() -> str:
        storage = create_storage(settings)
        try:
            return await storage.signed_url(path, expires_in=3600)
        finally:
            await storage.aclose()

    return asyncio.run(sign())


def save_to(result: ExportResult, out: Path) -> Path:
    """Copy the stored PDF to ``out`` (a local file URL, or a download of the signed URL)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    parsed = urlparse(result.url)
    if parsed.scheme == "file":
        shutil.copyfile(Path(url2pathname(parsed.path)), out)
    else:
        with httpx.Client(timeout=60) as client:
            response = client.get(result.url)
            response.raise_for_status()
            out.write_bytes(response.content)
    return out
