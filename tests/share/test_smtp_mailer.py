"""The SMTP mailer against real servers on this machine: every answer a mail server may give
at each step of a session, and what the share e-mail job makes of it.

A refusal for good (5xx) fails the job at once; an answer for now (4xx), a busy or silent
server, or one that cannot be reached is retried. No error names the recipient or repeats
the server's words (which often quote the address). The servers are aiosmtpd with scripted
answers, and for a greeting aiosmtpd would not give, a raw socket, all on loopback addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fake_smtp import SmtpServer

from worker.errors import PermanentError, RetryableError
from worker.share.mail import MailSettings, SmtpMailer

RECIPIENT = "dr.quinn@clinic.example"
SENDER = "Proxima <no-reply@proxima.example>"


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = RECIPIENT
    message["Subject"] = "A health report was shared with you"
    message.set_content("Open the link to read it.")
    return message


@dataclass
class Script:
    """What the server answers at each step (None: accept), what it received, and the
    credentials it was given."""

    mail: str | None = None
    rcpt: str | None = None
    data: str | None = None
    auth: AuthResult | None = None
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook names
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.mail:
            return self.mail
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.rcpt:
            return self.rcpt.replace("{address}", address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data:
            return self.data
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return self.auth or AuthResult(success=True)


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def smtp_server(script: Script, *, host: str = "127.0.0.1", auth: bool = False) -> Iterator[str]:
    """aiosmtpd on ``host`` answering as ``script`` says; yields its address (host:port).
    With ``auth`` it offers AUTH without TLS (the mailer sends credentials in clear only to
    a server on this machine)."""
    options: dict[str, Any] = {}
    if auth:
        options.update(authenticator=script.authenticate, auth_require_tls=False)
    port = _free_port(host)
    controller = Controller(script, hostname=host, port=port, **options)
    controller.start()
    try:
        yield f"{host}:{port}"
    finally:
        controller.stop()


@contextlib.contextmanager
def raw_server(greeting: bytes | None) -> Iterator[str]:
    """A socket on 127.0.0.1 that accepts one session, writes ``greeting`` (None: nothing,
    ever) and waits for the client to hang up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)
    done = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                if greeting is not None:
                    conn.sendall(greeting)
                conn.settimeout(10)
                while not done.is_set() and conn.recv(1024):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        listener.close()
        thread.join(15)


def send(url: str, **settings: Any) -> None:
    mailer = SmtpMailer(MailSettings(smtp_url=url, sender=SENDER, **settings))
    asyncio.run(mailer.send(_message()))


def refused(url: str, error: type[Exception], **settings: Any) -> str:
    with pytest.raises(error) as caught:
        send(url, **settings)
    message = str(caught.value)
    assert RECIPIENT not in message
    assert "clinic" not in message
    return message


# -- delivered ------------------------------------------------------------------------------


def test_a_message_is_delivered_from_the_sender_to_the_recipient() -> None:
    script = Script()
    with smtp_server(script) as where:
        send(f"smtp://{where}")
    [(mail_from, rcpt_tos, content)] = script.received
    assert mail_from == "no-reply@proxima.example"
    assert rcpt_tos == [RECIPIENT]
    assert b"Open the link to read it." in content


def test_credentials_from_the_url_are_given_percent_decoded_and_the_message_delivered() -> None:
    script = Script()
    with smtp_server(script, auth=True) as where:
        send(f"smtp://mailer%40proxima:p%40ss%3Aword@{where}")
    assert script.logins == [("mailer@proxima", "p@ss:word")]
    assert len(script.received) == 1


def test_starttls_is_used_when_offered_and_the_certificate_checked_against_the_ca_file() -> None:
    with SmtpServer(tls=True) as server:
        send(server.url, ca_file=server.ca_file)
        [received] = server.messages
    assert received.tls
    assert received.rcpt_tos == [RECIPIENT]


# -- refused: for good at 5xx (the job fails at once), for now at 4xx (retried) ---------------


