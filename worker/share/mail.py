"""Sending plain e-mail: over SMTP (``SMTP_URL``), or printed (the embedded default).

* ``smtp://[user:password@]host[:port]`` (port 25 by default, 587 is usual): the
  connection is upgraded with STARTTLS whenever the server offers it, verifying the
  server's certificate (against ``SMTP_CA_FILE`` when set, else the system's CAs).
  Credentials are sent only over TLS, or to a server on this machine.
* ``smtps://...`` (port 465 by default): TLS from the first byte.
* No ``SMTP_URL``: :class:`ConsoleMailer` prints each message (with the recipient's
  address left out and every token in a link masked) instead of sending it, so the demo
  and a laptop need no mail server. In production (``PROXIMA_ENV=production``) that is a
  :class:`ConfigError` unless ``PROXIMA_CONSOLE_MAIL=1`` asks for it: a printed share
  e-mail reaches the platform's logs, not the doctor, yet marks the share notified.

Failures become the worker's own errors with messages that name neither the recipient
nor the server's answer text (which often repeats the address): a refused recipient or
bad credentials fail the job at once (an SMTP 5xx), an answer for now (4xx), an unreachable,
silent or busy server is retried.
"""

from __future__ import annotations

import asyncio
import os
import re
import smtplib
import ssl
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol, TextIO
from urllib.parse import unquote, urlsplit

from worker.config import service_settings_from_env
from worker.errors import ConfigError, PermanentError, RetryableError

_LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_DEFAULT_SENDER = "Proxima <no-reply@localhost>"


@dataclass(frozen=True)
class MailSettings:
    """How e-mail leaves the worker. ``smtp_url`` None means print instead of send."""

    smtp_url: str | None = None
    sender: str = _DEFAULT_SENDER
    ca_file: Path | None = None
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.smtp_url is not None:
            _parse_smtp_url(self.smtp_url)
        _, address = parseaddr(self.sender)
        if "@" not in address or any(c in self.sender for c in "\r\n"):
            raise ConfigError("SMTP_FROM must be an address such as 'Proxima <no-reply@example.org>'")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise ConfigError(f"SMTP_CA_FILE names no file: {self.ca_file}")
        if not 0 < self.timeout_seconds <= 600:
            raise ConfigError("SMTP_TIMEOUT must be between 0 and 600 seconds")

    @property
    def backend(self) -> str:
        return "smtp" if self.smtp_url else "console"

    def __repr__(self) -> str:  # never print the password
        where = _parse_smtp_url(self.smtp_url).description if self.smtp_url else "console"
        return f"MailSettings(backend={self.backend!r}, server={where!r})"


