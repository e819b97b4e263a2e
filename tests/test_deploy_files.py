"""The deployment files agree with the code: every setting documented, the container
runs the worker as a non-root user without migrating, Railway checks /health."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from worker.config import (
    ai_settings_from_env,
    require_production_settings,
    service_settings_from_env,
    storage_settings_from_env,
)
from worker.share.mail import mail_settings_from_env

ROOT = Path(__file__).resolve().parents[1]
_SETTING = re.compile(r"[\"']((?:DEEPSEEK|PROXIMA|SMTP|SUPABASE|DATABASE)_[A-Z0-9_]+|PORT)[\"']")


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    previous = ""
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), line
            assert previous.startswith("# "), f"{name} has no one-line explanation above it"
            assert name not in values, f"{name} twice"
            values[name] = value
        previous = line
    return values


def _settings_in_code() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "worker").rglob("*.py"):
        names.update(_SETTING.findall(path.read_text()))
    return names


def test_every_setting_the_code_reads_is_in_env_example_and_nothing_else() -> None:
    documented = set(_env_example())
    in_code = _settings_in_code()
    assert in_code - documented == set(), "read by the code but not documented"
    assert documented - in_code == set(), "documented but read nowhere"


def test_env_example_as_given_is_a_valid_production_configuration() -> None:
    env = {k: v for k, v in _env_example().items() if v}
    service = service_settings_from_env(env)
    assert service.production
    assert service.port == 8080
    require_production_settings(env)
    assert ai_settings_from_env(env).provider == "deepseek"
    assert storage_settings_from_env(env).backend == "supabase"
    mail_settings_from_env(env)


def test_railway_starts_the_worker_checks_health_and_restarts_it() -> None:
    config = tomllib.loads((ROOT / "railway.toml").read_text())
    assert config["build"]["builder"] == "DOCKERFILE"
    assert (ROOT / config["build"]["dockerfilePath"]).is_file()
    deploy = config["deploy"]
    assert deploy["startCommand"] == "python -m worker run"
    assert deploy["healthcheckPath"] == "/health"
    assert deploy["restartPolicyType"] in {"ON_FAILURE", "ALWAYS"}
    assert deploy["drainingSeconds"] > 30, "longer than the worker's shutdown grace"


def test_the_image_is_slim_non_root_with_the_fonts_and_never_migrates() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users, "a USER line"
    assert users[-1] not in {"root", "0"}
    runs = " ".join(re.findall(r"^RUN (.*(?:\n[ \t].*)*)", text, re.M))
    assert "migrate" not in runs
    assert "migrate" not in " ".join(re.findall(r"^(?:CMD|ENTRYPOINT) .*", text, re.M))
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    setup_fonts = set(re.findall(r"\bfonts-[a-z-]+", setup))
    assert setup_fonts, "the fonts of the local setup"
    assert setup_fonts <= set(re.findall(r"\bfonts-[a-z-]+", text)), "the image has the report's fonts"
    assert 'ENTRYPOINT ["python", "-m", "worker"]' in text
    assert 'CMD ["run"]' in text


def test_the_image_compiles_the_hot_modules_in_a_stage_it_does_not_keep() -> None:
    """The hot modules (worker/compiled.py) are compiled in a build stage with the script and
    the mypy that tests/test_compiled.py uses; the image takes the sources with their compiled
    modules and the C they share, and no compiler."""
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2
    build, image = stages
    assert build.startswith("python:3.11-slim-bookworm AS compiled")
    assert image.startswith("python:3.11-slim-bookworm\n")
    assert "gcc" in build and "gcc" not in image
    assert "python scripts/compile.py /src" in build
    pinned = re.search(r'"mypy==([0-9.]+)"', build)
    dev = re.search(r'"mypy==([0-9.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pinned and dev and pinned.group(1) == dev.group(1), "the image compiles with the tested mypy"
    assert "COPY --from=compiled /src/worker ./worker" in image
    assert "COPY --from=compiled /src/*__mypyc.*.so ./" in image
    assert "WORKDIR /app" in image and "COPY worker " not in image


def test_the_procfile_runs_the_same_command() -> None:
    assert (ROOT / "Procfile").read_text().strip() == "worker: python -m worker run"


def _which_python(env_python: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHON"}
    if env_python is not None:
        env["PYTHON"] = env_python
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_setup_prefers_the_distributions_python_and_honours_python() -> None:
    chosen = _which_python(None, "--which-python")
    assert chosen.returncode == 0, chosen.stderr
    distribution = Path("/usr/bin/python3.11")
    usable = distribution.exists() and (
        subprocess.run(
            [distribution, "-c", "import venv, ensurepip"], capture_output=True, check=False
        ).returncode
        == 0
        or (os.geteuid() == 0 and shutil.which("apt-get") is not None)
    )
    if usable:
        # Debian and Ubuntu build it with profile-guided optimization: it wins over PATH.
        assert chosen.stdout.strip() == os.path.realpath(distribution)
    else:
        assert chosen.stdout.strip() != os.path.realpath(distribution)
        assert chosen.stdout.strip(), "some Python 3.11 or newer on PATH"
    given = _which_python(sys.executable, "--which-python")
    assert given.returncode == 0, given.stderr
    assert given.stdout.strip() == os.path.realpath(sys.executable)


def test_setup_refuses_a_missing_or_old_python_and_unknown_options(tmp_path: Path) -> None:
    old = tmp_path / "python-old"
    old.write_text("#!/bin/sh\nexit 1\n")  # answers "older than 3.11" to the version check
    old.chmod(0o755)
    cases = [
        (str(tmp_path / "absent"), ["--which-python"], 1, "is not a program"),
        (str(old), ["--which-python"], 1, "is older than 3.11"),
        (sys.executable, ["--install-everything"], 2, "unknown option --install-everything"),
    ]
    for python, args, code, message in cases:
        done = _which_python(python, *args)
        assert done.returncode == code, (python, args, done.stderr)
        assert message in done.stderr
        assert done.stdout == ""
