"""Settings read from the environment, validated once, passed around as objects."""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from worker.errors import ConfigError

_URL_SCHEMES = ("postgres://", "postgresql://")
# Header-safe: a key with a space, a control or a non-ASCII character (a pasted en dash or
# curly quote) cannot be sent in an HTTP header, and is a paste error.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class DatabaseTarget:
    """A validated PostgreSQL connection string and a description safe to print."""

    conninfo: str

    @property
    def description(self) -> str:
        """``host:port/dbname``: never the user's password."""
        params = conninfo_to_dict(self.conninfo)
        dbname = params.get("dbname") or params.get("user") or "postgres"
        servers = ",".join(f"{host or 'localhost'}:{port or '5432'}" for host, port in _servers(params))
        return f"{servers}/{dbname}"


def _servers(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (host, port) pairs libpq tries in turn: a list of hosts takes one port for all or
    one port each; an empty entry is the default ("" here). Unpaired lists raise ValueError."""
    hosts = [h.strip() for h in str(params.get("host") or params.get("hostaddr") or "").split(",")]
    port = params.get("port")
    ports = [p.strip() for p in str(port).split(",")] if port is not None else [""]
    if len(ports) == 1:
        ports = ports * len(hosts)
    if len(ports) != len(hosts):
        raise ValueError(f"names {len(hosts)} host(s) but {len(ports)} ports")
    return list(zip(hosts, ports, strict=True))


def _redact(text: str, conninfo: str) -> str:
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except psycopg.Error:
        match = re.search(r"://[^:/@]*:([^@]*)@", conninfo)
        password = match.group(1) if match else None
    return text.replace(str(password), "***") if password else text


def parse_database_url(value: str, *, source: str = "DATABASE_URL") -> DatabaseTarget:
    """Validate a connection string without connecting.

    Accepts ``postgresql://`` URLs and libpq ``key=value`` strings; anything else is a
    :class:`ConfigError` naming the setting, with any password left out of the message.
    """
    value = value.strip()
    if not value:
        raise ConfigError(f"{source} is empty")
    looks_like_url = "://" in value
    if looks_like_url and not value.startswith(_URL_SCHEMES):
        scheme = value.split("://", 1)[0]
        raise ConfigError(f"{source} must start with postgresql:// (got a {scheme}:// address)")
    if not looks_like_url and "=" not in value:
        raise ConfigError(
            f"{source} is not a PostgreSQL URL (expected postgresql://user:password@host:port/db)"
        )
    try:
        params = conninfo_to_dict(value)
    except psycopg.Error as exc:
        reason = _redact(str(exc).strip().splitlines()[0], value)
        raise ConfigError(f"{source} is malformed: {reason}") from None
    try:
        servers = _servers(params)
    except ValueError as exc:
        raise ConfigError(f"{source} {exc}") from None
    for _, port in servers:
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f"{source} has an invalid port: {port!r}")
    if _supabase_transaction_pooler(servers):
        raise ConfigError(
            f"{source} points at Supabase's transaction pooler (port 6543), which keeps no prepared"
            " statements between transactions and delivers no LISTEN notifications: use port 5432"
            " of the same host (the session pooler, or on db.<ref>.supabase.co the direct connection)"
        )
    return DatabaseTarget(value)


# Supabase's poolers listen on port 6543 in transaction mode only: the shared pooler
# (Supavisor, ``<region>.pooler.supabase.com``) and the dedicated one (PgBouncer, on the
# database's own host ``db.<ref>.supabase.co``). The worker's statements are prepared after
# a few uses and it waits for jobs with LISTEN; neither survives a pooler that hands each
# transaction to any server connection. Session mode (port 5432, same hosts) keeps both.
_TRANSACTION_POOLER_PORT = "6543"


def _supabase_transaction_pooler(servers: list[tuple[str, str]]) -> bool:
    """Whether any (host, port) of the connection string is one of Supabase's transaction poolers."""
    for given, port in servers:
        host = given.lower().rstrip(".")
        supabase = host.endswith(".pooler.supabase.com") or (
            host.startswith("db.") and host.endswith(".supabase.co")
        )
        if supabase and port == _TRANSACTION_POOLER_PORT:
            return True
    return False


def database_url_from_env(env: Mapping[str, str] | None = None) -> DatabaseTarget | None:
    """``DATABASE_URL`` if set, validated; ``None`` means the local harness is used."""
    env = os.environ if env is None else env
    value = env.get("DATABASE_URL")
    if value is None or not value.strip():
        return None
    return parse_database_url(value)


_DEFAULT_DEEPSEEK_URL = "https://api.deepseek.com"
_DEFAULT_DEEPSEEK_MODEL = "deepseek-reasoner"


# The most model requests a process may have open at once (DEEPSEEK_MAX_CONCURRENCY).
MAX_REQUEST_SLOTS = 1000


@dataclass(frozen=True)
class AISettings:
    """Which model writes the reports, and how it is reached.

    ``provider`` is ``deepseek`` when ``DEEPSEEK_API_KEY`` is set, else ``local`` (the
    deterministic offline writer); ``PROXIMA_AI_PROVIDER`` chooses explicitly.
    """

    provider: str = "local"
    api_key: str | None = None
    base_url: str = _DEFAULT_DEEPSEEK_URL
    model: str = _DEFAULT_DEEPSEEK_MODEL
    timeout_seconds: float = 120.0
    max_concurrency: int = 16
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if self.provider not in {"local", "deepseek"}:
            raise ConfigError(f"PROXIMA_AI_PROVIDER must be local or deepseek, not {self.provider!r}")
        if self.provider == "deepseek" and not self.api_key:
            raise ConfigError("the deepseek provider needs DEEPSEEK_API_KEY")
        if self.api_key is not None and not _HEADER_SAFE.fullmatch(self.api_key):
            # Not echoed, not even the offending character: it is part of the key.
            raise ConfigError(
                "DEEPSEEK_API_KEY contains a space, a control character or a character outside"
                " ASCII (such as a pasted dash or quote): copy the key again"
            )
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"DEEPSEEK_BASE_URL must be an http(s) URL{_scheme_hint(self.base_url)}")
        _check_base_url(self.base_url)
        if not re.fullmatch(r"[A-Za-z0-9._:/-]{1,100}", self.model):
            raise ConfigError(f"DEEPSEEK_MODEL is not a model name: {self.model!r}")
        if not 0 < self.timeout_seconds <= 3600:
            raise ConfigError("DEEPSEEK_TIMEOUT must be between 0 and 3600 seconds")
        if not 1 <= self.max_concurrency <= MAX_REQUEST_SLOTS:
            raise ConfigError(f"DEEPSEEK_MAX_CONCURRENCY must be between 1 and {MAX_REQUEST_SLOTS}")
        if not 1 <= self.max_attempts <= 10:
            raise ConfigError("DEEPSEEK_MAX_ATTEMPTS must be between 1 and 10")

    def __repr__(self) -> str:  # never print the key
        return f"AISettings(provider={self.provider!r}, model={self.model!r}, base_url={self.base_url!r})"


