"""The share_notification job against a real SMTP server on 127.0.0.1 (aiosmtpd).

The recipient gets a short plain message: who shared, a working link, the expiry, and
no health content; STARTTLS is used when the server offers it; the address appears in
no log and no stored error; a refused recipient fails the job, an unreachable server is
retried; a revoked share gets no e-mail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fake_smtp import SmtpServer
from share_support import add_note, add_person, add_story, create_share, open_share, revoke_share

from worker.config import AISettings, StorageSettings
from worker.errors import ConfigError
from worker.handlers import default_registry
from worker.runtime.oneshot import run_until
from worker.share.mail import ConsoleMailer, MailSettings, mail_settings_from_env
from worker.share.notification import Share, compose_share_email

RECIPIENT = "dr.house@clinic.example.org"
STORY_TEXT = "The migraine came back on Tuesday"
NOTE = "Ask about the beta blocker"


@pytest.fixture
def shared(conn: psycopg.Connection[Any]) -> tuple[uuid.UUID, dict[str, Any]]:
    maya = add_person(conn, name="Maya\r\nBcc: evil@example.org Lind", email="maya@people.example.com")
    story = add_story(conn, maya, title="Migraine week", text=STORY_TEXT)
    add_note(conn, maya, story, NOTE)
    return maya, create_share(conn, maya, [story], recipient_email=RECIPIENT, expires_in_days=7)


def _job(conn: psycopg.Connection[Any]) -> tuple[str, int, str | None]:
    row = conn.execute(
        "select status, attempts, last_error from public.jobs where kind = 'share_notification'"
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _run(db_url: str, mail: MailSettings, tmp_path: Path, until: str = "succeeded") -> None:
    registry = default_registry(AISettings(), StorageSettings(local_dir=tmp_path), mail)

    def done() -> bool:
        with psycopg.connect(db_url) as c:
            row = c.execute(
                "select status, last_error from public.jobs where kind = 'share_notification'"
            ).fetchone()
        assert row is not None
        return bool(row[0] == until or (until == "retried" and row[0] == "queued" and row[1]))

    assert run_until(db_url, registry, done, kinds=("share_notification",), timeout=60)


def test_the_recipient_gets_who_shared_a_working_link_and_the_expiry_and_no_health_text(
    conn: psycopg.Connection[Any],
    db_url: str,
    tmp_path: Path,
    shared: tuple[uuid.UUID, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, share = shared
    with SmtpServer(tls=True) as server:
        _run(db_url, MailSettings(smtp_url=server.url, ca_file=server.ca_file), tmp_path)
        [received] = server.messages

    assert received.tls  # STARTTLS was offered, so it was used
    assert received.rcpt_tos == [RECIPIENT]
    message = received.message
    assert message["To"] == RECIPIENT
    assert message["Subject"] == "Maya Bcc: evil@example.org Lind shared a health report with you"
    assert message["Bcc"] is None
    body = message.get_content()
    expires = dt.datetime.fromisoformat(share["expires_at"])
    assert f"{expires:%-d %B %Y, %H:%M} UTC" in body
    links = [line for line in body.splitlines() if line.startswith("http://127.0.0.1:54321/")]
    assert len(links) == 1
    email_token = links[0].rsplit("/", 1)[1]
    assert email_token != share["share_link"].rsplit("/", 1)[1]  # a link of its own
    for health in (STORY_TEXT, "Migraine", NOTE, "maya@people.example.com"):
        assert health not in message.as_string()

    # The e-mailed link opens the report, and is stored only as its hash.
    assert open_share(conn, email_token)["report"]["stories"][0]["title"] == "Migraine week"
    channels = conn.execute("select channel from proxima_private.share_tokens order by channel").fetchall()
    assert channels == [("email",), ("link",)]
    assert _job(conn) == ("succeeded", 1, None)
    notified = conn.execute("select metadata ? 'notified_at' from public.export_history").fetchone()
    assert notified == (True,)

    logs = capsys.readouterr()
    assert "share e-mail sent" in logs.out + logs.err
    for secret in (RECIPIENT, email_token):
        assert secret not in logs.out + logs.err


def test_a_refused_recipient_fails_the_job_without_storing_the_address(
    conn: psycopg.Connection[Any],
    db_url: str,
    tmp_path: Path,
    shared: tuple[uuid.UUID, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    with SmtpServer(refuse_with=550) as server:
        _run(db_url, MailSettings(smtp_url=server.url), tmp_path, until="failed")
    status, _, error = _job(conn)
    assert (status, error) == ("failed", "the mail server refused the recipient (SMTP 550)")
    logs = capsys.readouterr()
    assert RECIPIENT not in logs.out + logs.err


def test_an_unreachable_mail_server_is_retried(
    conn: psycopg.Connection[Any], db_url: str, tmp_path: Path, shared: tuple[uuid.UUID, dict[str, Any]]
) -> None:
    with SmtpServer() as server:
        url = server.url  # nothing listens there once the server has stopped
    _run(db_url, MailSettings(smtp_url=url), tmp_path, until="retried")
    status, attempts, error = _job(conn)
    assert (status, attempts) == ("queued", 1)
    assert error == "the mail server could not be reached (ConnectionRefusedError)"


def test_a_share_revoked_before_the_job_runs_gets_no_email(
    conn: psycopg.Connection[Any], db_url: str, tmp_path: Path, shared: tuple[uuid.UUID, dict[str, Any]]
) -> None:
    maya, share = shared
    revoke_share(conn, maya, uuid.UUID(share["share_id"]))
    with SmtpServer() as server:
        _run(db_url, MailSettings(smtp_url=server.url), tmp_path)
        assert server.messages == []
    assert [row[0] for row in conn.execute("select channel from proxima_private.share_tokens")] == ["link"]


def test_without_smtp_url_the_message_is_printed_with_the_recipient_hidden() -> None:
    share = Share(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        recipient_email=RECIPIENT,
        expires_at=dt.datetime(2026, 12, 30, 16, 30, tzinfo=dt.UTC),
        revoked_at=None,
        notified=False,
        display_name=None,
    )
    out = io.StringIO()
    asyncio.run(
        ConsoleMailer(out).send(compose_share_email(share, "http://x/abc", sender="P <p@example.org>"))
    )
    printed = out.getvalue()
    assert "Someone using Proxima shared a health report with you" in printed
    assert "http://x/abc" in printed
    assert "30 December 2026, 16:30 UTC" in printed
    assert RECIPIENT not in printed


def test_mail_settings_name_the_setting_and_never_echo_the_password() -> None:
    settings = mail_settings_from_env({"SMTP_URL": "smtp://user:s3cret@mail.example.org:587"})
    assert "s3cret" not in repr(settings)
    assert repr(settings) == "MailSettings(backend='smtp', server='smtp://mail.example.org:587')"
    assert mail_settings_from_env({}).backend == "console"
    for bad in ("http://user:s3cret@mail.example.org", "smtp://user:s3cret@mail.example.org:99999"):
        with pytest.raises(ConfigError, match="SMTP_URL") as caught:
            mail_settings_from_env({"SMTP_URL": bad})
        assert "s3cret" not in str(caught.value)
