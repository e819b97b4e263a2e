"""The Supabase CLI that scripts/setup.sh installs (npm ``supabase``, pinned) in .tools/supabase-cli.

:func:`require_supabase_cli` finds it, or skips saying why (in CI, where ``CI`` is set,
its absence is a failure). :meth:`SupabaseCli.run` runs one command with a timeout,
non-interactively, offline: telemetry and the update check (a look-up of api.github.com)
are turned off, and ``HOME`` is a folder of the test session's own, so nothing of the
developer's ``~/.supabase`` (profile, access token) is read and nothing is written there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from worker.db.devdb import LocalCluster

PROJECT = Path(__file__).resolve().parents[2]
SUPABASE_CLI_VERSION = "2.117.0"  # keep in step with scripts/setup.sh
CLI_DIR = PROJECT / ".tools" / "supabase-cli"
_TIMEOUT_S = 120.0

# Only what the CLI needs from our environment; SUPABASE_* settings of the developer's
# shell (an access token, a project ref, a db password) must not reach it.
_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
_OFFLINE = {
    "SUPABASE_TELEMETRY_DISABLED": "1",  # no PostHog events (eu.i.posthog.com)
    "DO_NOT_TRACK": "1",
    "SUPABASE_NO_UPDATE_NOTIFIER": "1",  # no release check, no supabase/.temp/cli-latest
    "SUPABASE_NO_KEYRING": "1",
}


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _installed_version() -> str | None:
    try:
        data = json.loads((CLI_DIR / "node_modules" / "supabase" / "package.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def _binary() -> Path | None:
    """The program itself, from the per-platform package (@supabase/cli-linux-x64, ...).

    Run directly rather than through npm's node shim (node_modules/.bin/supabase), which
    only starts it: one process fewer, and a timeout reaches the program itself.
    """
    for candidate in sorted((CLI_DIR / "node_modules" / "@supabase").glob("cli-*/bin/supabase")):
        if os.access(candidate, os.X_OK):
            return candidate
    shim = CLI_DIR / "node_modules" / ".bin" / "supabase"
    return shim if os.access(shim, os.X_OK) and shutil.which("node") else None


def with_sslmode_disable(url: str) -> str:
    """The test cluster has no SSL; the CLI would otherwise insist on it."""
    return url + ("&" if urlsplit(url).query else "?") + "sslmode=disable"


@dataclass(frozen=True)
class SupabaseCli:
    binary: Path
    home: Path

    def run(self, *args: str, timeout: float = _TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """``supabase <args> --workdir <project>``; stdin is empty, so nothing can wait for an answer."""
        env = {key: os.environ[key] for key in _PASSED_THROUGH if key in os.environ}
        env.update(_OFFLINE, HOME=str(self.home))
        cmd = [str(self.binary), *args, "--workdir", str(PROJECT), "--agent", "no"]
        # A session of its own, so a timeout kills the CLI with everything it started.
        process = subprocess.Popen(
            cmd,
            cwd=PROJECT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(
                f"`supabase {describe(args)}` did not finish within {timeout:.0f} s\n"
                f"--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
            )
        return subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)


def describe(args: tuple[str, ...] | list[str]) -> str:
    """A command line for messages, with connection strings (they hold the password) elided."""
    return " ".join("<db-url>" if "://" in arg else arg for arg in args)


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"`supabase {describe(result.args[1:])}` exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def require_supabase_cli(home: Path) -> SupabaseCli:
    """The installed CLI, at the pinned version; skips (fails in CI) saying why when it is not."""
    version = _installed_version()
    binary = _binary()
    if version == SUPABASE_CLI_VERSION and binary is not None:
        return SupabaseCli(binary, home)
    if shutil.which("npm") is None:
        reason = (
            f"the Supabase CLI {SUPABASE_CLI_VERSION} is not installed and npm is missing: "
            "install Node.js 20 with npm, then run scripts/setup.sh"
        )
    elif version is None or binary is None:
        reason = (
            f"the Supabase CLI {SUPABASE_CLI_VERSION} is not installed in {CLI_DIR.relative_to(PROJECT)}: "
            "run scripts/setup.sh"
        )
    else:
        reason = (
            f"{CLI_DIR.relative_to(PROJECT)} holds the Supabase CLI {version}, not "
            f"{SUPABASE_CLI_VERSION}: run scripts/setup.sh"
        )
    _skip_or_fail(reason)
    raise AssertionError("unreachable")  # pytest.skip and pytest.fail raise


def require_plpgsql_check(cluster: LocalCluster, url: str) -> None:
    """``supabase db lint`` creates plpgsql_check in the database it lints."""
    with psycopg.connect(url) as conn:
        row = conn.execute("select 1 from pg_available_extensions where name = 'plpgsql_check'").fetchone()
    if row is not None:
        return
    major = cluster.binaries.major
    _skip_or_fail(
        f"plpgsql_check (needed by `supabase db lint`) is not installed for PostgreSQL {major}: "
        f"install the Debian package postgresql-{major}-plpgsql-check (needs root; "
        "scripts/setup.sh does it when run as root)"
    )
