"""The model requests' HTTP/1.1 client against a scripted server on 127.0.0.1.

Each server below reads whole requests off its sockets (head, then ``Content-Length`` bytes of
body), records them with the connection they came on, and answers with the next scripted
reply: raw bytes, written as they are, then the connection kept open or closed. So every
framing the client accepts (length, chunks, the end of the connection, interim answers) and
every response it must refuse (cut off, too large, not HTTP/1.1) is sent as a server would
send it, through a real socket.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from worker.ai import http11
from worker.ai.http11 import ConnectionPool, Response, TransportError

T = TypeVar("T")

_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)\r\n", re.IGNORECASE)


@dataclass
class Reply:
    """What the server writes for one request, and whether it hangs up after; ``None``
    writes nothing and waits until the client hangs up."""

    data: bytes | None
    close: bool = False
    reset: bool = False  # hang up with a TCP reset instead of a close, writing nothing


@dataclass
class Received:
    connection: int
    head: bytes
    body: bytes


@dataclass
class Scripted:
    replies: list[Reply]
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    ended: int = 0  # connections the client closed or the server hung up on
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = next(self._numbers)
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return  # the client closed the connection
                found = _LENGTH.search(head)
                body = await reader.readexactly(int(found.group(1))) if found else b""
                self.received.append(Received(number, head, body))
                reply = self.replies.pop(0)
                if reply.reset:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if reply.data is None:
                    await reader.read()
                    return
                try:
                    writer.write(reply.data)
                    await writer.drain()
                except ConnectionError:
                    return  # the client gave up on an answer it refused
                if reply.close:
                    return
        finally:
            self.ended += 1
            writer.close()


def ok(body: bytes = b"{}", *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def serve(
    replies: list[Reply],
    client: Callable[[ConnectionPool, Scripted], Awaitable[T]],
    *,
    path: str = "",
    **pool_options: Any,
) -> tuple[T, Scripted]:
    """Run ``client(pool, server)`` against a server answering with ``replies``."""

    async def scenario() -> tuple[T, Scripted]:
        script = Scripted(list(replies))
        server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = ConnectionPool(f"http://127.0.0.1:{port}{path}", **pool_options)
        try:
            async with asyncio.timeout(10):
                result = await client(pool, script)
        finally:
            await pool.aclose()
            server.close()
            await server.wait_closed()
        return result, script

    return asyncio.run(scenario())


HEAD_HEADERS = {"Authorization": "Bearer test-key", "Content-Type": "application/json"}


async def post(pool: ConnectionPool, body: bytes = b'{"q": 1}', path: str = "/chat/completions") -> Response:
    return await pool.post(pool.request_head(path, HEAD_HEADERS), body)


async def refused(pool: ConnectionPool, body: bytes = b'{"q": 1}') -> TransportError:
    with pytest.raises(TransportError) as caught:
        await post(pool, body)
    return caught.value


def contents_of(count: int) -> Callable[[ConnectionPool, Scripted], Awaitable[list[bytes]]]:
    """A client for :func:`serve` that posts ``count`` requests one after another and
    returns each answer's body."""

    async def client(pool: ConnectionPool, _: Scripted) -> list[bytes]:
        return [(await post(pool)).content for _ in range(count)]

    return client


# -- what is sent ---------------------------------------------------------------------------------


def test_the_request_is_one_post_with_its_host_headers_length_and_body_as_given() -> None:
    body = '{"messages": ["ü"]}'.encode()
    response, server = serve([Reply(ok(b'{"a": 1}'))], lambda pool, _: post(pool, body), path="/v1/")
    (received,) = server.received
    lines = received.head.decode("latin-1").split("\r\n")
    port = lines[1].rsplit(":", 1)[1]
    assert lines[0] == "POST /v1/chat/completions HTTP/1.1"
    assert lines[1] == f"Host: 127.0.0.1:{port}"
    assert lines[2:] == [
        "Authorization: Bearer test-key",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "",
        "",
    ]
    assert received.body == body
    assert (response.status, response.content, response.text) == (200, b'{"a": 1}', '{"a": 1}')


