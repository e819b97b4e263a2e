"""A real SMTP server on 127.0.0.1 (aiosmtpd), recording what it receives::

    with SmtpServer(tls=True) as server:          # offers STARTTLS with a self-signed cert
        settings = MailSettings(smtp_url=server.url, ca_file=server.ca_file)
        ...
        [message] = server.messages                # envelope, parsed message, whether TLS was on

``refuse_with=550`` refuses every recipient with that code (and a reply that repeats the
address, as real servers do). The server runs in aiosmtpd's own thread and stops when the
``with`` block ends.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Received", "SmtpServer"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool


class _Recorder:
    def __init__(self, refuse_with: int | None) -> None:
        self.refuse_with = refuse_with
        self.messages: list[Received] = []

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse_with is not None:
            return f"{self.refuse_with} 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, tls=session.ssl is not None)
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


class SmtpServer:
    """aiosmtpd on ``127.0.0.1:<free port>``; see the module docstring."""

    def __init__(self, *, tls: bool = False, refuse_with: int | None = None) -> None:
        self._recorder = _Recorder(refuse_with)
        self._folder = tempfile.TemporaryDirectory(prefix="fake-smtp-")
        self.port = _free_port()
        self.ca_file: Path | None = None
        kwargs: dict[str, Any] = {}
        if tls:
            cert_file, key_file = _self_signed(Path(self._folder.name))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_file, key_file)
            kwargs.update(tls_context=context, require_starttls=False)
            self.ca_file = cert_file
        self._controller = Controller(self._recorder, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[Received]:
        return list(self._recorder.messages)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._controller.stop()
        self._folder.cleanup()