@dataclass(frozen=True)
class _SmtpTarget:
    implicit_tls: bool
    host: str
    port: int
    username: str | None
    password: str | None

    @property
    def description(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


def _parse_smtp_url(url: str) -> _SmtpTarget:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ConfigError("SMTP_URL is malformed (expected smtp://user:password@host:port)") from None
    if parts.scheme not in {"smtp", "smtps"}:
        scheme = parts.scheme if parts.scheme.isalnum() else "another"
        raise ConfigError(f"SMTP_URL must start with smtp:// or smtps:// (got a {scheme}:// address)")
    if not parts.hostname:
        raise ConfigError("SMTP_URL names no host (expected smtp://user:password@host:port)")
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"SMTP_URL has an invalid port: {port} (expected 1 to 65535)")
    implicit = parts.scheme == "smtps"
    return _SmtpTarget(
        implicit_tls=implicit,
        host=parts.hostname,
        port=port if port is not None else (465 if implicit else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


_YES = frozenset({"1", "true", "yes", "on"})
_NO = frozenset({"0", "false", "no", "off"})


def _console_mail_wanted(env: Mapping[str, str]) -> bool:
    raw = (env.get("PROXIMA_CONSOLE_MAIL") or "").strip().lower()
    if not raw or raw in _NO:
        return False
    if raw in _YES:
        return True
    raise ConfigError(f"PROXIMA_CONSOLE_MAIL must be 1 or 0 (true or false), not {raw[:20]!r}")


def mail_settings_from_env(env: Mapping[str, str] | None = None) -> MailSettings:
    """``SMTP_URL``, ``SMTP_FROM``, ``SMTP_CA_FILE``, ``SMTP_TIMEOUT``; blank counts as unset.

    In production ``SMTP_URL`` is required unless ``PROXIMA_CONSOLE_MAIL=1`` explicitly
    asks for share e-mails to be printed (tokens masked) instead of sent.
    """
    env = os.environ if env is None else env
    console_wanted = _console_mail_wanted(env)
    if (
        service_settings_from_env(env).production
        and not (env.get("SMTP_URL") or "").strip()
        and not console_wanted
    ):
        raise ConfigError(
            "SMTP_URL is required when PROXIMA_ENV=production: share e-mails would otherwise be"
            " printed to the log instead of sent (set PROXIMA_CONSOLE_MAIL=1 if that is what you want)"
        )
    raw_timeout = (env.get("SMTP_TIMEOUT") or "").strip()
    try:
        timeout = float(raw_timeout) if raw_timeout else 30.0
    except ValueError:
        raise ConfigError("SMTP_TIMEOUT must be a number of seconds") from None
    ca_file = (env.get("SMTP_CA_FILE") or "").strip()
    return MailSettings(
        smtp_url=(env.get("SMTP_URL") or "").strip() or None,
        sender=(env.get("SMTP_FROM") or "").strip() or _DEFAULT_SENDER,
        ca_file=Path(ca_file) if ca_file else None,
        timeout_seconds=timeout,
    )


class Mailer(Protocol):
    """Delivers one message; raises :class:`PermanentError` or :class:`RetryableError`."""

    async def send(self, message: EmailMessage) -> None: ...


# A link in a printed message: scheme and host, then what may carry a token.
_LINK = re.compile(r"(https?://[^/\s?#]+)([/?#]\S*)?")
# A token in a link's path, query or fragment: a run of url-safe characters long enough to
# be a secret (a share token is 43; names such as ``shared-report`` are shorter).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}")
_TOKEN_SHOWN = 4


def mask_tokens(text: str) -> str:
    """``text`` with every token in a link cut to its first four characters and ``…``."""

    def mask_link(match: re.Match[str]) -> str:
        rest = _TOKEN.sub(lambda token: token.group(0)[:_TOKEN_SHOWN] + "…", match.group(2) or "")
        return match.group(1) + rest

    return _LINK.sub(mask_link, text)


class ConsoleMailer:
    """The embedded default: prints each message, its recipient hidden and every token in
    a link masked (what is printed lands in logs: a token there would open the share)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out

    async def send(self, message: EmailMessage) -> None:
        out = self._out or sys.stdout
        lines = [
            f"{header}: {mask_tokens(str(message[header]))}"
            for header in ("From", "Subject", "Date")
            if message[header]
        ]
        lines.append("To: (the recipient; set SMTP_URL to send it)")
        print("\n--- e-mail (not sent: no SMTP_URL; tokens in links masked) ---", file=out)
        print("\n".join(lines) + "\n", file=out)
        print(mask_tokens(str(message.get_content()).rstrip()), file=out)
        print("--- end of e-mail ---", file=out, flush=True)


class SmtpMailer:
    """One SMTP session per message, in a thread (smtplib blocks)."""

    def __init__(self, settings: MailSettings) -> None:
        if settings.smtp_url is None:
            raise ValueError("SmtpMailer needs an SMTP_URL")
        self._settings = settings
        self._target = _parse_smtp_url(settings.smtp_url)

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _tls(self) -> ssl.SSLContext:
        ca_file = self._settings.ca_file
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def _send(self, message: EmailMessage) -> None:
        target, timeout = self._target, self._settings.timeout_seconds
        try:
            smtp: smtplib.SMTP
            if target.implicit_tls:
                smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=self._tls())
            else:
                smtp = smtplib.SMTP(target.host, target.port, timeout=timeout)
            with smtp:
                smtp.ehlo()
                encrypted = target.implicit_tls
                if not encrypted and smtp.has_extn("starttls"):
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                    encrypted = True
                if target.username is not None:
                    if not encrypted and target.host not in _LOCAL_HOSTS:
                        raise PermanentError(
                            "the mail server does not offer STARTTLS: SMTP_URL credentials are not sent in clear"
                        )
                    smtp.login(target.username, target.password or "")
                smtp.send_message(message)
        except (PermanentError, RetryableError):
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            refusal = "the mail server refused the recipient"
            raise _answer([code for code, _ in exc.recipients.values()], refusal, refusal) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise _answer(
                [exc.smtp_code],
                "the mail server refused the SMTP_URL credentials",
                "the mail server could not check the SMTP_URL credentials for now",
            ) from None
        except smtplib.SMTPSenderRefused as exc:
            raise _answer(
                [exc.smtp_code],
                "the mail server refused the sender SMTP_FROM",
                "the mail server turned the sender SMTP_FROM away for now",
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise _answer([exc.smtp_code], "the mail server answered", "the mail server answered") from None
        except smtplib.SMTPNotSupportedError:
            raise PermanentError(
                "the mail server does not support what SMTP_URL asks (such as AUTH)"
            ) from None
        except ssl.SSLCertVerificationError:
            raise PermanentError(
                "the mail server's certificate could not be verified (set SMTP_CA_FILE for a private CA)"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"the mail server could not be reached ({type(exc).__name__})") from None


def _answer(codes: Iterable[int], for_good: str, for_now: str) -> PermanentError | RetryableError:
    """The job's error for the SMTP answers of one step, their codes appended: only 5xx
    refuses for good; any 4xx is "not now" (421 busy, 450 or 451 greylisted or rate-limited,
    454 credentials not checkable) and is retried like a busy server."""
    shown = sorted(set(codes))
    text = ", ".join(map(str, shown))
    if all(code >= 500 for code in shown):
        return PermanentError(f"{for_good} (SMTP {text})")
    return RetryableError(f"{for_now} (SMTP {text})")


def create_mailer(settings: MailSettings, out: TextIO | None = None) -> Mailer:
    return SmtpMailer(settings) if settings.smtp_url else ConsoleMailer(out)