def test_the_authority_names_the_port_only_when_it_is_not_the_schemes_own() -> None:
    assert ConnectionPool("https://api.example.test/").authority == "api.example.test"
    assert ConnectionPool("http://api.example.test:80").authority == "api.example.test"
    assert ConnectionPool("https://api.example.test:8443/v1").authority == "api.example.test:8443"
    assert ConnectionPool("http://[::1]:8080").authority == "[::1]:8080"
    assert ConnectionPool("http://[::1]:8080/a/").path_prefix == "/a"


@pytest.mark.parametrize("url", ["ftp://example.test", "http://", "example.test", "", "https:///path"])
def test_a_base_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        ConnectionPool(url)


# -- framings it reads ----------------------------------------------------------------------------


def test_a_kept_alive_connection_serves_the_next_requests() -> None:
    contents, server = serve([Reply(ok(b"1")), Reply(ok(b"2")), Reply(ok(b"3"))], contents_of(3))
    assert contents == [b"1", b"2", b"3"]
    assert server.connections == 1
    assert [r.connection for r in server.received] == [1, 1, 1]


def test_header_names_are_lower_cased_values_trimmed_and_a_repeated_one_keeps_its_last() -> None:
    reply = ok(b"{}", "X-Request-Id:  first ", "x-request-id: second", "Retry-After:\t3")
    response, _ = serve([Reply(reply)], lambda pool, _: post(pool))
    assert response.headers["x-request-id"] == "second"
    assert response.headers["retry-after"] == "3"
    assert response.headers["content-length"] == "2"


def test_a_chunked_body_with_extensions_and_trailers_is_read_whole_and_the_connection_kept() -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n"
        b"1;name=value\r\n \r\n"
        b"A\r\n0123456789\r\n"
        b"0\r\nX-Trailer: yes\r\n\r\n"
    )

    contents, server = serve([Reply(reply), Reply(ok(b"next"))], contents_of(2))
    assert contents == [b"hello 0123456789", b"next"]
    assert server.connections == 1


def test_bare_line_feeds_are_read_as_line_ends() -> None:
    reply = b"HTTP/1.1 200 OK\nContent-Length: 3\nX-A: b\n\nabc"
    response, _ = serve([Reply(reply)], lambda pool, _: post(pool))
    assert (response.status, response.headers["x-a"], response.content) == (200, "b", b"abc")


def test_a_body_ended_by_the_connection_is_read_whole_and_the_connection_not_reused() -> None:
    contents, server = serve(
        [Reply(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100_000, close=True), Reply(ok(b"2"))], contents_of(2)
    )
    assert contents == [b"x" * 100_000, b"2"]
    assert server.connections == 2


def test_interim_answers_are_skipped_to_the_final_one() -> None:
    reply = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok(b"final")
    response, _ = serve([Reply(reply)], lambda pool, _: post(pool))
    assert (response.status, response.content, "link" in response.headers) == (200, b"final", False)


def test_a_204_has_no_body_and_keeps_the_connection() -> None:
    async def twice(pool: ConnectionPool, _: Scripted) -> list[Response]:
        return [await post(pool) for _ in range(2)]

    (first, second), server = serve([Reply(b"HTTP/1.1 204 No Content\r\n\r\n"), Reply(ok(b"2"))], twice)
    assert (first.status, first.content, second.content) == (204, b"", b"2")
    assert server.connections == 1


@pytest.mark.parametrize(
    "reply",
    [
        ok(b"bye", "Connection: close"),
        ok(b"bye", "Connection: Keep-Alive, Close"),
        b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbye",
    ],
    ids=["connection-close", "close-in-a-list", "http-1.0"],
)
def test_a_connection_the_server_will_close_is_not_reused(reply: bytes) -> None:
    contents, server = serve([Reply(reply), Reply(ok(b"2"))], contents_of(2))
    assert contents == [b"bye", b"2"]
    assert server.connections == 2


