"""Every flag of `run` and every setting is checked, with one clear line and no traceback:
non-finite numbers, out-of-range ports and durations, kinds no handler runs, keys that
cannot be sent in a header. Bad flags exit with code 2 before anything connects; a bad
setting is a ConfigError naming it (exit 2 too), never echoing a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.config import AISettings, ai_settings_from_env
from worker.db.devdb import free_port
from worker.errors import ConfigError
from worker.share.mail import mail_settings_from_env

PROJECT = Path(__file__).resolve().parents[1]
KEY_WITH_EN_DASH = "sk-3f9a1c\u20137be24d0e"  # an en dash pasted from a document


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROXIMA_", "DEEPSEEK_", "SUPABASE_", "SMTP_", "DATABASE_URL", "PORT"))
    }
    # Nothing listens there: a flag accepted by mistake would reach the connection (exit 1).
    base["DATABASE_URL"] = f"postgresql://nobody:secret@127.0.0.1:{free_port()}/postgres"
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        cwd=PROJECT,
        env=base | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- DEEPSEEK_API_KEY ------------------------------------------------------------------------


@pytest.mark.parametrize("key", [KEY_WITH_EN_DASH, "sk-abc def", "sk-abc\x7f", "sk-\u201cabc\u201d"])
def test_a_deepseek_key_that_cannot_be_sent_in_a_header_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ConfigError, match=r"^DEEPSEEK_API_KEY contains") as caught:
        ai_settings_from_env({"DEEPSEEK_API_KEY": key})
    message = str(caught.value)
    assert "sk-" not in message
    assert not any(part and part in message for part in key.replace("\u2013", " ").split())
    assert "\u2013" not in message and "\u201c" not in message


def test_a_header_safe_deepseek_key_is_accepted() -> None:
    assert ai_settings_from_env({"DEEPSEEK_API_KEY": "sk-3f9a1c-7be24d0e"}).provider == "deepseek"


def test_the_worker_with_a_pasted_en_dash_in_the_key_exits_2_in_one_line() -> None:
    result = _run("run", env={"DEEPSEEK_API_KEY": KEY_WITH_EN_DASH})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: DEEPSEEK_API_KEY contains"), result.stderr
    assert result.stderr.count("\n") == 1
    assert "7be24d0e" not in result.stderr


# -- numbers and URLs of the AI settings -----------------------------------------------------


@pytest.mark.parametrize("name", ["DEEPSEEK_MAX_CONCURRENCY", "DEEPSEEK_MAX_ATTEMPTS", "DEEPSEEK_TIMEOUT"])
@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "1e400", "Infinity"])
def test_a_non_finite_ai_number_is_a_config_error_naming_it(name: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} "):
        ai_settings_from_env({name: raw})


@pytest.mark.parametrize(
    "url",
    [
        "https://api.deepseek.com:99999",
        "https://api.deepseek.com:abc",
        "https://api.deepseek.com:0",
        "https://user:s3cret@api.deepseek.com:70000/v1",
        "https://",
        "https://:443",
    ],
)
def test_a_deepseek_base_url_with_a_bad_port_or_no_host_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^DEEPSEEK_BASE_URL ") as caught:
        ai_settings_from_env({"DEEPSEEK_BASE_URL": url})
    assert "s3cret" not in str(caught.value)


def test_a_deepseek_base_url_with_a_good_port_is_accepted() -> None:
    settings = AISettings(provider="deepseek", api_key="sk-x", base_url="http://127.0.0.1:8080/v1")
    assert settings.base_url == "http://127.0.0.1:8080/v1"


@pytest.mark.parametrize(
    ("env", "first_words"),
    [
        ({"DEEPSEEK_MAX_CONCURRENCY": "inf"}, "error: DEEPSEEK_MAX_CONCURRENCY must be a finite number"),
        ({"DEEPSEEK_MAX_ATTEMPTS": "nan"}, "error: DEEPSEEK_MAX_ATTEMPTS must be a finite number"),
        ({"DEEPSEEK_MAX_CONCURRENCY": "1e400"}, "error: DEEPSEEK_MAX_CONCURRENCY must be a finite number"),
        (
            {"DEEPSEEK_BASE_URL": "https://api.deepseek.com:99999"},
            "error: DEEPSEEK_BASE_URL has an invalid port",
        ),
        (
            {"DEEPSEEK_BASE_URL": "https://api.deepseek.com:abc"},
            "error: DEEPSEEK_BASE_URL has an invalid port",
        ),
        ({"SMTP_URL": "smtp://mail.example.org:0"}, "error: SMTP_URL has an invalid port"),
    ],
)
def test_the_worker_with_a_malformed_setting_exits_2_in_one_line(
    env: dict[str, str], first_words: str
) -> None:
    result = _run("run", env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(first_words), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


# -- SMTP_URL --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["smtp://mail.example.org:0", "smtps://user:s3cret@mail.example.org:0"])
def test_smtp_port_0_is_refused_not_read_as_the_default(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^SMTP_URL has an invalid port") as caught:
        mail_settings_from_env({"SMTP_URL": url})
    assert "s3cret" not in str(caught.value)


def test_smtp_without_a_port_takes_the_scheme_s_default() -> None:
    assert "mail.example.org:25" in repr(mail_settings_from_env({"SMTP_URL": "smtp://mail.example.org"}))
    assert "mail.example.org:465" in repr(mail_settings_from_env({"SMTP_URL": "smtps://mail.example.org"}))


# -- flags of `run` ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lease", "inf"], "--lease: expected a finite number of seconds"),
        (["--lease", "nan"], "--lease: expected a finite number of seconds"),
        (["--lease", "1e400"], "--lease: expected a finite number of seconds"),
        (["--lease", "86401"], "--lease: must be from 1 to 86400 seconds"),
        (["--lease", "31536000"], "--lease: must be from 1 to 86400 seconds"),
        (["--lease", "0.5"], "--lease: must be from 1 to 86400 seconds"),
        (["--lease", "-3"], "--lease: must be from 1 to 86400 seconds"),
        (["--grace", "-1"], "--grace: must be from 0 to 86400 seconds"),
        (["--grace", "nan"], "--grace: expected a finite number of seconds"),
        (["--grace", "inf"], "--grace: expected a finite number of seconds"),
        (["--grace", "soon"], "--grace: expected a number of seconds"),
        (["--poll", "601"], "--poll: must be at most 600 seconds"),
        (["--poll", "inf"], "--poll: expected a finite number of seconds"),
        (["--poll", "nan"], "--poll: expected a finite number of seconds"),
        (["--poll", "0"], "--poll: must be positive"),
        (["--kinds", "export_pdf,share_notifications"], "--kinds names a kind this worker cannot run"),
        (["--kinds", "weekly_analysys,exports"], "--kinds names kinds this worker cannot run"),
    ],
)
def test_a_bad_run_flag_exits_2_before_anything_connects(args: list[str], message: str) -> None:
    result = _run("run", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr


def test_an_unknown_kind_is_named_with_the_kinds_this_worker_runs() -> None:
    result = _run("run", "--kinds", "export_pdf,share_notifications")
    assert result.returncode == 2
    line = result.stderr.strip()
    assert line.startswith("error: --kinds names a kind this worker cannot run: share_notifications (known: ")
    assert "share_notification," in line and "weekly_analysis" in line


def test_a_bounded_lease_grace_and_poll_and_known_kinds_pass_the_checks() -> None:
    # Past every flag check, the unreachable database is the first complaint (exit 1).
    result = _run(
        "run", "--lease", "86400", "--grace", "0", "--poll", "600", "--kinds", "export_pdf,share_notification"
    )
    assert result.returncode == 1, result.stderr
    assert "must be" not in result.stderr and "cannot run" not in result.stderr, result.stderr
