"""The ``export_pdf`` job: read the stories and analysis, render, upload, mark ready.

The upload overwrites (a retried job replaces its own earlier file), and the export is
marked ready in the transaction that finishes the job, so a ready export always has its
file. A story deleted since the request, or a storage that refuses the file, fails the
job (and, through a trigger on the jobs table, the export) with the reason. A document
that cannot be rendered raises ``RenderError``, a permanent error (rendering is
deterministic: a retry would fail the same way) whose message names no content.
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from worker.export.document import ExportRequest, get_export, load_document, mark_export_ready
from worker.export.pdf import render_report_pdf
from worker.export.storage import Storage
from worker.log import get_logger
from worker.metrics import PDF_RENDER
from worker.queue.context import JobContext
from worker.queue.jobs import Job
from worker.queue.registry import Handler
from worker.report import ExportDocument

log = get_logger("worker.export")


async def render_pdf(document: ExportDocument) -> bytes:
    """The document's PDF, rendered off the event loop (CPU-bound: heartbeats and other jobs
    go on meanwhile), its time observed in ``PDF_RENDER``."""
    started = time.perf_counter()
    pdf = await asyncio.to_thread(render_report_pdf, document)
    PDF_RENDER.observe(time.perf_counter() - started)
    return pdf


class ExportPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    export_id: UUID


def make_export_handler(storage: Storage) -> Handler:
    async def handle_export_pdf(job: Job, context: JobContext) -> None:
        payload = ExportPayload.model_validate(job.payload)

        async def read() -> tuple[ExportRequest, ExportDocument | None]:
            async with context.connection() as conn:
                request = await get_export(conn, payload.export_id)
                if request.status == "ready":
                    return request, None  # done by an earlier attempt that finished the export, not the job
                return request, await load_document(conn, request)

        # A database outage costs no attempt: the reads and the final write wait for it.
        request, document = await context.outlast_outage(read)
        if document is None:
            return
        pdf = await render_pdf(document)
        await storage.upload(request.storage_path, pdf)

        async def finish() -> None:
            async with context.complete() as conn:
                await mark_export_ready(conn, request, size=len(pdf))

        await context.outlast_outage(finish)
        log.info("export ready", job_id=job.id, pages_bytes=len(pdf), stories=len(document.stories))

    return handle_export_pdf