def test_error_statuses_are_answers_not_transport_errors() -> None:
    reply = ok(b'{"error": {"message": "busy"}}').replace(b"200 OK", b"503 Service Unavailable")
    response, _ = serve([Reply(reply)], lambda pool, _: post(pool))
    assert (response.status, response.content) == (503, b'{"error": {"message": "busy"}}')


def test_a_body_that_is_not_utf8_is_still_text_with_replacement_characters() -> None:
    response, _ = serve([Reply(ok(b"caf\xe9 \xff"))], lambda pool, _: post(pool))
    assert response.text == "caf\ufffd \ufffd"


# -- connections -----------------------------------------------------------------------------------


def test_a_kept_connection_the_server_dropped_meanwhile_is_replaced_and_the_request_sent_once_more() -> None:
    # The server reads the second request on the kept connection and hangs up without a
    # byte of answer (the keep-alive race): the client sends it again on a new connection.
    async def twice(pool: ConnectionPool, _: Scripted) -> list[bytes]:
        return [(await post(pool, b'{"n": %d}' % n)).content for n in range(2)]

    contents, server = serve([Reply(ok(b"1")), Reply(b"", close=True), Reply(ok(b"2"))], twice)
    assert contents == [b"1", b"2"]
    assert [(r.connection, r.body) for r in server.received] == [
        (1, b'{"n": 0}'),
        (1, b'{"n": 1}'),
        (2, b'{"n": 1}'),
    ]


def test_a_kept_connection_the_server_reset_meanwhile_is_replaced_and_the_request_sent_once_more() -> None:
    contents, server = serve([Reply(ok(b"1")), Reply(b"", reset=True), Reply(ok(b"2"))], contents_of(2))
    assert contents == [b"1", b"2"]
    assert [r.connection for r in server.received] == [1, 1, 2]


def test_a_new_connection_reset_without_an_answer_is_a_read_error_not_tried_again() -> None:
    error, server = serve([Reply(b"", reset=True), Reply(ok())], lambda pool, _: refused(pool))
    assert error.kind == "ReadError"
    assert len(server.received) == 1


def test_a_new_connection_that_closes_without_an_answer_is_not_tried_again() -> None:
    error, server = serve([Reply(b"", close=True), Reply(ok())], lambda pool, _: refused(pool))
    assert error.kind == "RemoteProtocolError"
    assert "disconnected without a response" in str(error)
    assert len(server.received) == 1


def test_a_kept_connection_cut_off_after_part_of_its_answer_is_an_error_not_a_second_request() -> None:
    async def twice(pool: ConnectionPool, _: Scripted) -> TransportError:
        await post(pool)
        return await refused(pool)

    error, server = serve(
        [Reply(ok(b"1")), Reply(b"HTTP/1.1 200 OK\r\nContent-Le", close=True), Reply(ok())], twice
    )
    assert error.kind == "RemoteProtocolError"
    assert len(server.received) == 2


def test_a_refused_connection_is_a_connect_error() -> None:
    async def scenario() -> TransportError:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        pool = ConnectionPool(f"http://127.0.0.1:{port}")
        return await refused(pool)

    error = asyncio.run(scenario())
    assert error.kind == "ConnectError"
    assert "127.0.0.1" not in str(error)


def test_a_request_cancelled_by_its_deadline_closes_its_connection() -> None:
    async def late(pool: ConnectionPool, server: Scripted) -> int:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await post(pool)
        for _ in range(100):  # the server sees the connection end
            if server.ended:
                break
            await asyncio.sleep(0.01)
        return pool.idle_connections

    # The server never answers.
    idle, server = serve([Reply(None)], late)
    assert idle == 0
    assert server.ended == 1


def test_bytes_after_an_answer_make_its_connection_unusable() -> None:
    async def twice(pool: ConnectionPool, _: Scripted) -> list[bytes]:
        first = (await post(pool)).content
        await asyncio.sleep(0.05)  # the stray bytes arrive
        return [first, (await post(pool)).content]

    contents, server = serve([Reply(ok(b"1") + b"HTTP/1.1 200 OK\r\n"), Reply(ok(b"2"))], twice)
    assert contents == [b"1", b"2"]
    assert server.connections == 2


