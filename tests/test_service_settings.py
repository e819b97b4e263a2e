"""Settings of the deployed worker: each missing or malformed one stops it with exit code 2
and one line naming the variable, before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker.config import require_production_settings, service_settings_from_env
from worker.errors import ConfigError

PROJECT = Path(__file__).resolve().parents[1]
PRODUCTION = {
    "PROXIMA_ENV": "production",
    "DATABASE_URL": "postgresql://worker:secret@127.0.0.1:9/postgres",
    "SUPABASE_URL": "http://127.0.0.1:9",
    "SUPABASE_SERVICE_ROLE_KEY": "service-key",
    "DEEPSEEK_API_KEY": "sk-test",
}


def test_defaults_are_development_without_a_port() -> None:
    settings = service_settings_from_env({})
    assert (settings.environment, settings.port, settings.log_level) == ("development", None, "INFO")
    assert not settings.production


def test_values_are_read_and_normalised() -> None:
    settings = service_settings_from_env(
        {"PROXIMA_ENV": " Production ", "PORT": "8080", "PROXIMA_LOG_LEVEL": "debug"}
    )
    assert (settings.environment, settings.port, settings.log_level) == ("production", 8080, "DEBUG")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PROXIMA_ENV": "staging"}, "PROXIMA_ENV"),
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "0"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"PORT": "-1"}, "PORT"),
        ({"PROXIMA_LOG_LEVEL": "loud"}, "PROXIMA_LOG_LEVEL"),
    ],
)
def test_a_malformed_service_setting_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable} "):
        service_settings_from_env(env)


def test_production_with_everything_set_passes() -> None:
    require_production_settings(PRODUCTION)


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ("DATABASE_URL", "DATABASE_URL"),
        ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY is set but SUPABASE_URL"),
        ("DEEPSEEK_API_KEY", "DEEPSEEK_API_KEY"),
    ],
)
def test_production_refuses_a_missing_setting(missing: str, variable: str) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=variable):
        require_production_settings(env)


def test_production_without_storage_at_all_names_supabase_url() -> None:
    env = {k: v for k, v in PRODUCTION.items() if not k.startswith("SUPABASE_")}
    with pytest.raises(ConfigError, match=r"^SUPABASE_URL is required when PROXIMA_ENV=production"):
        require_production_settings(env)


def test_production_may_choose_the_local_writer_explicitly() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "DEEPSEEK_API_KEY"} | {"PROXIMA_AI_PROVIDER": "local"}
    require_production_settings(env)


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROXIMA_", "DEEPSEEK_", "SUPABASE_", "SMTP_"))
    }
    base.pop("DATABASE_URL", None)
    base.pop("PORT", None)
    return subprocess.run(
        [sys.executable, "-m", "worker", *args],
        cwd=PROJECT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "first_words"),
    [
        ({"PORT": "eighty"}, "error: PORT must be a port number"),
        ({"PROXIMA_ENV": "prod"}, "error: PROXIMA_ENV must be development or production"),
        ({"DEEPSEEK_MAX_CONCURRENCY": "many"}, "error: DEEPSEEK_MAX_CONCURRENCY must be a number"),
        ({"SUPABASE_URL": "http://127.0.0.1:9"}, "error: SUPABASE_URL is set but SUPABASE_SERVICE_ROLE_KEY"),
        ({"SMTP_TIMEOUT": "soon"}, "error: SMTP_TIMEOUT must be a number"),
        ({"PROXIMA_EVENT_LOOP": "trio"}, "error: PROXIMA_EVENT_LOOP must be uvloop or asyncio, not 'trio'"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "error: DATABASE_URL must start with postgresql://"),
        (
            {
                "DATABASE_URL": "postgresql://postgres.ref:secret@aws-0-eu-west-1.pooler.supabase.com:6543/postgres"
            },
            "error: DATABASE_URL points at Supabase's transaction pooler (port 6543)",
        ),
        ({"PROXIMA_ENV": "production"}, "error: DATABASE_URL is required when PROXIMA_ENV=production"),
        (PRODUCTION | {"DEEPSEEK_API_KEY": ""}, "error: DEEPSEEK_API_KEY is required"),
    ],
)
def test_the_worker_stops_with_exit_code_2_and_one_line(env: dict[str, str], first_words: str) -> None:
    result = _run(env, "run")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(first_words), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "secret" not in result.stderr
    assert result.stdout == ""


def test_other_commands_in_production_need_the_database_url_too() -> None:
    result = _run({"PROXIMA_ENV": "production"}, "status")
    assert result.returncode == 2
    assert result.stderr == "error: DATABASE_URL is required when PROXIMA_ENV=production\n"
