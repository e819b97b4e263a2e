"""The console mailer prints no share token, and production does not fall back to it.

A printed e-mail lands in the platform's logs: a token there would open the share for
anyone who reads them, and the share would be marked notified though the doctor got
nothing. So production needs ``SMTP_URL`` unless ``PROXIMA_CONSOLE_MAIL=1`` asks for the
console, and the console masks every token in a link.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from worker.errors import ConfigError
from worker.share.mail import ConsoleMailer, mail_settings_from_env, mask_tokens
from worker.share.notification import Share, compose_share_email, new_token

PROJECT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "PROXIMA_ENV": "production",
    "DATABASE_URL": "postgresql://worker:secret@127.0.0.1:9/postgres",
    "SUPABASE_URL": "http://127.0.0.1:9",
    "SUPABASE_SERVICE_ROLE_KEY": "service-key",
    "DEEPSEEK_API_KEY": "sk-test",
}


def _share() -> Share:
    return Share(
        id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        recipient_email="dr.house@clinic.example.org",
        expires_at=dt.datetime(2026, 12, 30, 16, 30, tzinfo=dt.UTC),
        revoked_at=None,
        notified=False,
        display_name="Maya",
    )


def test_the_console_mailer_prints_the_link_with_its_token_masked() -> None:
    token = new_token()
    base = "https://abcdefghijklmnopqrst.supabase.co/functions/v1/shared-report"
    out = io.StringIO()
    message = compose_share_email(_share(), f"{base}/{token}", sender="P <p@example.org>")
    asyncio.run(ConsoleMailer(out).send(message))
    printed = out.getvalue()
    assert token not in printed
    assert token[5:] not in printed and token[-8:] not in printed
    assert f"{base}/{token[:4]}…" in printed, printed
    assert "Maya shared a health report with you" in printed
    assert "dr.house@clinic.example.org" not in printed


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("http://x/shared-report/" + "A" * 43, "http://x/shared-report/AAAA…"),
        ("see https://h.example/r?token=" + "b-_c" * 8 + "&x=1.", "see https://h.example/r?token=b-_c…&x=1."),
        ("http://127.0.0.1:54321/a#" + "Z9" * 20, "http://127.0.0.1:54321/a#Z9Z9…"),
        ("no link: " + "k" * 43, "no link: " + "k" * 43),
    ],
)
def test_mask_tokens_cuts_every_token_in_a_link(text: str, masked: str) -> None:
    assert mask_tokens(text) == masked


def test_production_without_smtp_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^SMTP_URL is required when PROXIMA_ENV=production"):
        mail_settings_from_env(PRODUCTION)


def test_production_may_choose_the_console_explicitly() -> None:
    assert mail_settings_from_env(PRODUCTION | {"PROXIMA_CONSOLE_MAIL": "1"}).backend == "console"
    assert mail_settings_from_env(PRODUCTION | {"SMTP_URL": "smtp://mail.example.org:587"}).backend == "smtp"
    assert mail_settings_from_env({}).backend == "console", "development keeps the console default"


@pytest.mark.parametrize("value", ["maybe", "2", "console"])
def test_a_malformed_console_mail_setting_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^PROXIMA_CONSOLE_MAIL must be 1 or 0"):
        mail_settings_from_env({"PROXIMA_CONSOLE_MAIL": value})


def test_the_worker_in_production_without_smtp_url_exits_2_naming_it() -> None:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROXIMA_", "DEEPSEEK_", "SUPABASE_", "SMTP_", "DATABASE_URL", "PORT"))
    }
    result = subprocess.run(
        [sys.executable, "-m", "worker", "run"],
        cwd=PROJECT,
        env=base | PRODUCTION,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: SMTP_URL is required when PROXIMA_ENV=production"), result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