def test_idle_connections_expire_and_at_most_max_idle_are_kept() -> None:
    async def scenario(pool: ConnectionPool, server: Scripted) -> tuple[int, int, int]:
        await asyncio.gather(post(pool), post(pool), post(pool))
        kept = pool.idle_connections
        await asyncio.sleep(0.15)  # past the expiry
        await post(pool)
        return kept, pool.idle_connections, server.connections

    (kept, after, connections), _ = serve(
        [Reply(ok(str(n).encode())) for n in range(4)], scenario, max_idle=2, keepalive_expiry=0.1
    )
    assert kept == 2
    assert after == 1
    assert connections == 4


def test_a_closed_pool_keeps_no_connection() -> None:
    async def scenario(pool: ConnectionPool, server: Scripted) -> int:
        await post(pool)
        await pool.aclose()
        return pool.idle_connections

    idle, _ = serve([Reply(ok())], scenario)
    assert idle == 0


# -- responses it refuses --------------------------------------------------------------------------

NOT_HTTP = "not valid HTTP/1.1"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"HTTP/2 200\r\nContent-Length: 0\r\n\r\n", NOT_HTTP),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * (http11.MAX_HEADERS + 1) + b"\r\n", NOT_HTTP),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * (300 * 1024) + b"\r\n\r\n", NOT_HTTP),
    ],
    ids=[
        "http-2",
        "not-http",
        "four-digit-status",
        "status-not-a-number",
        "no-status",
        "header-without-colon",
        "negative-length",
        "length-not-a-number",
        "chunk-size-not-hex",
        "chunk-not-ended",
        "too-many-headers",
        "header-line-over-256k",
    ],
)
def test_a_response_that_is_not_http_1_1_is_refused(reply: bytes, message: str) -> None:
    error, _ = serve([Reply(reply, close=True)], lambda pool, _: refused(pool))
    assert error.kind == "RemoteProtocolError"
    assert message in str(error)


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd",
        b"HTTP/1.1 200 OK\r\nContent-Le",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n",
    ],
    ids=["body-short", "head-cut", "chunk-short", "no-last-chunk", "trailers-cut"],
)
def test_a_response_cut_off_by_the_server_is_refused(reply: bytes) -> None:
    error, _ = serve([Reply(reply, close=True)], lambda pool, _: refused(pool))
    assert error.kind == "RemoteProtocolError"
    assert "cut off" in str(error)


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n" + b"x" * 1001,
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"1F4\r\n"
        + b"x" * 500
        + b"\r\n"
        + b"1F5\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 1001,
    ],
    ids=["length-over", "length-huge-unsent", "chunks-over", "until-close-over"],
)
def test_a_body_over_the_limit_is_refused_without_reading_it_all(
    reply: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http11, "MAX_BODY", 1000)
    error, _ = serve([Reply(reply, close=True)], lambda pool, _: refused(pool))
    assert error.kind == "RemoteProtocolError"
    assert "too large" in str(error)


def test_a_body_at_the_limit_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http11, "MAX_BODY", 1000)
    replies = [
        Reply(ok(b"x" * 1000)),
        Reply(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3E8\r\n" + b"y" * 1000 + b"\r\n0\r\n\r\n"
        ),
        Reply(b"HTTP/1.1 200 OK\r\n\r\n" + b"z" * 1000, close=True),
    ]

    contents, _ = serve(replies, contents_of(3))
    assert contents == [b"x" * 1000, b"y" * 1000, b"z" * 1000]


def test_an_error_leaves_nothing_behind_for_the_next_request() -> None:
    async def scenario(pool: ConnectionPool, _: Scripted) -> bytes:
        await refused(pool)
        return (await post(pool)).content

    content, server = serve(
        [Reply(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), Reply(ok(b"fine"))], scenario
    )
    assert content == b"fine"
    assert server.connections == 2
