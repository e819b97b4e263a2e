"""The ``delete_user_files`` job: a deleted person's exported files leave Storage too.

Deleting a person (a row of ``auth.users``) removes their rows by cascade, and a trigger
enqueues this job (see supabase/migrations/20261201100300_retention_and_deletion.sql)
with ``{"user_id": ...}`` in its payload and no ``user_id`` of its own, so the cascade
leaves it in place. The handler removes everything in the person's folder of the export
bucket (``<user_id>/``, where :func:`worker.export.storage.export_object_path` puts every
export) and logs how many objects went. A folder already empty is a success: a retried or
repeated deletion finds nothing and is done.

A person who still exists (a deletion that was rolled back cannot have enqueued this job,
but one cancelled by another trigger could, and so could a job inserted by hand) keeps
their files: the job fails, permanently, and says why.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict

from worker.errors import PermanentError
from worker.export.storage import Storage
from worker.log import get_logger
from worker.queue.context import JobContext
from worker.queue.jobs import Job
from worker.queue.registry import Handler

log = get_logger("worker.deletion")

_PERSON_EXISTS = "select exists (select 1 from auth.users where id = %s)"


class DeleteUserFilesPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: UUID


def make_delete_user_files_handler(storage: Storage) -> Handler:
    async def handle_delete_user_files(job: Job, context: JobContext) -> None:
        payload = DeleteUserFilesPayload.model_validate(job.payload)
        async with context.connection() as conn:
            row = await (await conn.execute(_PERSON_EXISTS, (payload.user_id,))).fetchone()
        if row is not None and row[0]:
            raise PermanentError(
                "the person still exists (their deletion did not happen): their files are kept"
            )
        removed = await storage.delete_folder(str(payload.user_id))
        log.info("user files deleted", job_id=job.id, objects=removed)

    return handle_delete_user_files