@pytest.mark.parametrize(
    ("script", "error", "expected"),
    [
        (
            Script(rcpt="550 5.1.1 <{address}>: Recipient address rejected"),
            PermanentError,
            "the mail server refused the recipient (SMTP 550)",
        ),
        (
            Script(rcpt="553 5.1.3 <{address}>: bad address syntax"),
            PermanentError,
            "the mail server refused the recipient (SMTP 553)",
        ),
        (
            Script(mail="553 5.7.1 Sender address rejected: not owned by user"),
            PermanentError,
            "the mail server refused the sender SMTP_FROM (SMTP 553)",
        ),
        (
            Script(data="554 5.7.1 Message rejected as spam"),
            PermanentError,
            "the mail server answered (SMTP 554)",
        ),
        (
            Script(rcpt="450 4.2.0 <{address}>: Recipient address rejected: greylisted"),
            RetryableError,
            "the mail server refused the recipient (SMTP 450)",
        ),
        (
            Script(mail="451 4.7.1 Sender rate limit exceeded, try again later"),
            RetryableError,
            "the mail server turned the sender SMTP_FROM away for now (SMTP 451)",
        ),
        (
            Script(mail="421 4.3.2 Service shutting down"),
            RetryableError,
            "the mail server turned the sender SMTP_FROM away for now (SMTP 421)",
        ),
        (
            Script(data="452 4.3.1 Insufficient system storage"),
            RetryableError,
            "the mail server answered (SMTP 452)",
        ),
    ],
    ids=[
        "recipient-550",
        "recipient-553",
        "sender-553",
        "data-554",
        "recipient-450",
        "sender-451",
        "sender-421",
        "data-452",
    ],
)
def test_an_smtp_refusal_fails_for_good_at_5xx_and_is_retried_at_4xx_naming_only_step_and_code(
    script: Script, error: type[Exception], expected: str
) -> None:
    """A 5xx fails the job at once (a permanent error); a 4xx ("not now": greylisting, a rate
    limit, a server shutting down, storage) is retried. Nothing is sent either way."""
    with smtp_server(script) as where:
        assert refused(f"smtp://{where}", error) == expected
    assert script.received == []


def test_refused_credentials_are_a_permanent_error_and_nothing_is_sent() -> None:
    script = Script(auth=AuthResult(success=False, handled=False))
    with smtp_server(script, auth=True) as where:
        message = refused(f"smtp://mailer:secret-pw@{where}", PermanentError)
    assert message == "the mail server refused the SMTP_URL credentials (SMTP 535)"
    assert "secret-pw" not in message
    assert script.received == []


def test_credentials_for_a_server_without_auth_are_a_permanent_error() -> None:
    script = Script()
    with smtp_server(script) as where:
        message = refused(f"smtp://mailer:secret-pw@{where}", PermanentError)
    assert "does not support what SMTP_URL asks" in message
    assert script.received == []


def test_credentials_are_never_sent_in_clear_to_a_server_elsewhere() -> None:
    # 127.0.0.2 is this machine too, but not an address the mailer counts as local: for it,
    # a server that offers no STARTTLS is one elsewhere.
    script = Script()
    with smtp_server(script, host="127.0.0.2", auth=True) as where:
        message = refused(f"smtp://mailer:secret-pw@{where}", PermanentError)
    assert "does not offer STARTTLS" in message
    assert script.logins == []
    assert script.received == []


def test_a_certificate_that_cannot_be_verified_is_a_permanent_error_naming_the_setting() -> None:
    with SmtpServer(tls=True) as server:
        message = refused(server.url, PermanentError)
        assert server.messages == []
    assert "SMTP_CA_FILE" in message


def test_a_greeting_that_refuses_service_is_a_permanent_error() -> None:
    with raw_server(b"554 5.3.2 No SMTP service here\r\n") as where:
        assert refused(f"smtp://{where}", PermanentError) == "the mail server answered (SMTP 554)"


# -- refused for now, busy, silent or away: the job is retried ----------------------------


def test_credentials_that_cannot_be_checked_for_now_are_a_retryable_error() -> None:
    script = Script(
        auth=AuthResult(success=False, handled=False, message="454 4.7.0 Temporary authentication failure")
    )
    with smtp_server(script, auth=True) as where:
        message = refused(f"smtp://mailer:secret-pw@{where}", RetryableError)
    assert "SMTP 454" in message
    assert "secret-pw" not in message
    assert script.received == []


def test_a_busy_greeting_is_a_retryable_error() -> None:
    with raw_server(b"421 4.3.2 Too many connections, try again later\r\n") as where:
        assert refused(f"smtp://{where}", RetryableError) == "the mail server answered (SMTP 421)"


def test_a_server_that_never_greets_is_a_retryable_error_within_the_timeout() -> None:
    with raw_server(None) as where:
        message = refused(f"smtp://{where}", RetryableError, timeout_seconds=0.5)
    # smtplib reports its read timing out as the server having hung up.
    assert message == "the mail server could not be reached (SMTPServerDisconnected)"


def test_a_server_that_cannot_be_reached_is_a_retryable_error() -> None:
    with raw_server(None) as where:
        pass  # nothing listens there any more
    message = refused(f"smtp://{where}", RetryableError)
    assert message == "the mail server could not be reached (ConnectionRefusedError)"
