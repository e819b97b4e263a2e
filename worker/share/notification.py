"""The e-mail that tells a recipient about a doctor share.

The message says who shared (their display name), gives the link and its expiry, and
nothing about anyone's health. Its link carries a token minted here, for the e-mail
alone: 32 random bytes, url-safe, stored only as its SHA-256 beside the share's own link
(the token the person saw is stored nowhere, so it cannot be reused). The token's hash
is committed before the message is sent, so the link works as soon as it arrives; a
send that fails leaves a hash whose token nobody ever saw.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from worker.db.queries import load_queries
from worker.errors import PermanentError

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAME_LIMIT = 80
_SOMEONE = "Someone using Proxima"


def query(name: str) -> sql.SQL:
    return load_queries("worker.share", "queries.sql")[name]


class ShareNotFoundError(PermanentError):
    """The share named by the job does not exist (deleted, or not a doctor share)."""


@dataclass(frozen=True)
class Share:
    id: UUID
    user_id: UUID
    recipient_email: str | None
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    notified: bool
    display_name: str | None

    def reason_not_to_send(self, now: dt.datetime) -> str | None:
        """Why no e-mail should go out (already sent, revoked, expired, no recipient), or None."""
        if self.notified:
            return "already sent"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if not self.recipient_email:
            return "no recipient"
        return None


async def get_share(conn: AsyncConnection[Any], share_id: UUID) -> Share:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query("get_share"), {"share_id": share_id})
        row = await cur.fetchone()
    if row is None:
        raise ShareNotFoundError(f"share {share_id} does not exist")
    return Share(
        id=row["id"],
        user_id=row["user_id"],
        recipient_email=row["recipient_email"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        notified=row["notified_at"] is not None,
        display_name=row["display_name"],
    )


async def share_base_url(conn: AsyncConnection[Any]) -> str:
    cur = await conn.execute(query("share_base_url"))
    row = await cur.fetchone()
    if row is None:
        raise PermanentError("sharing is not configured: no share_base_url in proxima_private.settings")
    return str(row[0])


def new_token() -> str:
    """32 random bytes, base64url without padding: 43 characters, 256 bits."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


async def mint_email_link(conn: AsyncConnection[Any], share: Share, base_url: str) -> str:
    """A new link to ``share`` for the e-mail; only its hash is stored (and committed by
    the caller's connection, which should be in autocommit)."""
    token = new_token()
    await conn.execute(query("add_email_token"), {"token_hash": token_hash(token), "share_id": share.id})
    return f"{base_url}/{token}"


async def mark_share_notified(conn: AsyncConnection[Any], share: Share) -> None:
    await conn.execute(query("mark_share_notified"), {"share_id": share.id})


def display_name(name: str | None) -> str:
    """The sharer's name as one plain line, or a neutral phrase when there is none."""
    cleaned = " ".join(_CONTROL.sub(" ", name or "").split())
    if not cleaned:
        return _SOMEONE
    return cleaned if len(cleaned) <= _NAME_LIMIT else cleaned[: _NAME_LIMIT - 1] + "…"


def compose_share_email(share: Share, link: str, *, sender: str) -> EmailMessage:
    """The plain-text message: who shared, the link, the expiry. No health content."""
    if not share.recipient_email:
        raise ValueError("a share without a recipient gets no e-mail")
    who = display_name(share.display_name)
    until = share.expires_at.astimezone(dt.UTC).strftime("%-d %B %Y, %H:%M UTC")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = share.recipient_email
    message["Subject"] = f"{who} shared a health report with you"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="proxima.invalid")
    message["Auto-Submitted"] = "auto-generated"
    body = "\n".join(
        [
            "Hello,",
            "",
            f"{who} shared a health report with you through Proxima.",
            "",
            "Open it in your browser:",
            link,
            "",
            f"The link works until {until}. Anyone who has it can open the report until",
            "then, so please do not forward it.",
            "",
            f"This message was sent at the request of {who}. If you did not expect it,",
            "you can ignore it.",
            "",
        ]
    )
    # Plain ASCII goes as it is (the link stays on one line); a name in another script
    # needs quoted-printable.
    message.set_content(body, cte="7bit" if body.isascii() else "quoted-printable")
    return message