def _check_base_url(url: str) -> None:
    """``DEEPSEEK_BASE_URL`` names a host and, if any, a port from 1 to 65535 (the URL is
    not echoed: it may carry credentials)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(
            "DEEPSEEK_BASE_URL has an invalid port (expected https://host[:port] with a port from 1 to 65535)"
        ) from None
    if not parts.hostname:
        raise ConfigError("DEEPSEEK_BASE_URL names no host (expected https://host[:port])")
    if port is not None and not 0 < port < 65536:
        raise ConfigError("DEEPSEEK_BASE_URL has an invalid port (expected a port from 1 to 65535)")


# Job slots a worker process runs for each model request slot. A job holds its slot while
# it gathers, checks and stores, not only while the model answers; when answers come fast
# that is a fifth of its time or more, and with only 20% more job slots the request slots
# idled: 2,000 person-weeks at 1 s with 200 requests at once took 1.123-1.129x the bound with
# 240 job slots, 1.085-1.089x with 300 and 1.076-1.083x with 400 (two interleaved rounds,
# `bench/weekly_run.py --people 2000 --job-concurrency N --guide-batches 1 --db-sample 20`;
# 300 against 240 in three more: 1.093-1.118x against 1.110-1.135x). The jobs waiting for a
# request slot are the weekly batch's: a refresh's requests go first (worker.ai.slots).
JOB_SLOTS_PER_REQUEST_SLOT = 2
# The most jobs a process may run at once: its default job slots for the most request slots.
MAX_JOB_SLOTS = MAX_REQUEST_SLOTS * JOB_SLOTS_PER_REQUEST_SLOT


def default_job_slots(ai: AISettings) -> int:
    """Jobs a worker process runs at once unless told otherwise: twice its model request
    slots with DeepSeek, 8 with the local provider (it answers at once)."""
    if ai.provider != "deepseek":
        return 8
    return ai.max_concurrency * JOB_SLOTS_PER_REQUEST_SLOT


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw[:20]!r}") from None
    if not math.isfinite(value):  # inf, nan, and 1e400 (which float() reads as inf)
        raise ConfigError(f"{name} must be a finite number, not {raw[:20]!r}")
    return value


def ai_settings_from_env(env: Mapping[str, str] | None = None) -> AISettings:
    env = os.environ if env is None else env
    key = (env.get("DEEPSEEK_API_KEY") or "").strip() or None
    provider = (env.get("PROXIMA_AI_PROVIDER") or "").strip() or ("deepseek" if key else "local")
    concurrency = _number(env, "DEEPSEEK_MAX_CONCURRENCY", 16)
    attempts = _number(env, "DEEPSEEK_MAX_ATTEMPTS", 3)
    if concurrency != int(concurrency) or attempts != int(attempts):
        raise ConfigError("DEEPSEEK_MAX_CONCURRENCY and DEEPSEEK_MAX_ATTEMPTS must be whole numbers")
    return AISettings(
        provider=provider,
        api_key=key,
        base_url=(env.get("DEEPSEEK_BASE_URL") or _DEFAULT_DEEPSEEK_URL).strip().rstrip("/"),
        model=(env.get("DEEPSEEK_MODEL") or _DEFAULT_DEEPSEEK_MODEL).strip(),
        timeout_seconds=_number(env, "DEEPSEEK_TIMEOUT", 120.0),
        max_concurrency=int(concurrency),
        max_attempts=int(attempts),
    )


# -- Storage of exported PDFs ---------------------------------------------------------------------

# Appended below the rest of the module on purpose (this section is owned separately);
# move it to the imports at the top when the file is next reorganised.

_DEFAULT_EXPORT_BUCKET = "health-exports"
_BUCKET_NAME = re.compile(r"[a-z0-9-]{3,63}")
_HTTP_URL = re.compile(r"https?://[^/\s?#@]+(?:/[^\s?#]*)?")


def _scheme_hint(url: str) -> str:
    # Only a plain scheme is echoed: the rest of a malformed URL may hold a password.
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return f" (got a {scheme}:// address)" if re.fullmatch(r"[a-z][a-z0-9+.-]{0,15}", scheme) else ""


@dataclass(frozen=True)
class StorageSettings:
    """Where exported PDFs are stored.

    ``backend`` is ``supabase`` when both ``SUPABASE_URL`` and the service key are set, and
    ``local`` (files under ``local_dir``) when neither is; one without the other is a
    :class:`ConfigError` naming the missing one. The key never appears in ``repr`` or in
    an error message.
    """

    supabase_url: str | None = None
    service_key: str | None = None
    bucket: str = _DEFAULT_EXPORT_BUCKET
    local_dir: Path = Path("exports")

    def __post_init__(self) -> None:
        if self.supabase_url and not self.service_key:
            raise ConfigError("SUPABASE_URL is set but SUPABASE_SERVICE_ROLE_KEY is missing")
        if self.service_key and not self.supabase_url:
            raise ConfigError("SUPABASE_SERVICE_ROLE_KEY is set but SUPABASE_URL is missing")
        if self.supabase_url and not _HTTP_URL.fullmatch(self.supabase_url):
            raise ConfigError(
                "SUPABASE_URL must be an http(s) URL without user or password, such as "
                f"https://<project>.supabase.co{_scheme_hint(self.supabase_url)}"
            )
        if self.service_key and not _HEADER_SAFE.fullmatch(self.service_key):
            raise ConfigError("SUPABASE_SERVICE_ROLE_KEY contains spaces or control characters")
        if not _BUCKET_NAME.fullmatch(self.bucket):
            raise ConfigError(
                f"PROXIMA_EXPORT_BUCKET must be 3 to 63 lower-case letters, digits or hyphens, not {self.bucket!r}"
            )

    @property
    def backend(self) -> str:
        """``supabase`` or ``local``."""
        return "supabase" if self.supabase_url and self.service_key else "local"

    def __repr__(self) -> str:  # never print the key
        return (
            f"StorageSettings(backend={self.backend!r}, supabase_url={self.supabase_url!r}, "
            f"bucket={self.bucket!r}, local_dir={str(self.local_dir)!r})"
        )


def storage_settings_from_env(env: Mapping[str, str] | None = None) -> StorageSettings:
    """``SUPABASE_URL``, ``SUPABASE_SERVICE_ROLE_KEY`` (or ``SUPABASE_SERVICE_KEY``),
    ``PROXIMA_EXPORT_BUCKET`` and ``PROXIMA_EXPORT_DIR``; blank values count as unset."""
    env = os.environ if env is None else env
    url = (env.get("SUPABASE_URL") or "").strip().rstrip("/") or None
    key = (
        (env.get("SUPABASE_SERVICE_ROLE_KEY") or "").strip()
        or (env.get("SUPABASE_SERVICE_KEY") or "").strip()
        or None
    )
    return StorageSettings(
        supabase_url=url,
        service_key=key,
        bucket=(env.get("PROXIMA_EXPORT_BUCKET") or "").strip() or _DEFAULT_EXPORT_BUCKET,
        local_dir=Path((env.get("PROXIMA_EXPORT_DIR") or "").strip() or "exports"),
    )


# -- Running as a deployed service ----------------------------------------------------------------

_ENVIRONMENTS = ("development", "production")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class ServiceSettings:
    """How the worker runs as a service.

    ``environment`` is ``development`` (the default: without ``DATABASE_URL`` the local
    cluster is used, PDFs go to a folder) or ``production`` (``PROXIMA_ENV=production``:
    the database, Storage and, unless ``PROXIMA_AI_PROVIDER=local`` says otherwise,
    DeepSeek must be configured, so a forgotten variable stops the process instead of
    quietly writing to a container's disk). ``port`` (``PORT``) serves ``/health`` and
    ``/metrics`` when set, on ``health_host`` (``PROXIMA_HEALTH_HOST``, default all
    interfaces). ``log_level`` is ``PROXIMA_LOG_LEVEL`` (``--log-level`` wins).
    """

    environment: str = "development"
    port: int | None = None
    log_level: str = "INFO"
    health_host: str = "0.0.0.0"  # noqa: S104 - a container's health check comes from outside it

    def __post_init__(self) -> None:
        if self.environment not in _ENVIRONMENTS:
            raise ConfigError(f"PROXIMA_ENV must be development or production, not {self.environment!r}")
        if self.port is not None and not 0 < self.port < 65536:
            raise ConfigError(f"PORT must be a port number from 1 to 65535, not {self.port}")
        try:
            ipaddress.ip_address(self.health_host)
        except ValueError:
            raise ConfigError(
                f"PROXIMA_HEALTH_HOST must be an IP address such as 0.0.0.0 or 127.0.0.1, not {self.health_host[:40]!r}"
            ) from None
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(
                f"PROXIMA_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, not {self.log_level!r}"
            )

    @property
    def production(self) -> bool:
        return self.environment == "production"


def service_settings_from_env(env: Mapping[str, str] | None = None) -> ServiceSettings:
    env = os.environ if env is None else env
    raw_port = (env.get("PORT") or "").strip()
    port: int | None = None
    if raw_port:
        if not raw_port.isdigit():
            raise ConfigError(f"PORT must be a port number from 1 to 65535, not {raw_port[:20]!r}")
        port = int(raw_port)
    return ServiceSettings(
        environment=(env.get("PROXIMA_ENV") or "").strip().lower() or "development",
        port=port,
        log_level=(env.get("PROXIMA_LOG_LEVEL") or "").strip().upper() or "INFO",
        health_host=(env.get("PROXIMA_HEALTH_HOST") or "").strip() or "0.0.0.0",  # noqa: S104
    )


def require_production_settings(env: Mapping[str, str] | None = None) -> None:
    """In production, the settings without which the worker would quietly do the wrong thing."""
    env = os.environ if env is None else env
    if not service_settings_from_env(env).production:
        return
    if database_url_from_env(env) is None:
        raise ConfigError("DATABASE_URL is required when PROXIMA_ENV=production")
    storage = storage_settings_from_env(env)
    if storage.backend != "supabase":
        raise ConfigError(
            "SUPABASE_URL is required when PROXIMA_ENV=production (with SUPABASE_SERVICE_ROLE_KEY): "
            "PDFs would otherwise be written inside the container"
        )
    explicit_provider = (env.get("PROXIMA_AI_PROVIDER") or "").strip()
    if ai_settings_from_env(env).provider == "local" and explicit_provider != "local":
        raise ConfigError(
            "DEEPSEEK_API_KEY is required when PROXIMA_ENV=production (or set PROXIMA_AI_PROVIDER=local)"
        )


# -- Prices of the cost report --------------------------------------------------------------------

# DeepSeek's published deepseek-reasoner (R1) prices in US dollars per million tokens.
_DEFAULT_PRICES = {
    "PROXIMA_PRICE_INPUT_CACHE_HIT": 0.14,
    "PROXIMA_PRICE_INPUT_CACHE_MISS": 0.55,
    "PROXIMA_PRICE_OUTPUT": 2.19,
}


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens: input served from the context cache, input not in
    it, and output (reasoning included)."""

    input_cache_hit: float = _DEFAULT_PRICES["PROXIMA_PRICE_INPUT_CACHE_HIT"]
    input_cache_miss: float = _DEFAULT_PRICES["PROXIMA_PRICE_INPUT_CACHE_MISS"]
    output: float = _DEFAULT_PRICES["PROXIMA_PRICE_OUTPUT"]


def prices_from_env(env: Mapping[str, str] | None = None) -> Prices:
    env = os.environ if env is None else env
    values: dict[str, float] = {}
    for name, default in _DEFAULT_PRICES.items():
        raw = (env.get(name) or "").strip()
        try:
            value = float(raw) if raw else default
        except ValueError:
            raise ConfigError(
                f"{name} must be a price in dollars per million tokens, not {raw[:20]!r}"
            ) from None
        if not 0 <= value <= 1000 or value != value:  # noqa: PLR0124 - NaN
            raise ConfigError(f"{name} must be between 0 and 1000 dollars per million tokens, not {raw!r}")
        values[name] = value
    return Prices(
        input_cache_hit=values["PROXIMA_PRICE_INPUT_CACHE_HIT"],
        input_cache_miss=values["PROXIMA_PRICE_INPUT_CACHE_MISS"],
        output=values["PROXIMA_PRICE_OUTPUT"],
    )
