"""Serving both Edge Functions locally (supabase/functions/_local/serve.ts under Deno), for
the demo and the browser test. Deno is the one scripts/setup.sh installs in .tools/deno.

The server listens on 127.0.0.1 only and reads the database as the functions do in
production (``SUPABASE_DB_URL``); it is stopped with its whole process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from worker.errors import ProximaError

PROJECT = Path(__file__).resolve().parents[2]
DENO = PROJECT / ".tools" / "deno" / "node_modules" / ".bin" / "deno"
DENO_DIR = PROJECT / ".tools" / "deno" / "cache"
SERVE = PROJECT / "supabase" / "functions" / "_local" / "serve.ts"


def deno_available() -> bool:
    return os.access(DENO, os.X_OK) and SERVE.is_file()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FunctionsServer:
    """``deno run supabase/functions/_local/serve.ts`` on ``127.0.0.1:<port>``."""

    def __init__(
        self,
        database_url: str,
        *,
        port: int | None = None,
        jwt_secret: str | None = None,
        export_dir: Path | None = None,
    ) -> None:
        self.database_url = database_url
        self.port = port or free_port()
        self.jwt_secret = jwt_secret
        # The worker's local exports folder: the share page reads the shares' PDFs from it.
        self.export_dir = export_dir.expanduser().resolve() if export_dir is not None else None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/functions/v1"

    @property
    def share_base_url(self) -> str:
        return f"{self.base_url}/shared-report"

    def start(self, timeout: float = 60.0) -> None:
        if not deno_available():
            raise ProximaError("Deno is not installed in .tools/deno: run scripts/setup.sh")
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
        env.update(
            DENO_DIR=str(DENO_DIR),
            DENO_NO_UPDATE_CHECK="1",
            NO_COLOR="1",
            SUPABASE_DB_URL=self.database_url,
            PORT=str(self.port),
        )
        if self.jwt_secret:
            env["SUPABASE_JWT_SECRET"] = self.jwt_secret
        permissions = ["--allow-net", "--allow-env"]
        if self.export_dir is not None:
            env["PROXIMA_EXPORT_DIR"] = str(self.export_dir)
            permissions.append(f"--allow-read={self.export_dir}")
        self._process = subprocess.Popen(
            [str(DENO), "run", *permissions, str(SERVE)],
            cwd=PROJECT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ProximaError(f"the local functions server exited with code {self._process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2):
                    pass
            except urllib.error.HTTPError:
                return  # it answers (404 at the root): ready
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise ProximaError(f"the local functions server did not start within {timeout:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> FunctionsServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
