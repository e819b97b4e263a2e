"""The fault-injecting proxy of the chaos suite: forwarding, each fault, eligibility, seeding, stop."""

from __future__ import annotations

import http.client
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chaos_proxy import ChaosProxy, chat_completions, storage_uploads


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "body": body.decode(),
                "x": self.headers.get("X-Test"),
            }
        ).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Upstream", "yes")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()


@pytest.fixture
def upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _port(proxy: ChaosProxy) -> int:
    return int(proxy.url.rsplit(":", 1)[1].split("/", 1)[0])


def _connect(proxy: ChaosProxy, timeout: float = 5.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", _port(proxy), timeout=timeout)


def _call(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, path, body=body, headers={"X-Test": "kept"})
    response = conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def test_clean_requests_are_forwarded_whole_over_one_kept_alive_connection(upstream: str) -> None:
    with ChaosProxy(upstream, rate=0.0) as proxy:
        assert proxy.url.startswith("http://127.0.0.1:")
        conn = _connect(proxy)
        for number in range(3):
            status, headers, body = _call(conn, "POST", f"/v1/chat/completions?n={number}", b"hello")
            assert status == 201
            assert headers["x-upstream"] == "yes"
            assert json.loads(body) == {
                "method": "POST",
                "path": f"/v1/chat/completions?n={number}",
                "body": "hello",
                "x": "kept",
            }
        status, _, body = _call(conn, "GET", "/anything")
        assert (status, json.loads(body)["method"]) == (201, "GET")
        conn.close()
        assert proxy.stats() == {"requests": 4, "forwarded": 4, "faults": {}}


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("429", 429, "application/json"),
        ("500", 500, "application/json"),
        ("garbage", 200, "application/json"),
    ],
)
def test_each_answered_fault_keeps_the_connection_usable(
    upstream: str, kind: str, status: int, content_type: str
) -> None:
    with ChaosProxy(upstream, rate=1.0, kinds=[kind], retry_after=2) as proxy:
        conn = _connect(proxy)
        for _ in range(2):
            got, headers, body = _call(conn, "POST", "/chat/completions", b"{}")
            assert got == status
            assert headers["content-type"] == content_type
            if kind == "garbage":
                with pytest.raises(ValueError):
                    json.loads(body)
            else:
                assert "error" in json.loads(body)
            if kind == "429":
                assert headers["retry-after"] == "2"
        conn.close()
        assert proxy.faults == {kind: 2}
        assert proxy.forwarded == 0


def test_storage_faults_touch_only_uploads_and_answer_as_a_gateway(upstream: str) -> None:
    with ChaosProxy(upstream, rate=1.0, kinds=["503"], eligible=storage_uploads, gateway_text=True) as proxy:
        conn = _connect(proxy)
        status, headers, body = _call(conn, "POST", "/storage/v1/object/health-exports/u/e.pdf", b"%PDF")
        assert (status, headers["content-type"], body) == (503, "text/plain", b"503 Service Unavailable\n")
        for method, path in [
            ("POST", "/storage/v1/object/sign/health-exports/u/e.pdf"),
            ("POST", "/storage/v1/object/list/health-exports"),
            ("GET", "/storage/v1/object/sign/health-exports/u/e.pdf?token=t"),
            ("DELETE", "/storage/v1/object/health-exports"),
        ]:
            assert _call(conn, method, path, b"{}" if method != "GET" else None)[0] == 201
        conn.close()
        assert proxy.stats() == {"requests": 5, "forwarded": 4, "faults": {"503": 1}}
    assert chat_completions("POST", "/chat/completions")
    assert chat_completions("POST", "/v1/chat/completions/")
    assert not chat_completions("GET", "/chat/completions")
    assert not chat_completions("POST", "/models")


def test_a_timeout_holds_past_the_clients_deadline_and_stop_ends_the_hold_at_once(upstream: str) -> None:
    proxy = ChaosProxy(upstream, rate=1.0, kinds=["timeout"], hold_seconds=60).start()
    port = _port(proxy)
    try:
        conn = _connect(proxy, timeout=0.3)
        with pytest.raises(TimeoutError):
            _call(conn, "POST", "/chat/completions", b"{}")
        conn.close()
        deadline = time.monotonic() + 2
        while proxy.holding != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proxy.holding == 1
        # A second client waiting without a deadline sees the connection closed on stop.
        waiting = _connect(proxy, timeout=10)
        waiting.request("POST", "/chat/completions", body=b"{}")
        while proxy.holding != 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        started = time.monotonic()
        proxy.stop()
        stopped_in = time.monotonic() - started
    assert stopped_in < 1.5
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        waiting.getresponse()
    waiting.close()
    deadline = time.monotonic() + 2
    while proxy.holding and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proxy.holding == 0
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass


def test_the_same_seed_draws_the_same_faults_and_the_rate_holds(upstream: str) -> None:
    def sequence(seed: int) -> list[int]:
        with ChaosProxy(upstream, rate=0.3, seed=seed, kinds=["429", "500", "garbage"]) as proxy:
            conn = _connect(proxy)
            statuses = [_call(conn, "POST", "/chat/completions", b"{}")[0] for _ in range(300)]
            conn.close()
            faults = proxy.faults
        assert sum(faults.values()) == sum(s != 201 for s in statuses)
        return statuses

    first, again, other = sequence(7), sequence(7), sequence(8)
    assert first == again
    assert first != other
    failed = sum(s != 201 for s in first)
    assert 66 <= failed <= 114, failed  # 30% of 300, within about three standard deviations


def test_the_upstream_must_be_on_this_machine() -> None:
    with pytest.raises(ValueError, match="on this machine"):
        ChaosProxy("http://example.org", rate=0.1)
    with pytest.raises(ValueError, match="fault kinds"):
        ChaosProxy("http://127.0.0.1:9", rate=0.1, kinds=["418"])
    with pytest.raises(ValueError, match="rate"):
        ChaosProxy("http://127.0.0.1:9", rate=1.5)
