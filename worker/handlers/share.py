"""The ``share_notification`` job: e-mail the recipient of a doctor share its link.

At least once: the message is sent, then the job finishes in the transaction that marks
the share notified. A worker lost between the two sends the message again on the next
attempt, with a second working link; a share revoked or expired before the attempt, or
already notified, gets no message. The recipient's address is never logged.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from worker.log import get_logger
from worker.metrics import EMAILS_SENT
from worker.queue.context import JobContext
from worker.queue.jobs import Job
from worker.queue.registry import Handler
from worker.share.mail import Mailer
from worker.share.notification import (
    compose_share_email,
    get_share,
    mark_share_notified,
    mint_email_link,
    share_base_url,
)

log = get_logger("worker.share")


class ShareNotificationPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    share_id: UUID


def make_share_notification_handler(mailer: Mailer, *, sender: str) -> Handler:
    async def handle_share_notification(job: Job, context: JobContext) -> None:
        payload = ShareNotificationPayload.model_validate(job.payload)
        async with context.connection() as conn:
            share = await get_share(conn, payload.share_id)
            skip = share.reason_not_to_send(dt.datetime.now(dt.UTC))
            if skip is not None:
                log.info("share e-mail not sent", job_id=job.id, share_id=str(share.id), reason=skip)
                return
            link = await mint_email_link(conn, share, await share_base_url(conn))
        try:
            await mailer.send(compose_share_email(share, link, sender=sender))
        except Exception:
            EMAILS_SENT.labels("failed").inc()
            raise
        EMAILS_SENT.labels("sent").inc()

        async def finish() -> None:
            async with context.complete() as conn:
                await mark_share_notified(conn, share)

        # The e-mail is sent: an outage now must not send it twice.
        await context.outlast_outage(finish)
        log.info("share e-mail sent", job_id=job.id, share_id=str(share.id))

    return handle_share_notification
