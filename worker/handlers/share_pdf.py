"""The ``share_pdf`` job: a doctor share's report as a PDF, for the share page; and
``delete_share_pdf``: the file goes when the share does.

Every share gets one (supabase/migrations/20261202110000_share_pdf.sql): the share page
offers it for download, and where the page cannot be HTML (the hosted platform without a
custom domain) the link opens it. It is the PDF export of the shared stories with their
notes and the analysis of their weeks, uploaded to ``<user id>/shares/<share id>/report.pdf``
(an overwrite: a retried job replaces its own earlier file), and its path recorded on the
share in the transaction that finishes the job. A share revoked or expired before the job
runs gets no file; a story deleted since the share fails the job (``StoryGoneError``).

When the share's row is deleted (the nightly purge, or the person's deletion) a trigger
enqueues ``delete_share_pdf`` with both ids in its payload, and the handler removes the
share's folder; a share that still exists keeps its file (the job fails, permanently).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict

from worker.errors import PermanentError
from worker.export.document import ExportRequest, load_document
from worker.export.storage import Storage
from worker.handlers.export import render_pdf
from worker.log import get_logger
from worker.queue.context import JobContext
from worker.queue.jobs import Job
from worker.queue.registry import Handler
from worker.report import ExportDocument
from worker.share.notification import ShareNotFoundError, query

log = get_logger("worker.share")


class SharePdfPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    share_id: UUID


class DeleteSharePdfPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: UUID
    share_id: UUID


def share_pdf_folder(user_id: UUID, share_id: UUID) -> str:
    """The share's own folder, in its person's folder (which the bucket's read policy checks)."""
    return f"{user_id}/shares/{share_id}"


def share_pdf_path(user_id: UUID, share_id: UUID) -> str:
    return f"{share_pdf_folder(user_id, share_id)}/report.pdf"


@dataclass(frozen=True)
class SharedFile:
    """What the job needs of the share: whose stories, and whether it still opens."""

    request: ExportRequest
    expires_at: dt.datetime
    revoked_at: dt.datetime | None

    def reason_not_to_render(self, now: dt.datetime) -> str | None:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return None


async def get_shared_file(conn: AsyncConnection[Any], share_id: UUID) -> SharedFile:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query("get_share_for_pdf"), {"share_id": share_id})
        row = await cur.fetchone()
    if row is None:
        raise ShareNotFoundError(f"share {share_id} does not exist")
    return SharedFile(
        # A share opens its stories with their notes and the analysis of their weeks.
        request=ExportRequest(
            export_id=row["id"],
            user_id=row["user_id"],
            story_ids=list(row["story_ids"] or []),
            include_analysis=True,
            include_notes=True,
            status=None,
        ),
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


def make_share_pdf_handler(storage: Storage) -> Handler:
    async def handle_share_pdf(job: Job, context: JobContext) -> None:
        payload = SharePdfPayload.model_validate(job.payload)

        async def read() -> tuple[SharedFile, ExportDocument | str]:
            """The share, and its document or why it gets none."""
            async with context.connection() as conn:
                shared = await get_shared_file(conn, payload.share_id)
                reason = shared.reason_not_to_render(dt.datetime.now(dt.UTC))
                return shared, reason if reason is not None else await load_document(conn, shared.request)

        shared, document = await context.outlast_outage(read)
        if isinstance(document, str):
            log.info("share pdf not made", job_id=job.id, share_id=str(payload.share_id), reason=document)
            return
        pdf = await render_pdf(document)
        path = share_pdf_path(shared.request.user_id, payload.share_id)
        await storage.upload(path, pdf)

        async def finish() -> None:
            async with context.complete() as conn:
                await conn.execute(
                    query("mark_share_pdf_ready"),
                    {"share_id": payload.share_id, "storage_path": path, "size": len(pdf)},
                )

        await context.outlast_outage(finish)
        log.info("share pdf ready", job_id=job.id, share_id=str(payload.share_id), pdf_bytes=len(pdf))

    return handle_share_pdf


def make_delete_share_pdf_handler(storage: Storage) -> Handler:
    async def handle_delete_share_pdf(job: Job, context: JobContext) -> None:
        payload = DeleteSharePdfPayload.model_validate(job.payload)
        async with context.connection() as conn:
            row = await (await conn.execute(query("share_exists"), {"share_id": payload.share_id})).fetchone()
        if row is not None and row[0]:
            raise PermanentError("the share still exists (its deletion did not happen): its file is kept")
        removed = await storage.delete_folder(share_pdf_folder(payload.user_id, payload.share_id))
        log.info("share pdf deleted", job_id=job.id, share_id=str(payload.share_id), objects=removed)

    return handle_delete_share_pdf
