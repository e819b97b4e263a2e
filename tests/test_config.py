"""Connection settings are validated before anything connects, and never echo a password."""

from __future__ import annotations

import pytest

from worker.config import database_url_from_env, parse_database_url
from worker.errors import ConfigError


def test_a_postgresql_url_is_accepted_and_described_without_its_password() -> None:
    target = parse_database_url("postgresql://app:s3cret@db.example.internal:6543/postgres")
    assert target.description == "db.example.internal:6543/postgres"
    assert "s3cret" not in target.description


def test_a_libpq_keyword_string_is_accepted() -> None:
    target = parse_database_url("host=127.0.0.1 port=5433 dbname=app user=app")
    assert target.description == "127.0.0.1:5433/app"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("mysql://u:p@h/db", "must start with postgresql://"),
        ("just-a-word", "is not a PostgreSQL URL"),
        ("postgresql://u:hunter2@h:99999/db", "invalid port"),
        ("postgresql://u:hunter2@h:port/db", "invalid port"),
        ("postgresql://u:hunter2@[::1/db", "malformed"),
        ("host=h bogus_option=1", "malformed"),
    ],
)
def test_a_malformed_url_is_a_config_error_naming_the_setting(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_database_url(value)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL")
    assert fragment in message
    assert "hunter2" not in message
    assert "\n" not in message


def test_an_unset_or_blank_database_url_means_the_local_harness() -> None:
    assert database_url_from_env({}) is None
    assert database_url_from_env({"DATABASE_URL": "  "}) is None


def test_database_url_from_env_validates_what_it_reads() -> None:
    with pytest.raises(ConfigError):
        database_url_from_env({"DATABASE_URL": "redis://localhost"})


# Supabase's transaction poolers (port 6543): the shared one and the dedicated one.
_TRANSACTION_POOLERS = [
    "postgresql://postgres.abcdefghijklmnop:hunter2@aws-0-eu-central-1.pooler.supabase.com:6543/postgres",
    "postgres://postgres:hunter2@db.abcdefghijklmnop.supabase.co:6543/postgres",
    "host=AWS-0-US-EAST-1.POOLER.SUPABASE.COM port=6543 user=postgres password=hunter2 dbname=postgres",
    "postgresql://postgres:hunter2@aws-0-eu-central-1.pooler.supabase.com.:6543/postgres",
]


@pytest.mark.parametrize("value", _TRANSACTION_POOLERS)
def test_a_supabase_transaction_pooler_is_refused_with_the_port_to_use(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_database_url(value)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL points at Supabase's transaction pooler (port 6543)")
    assert "port 5432" in message
    assert "hunter2" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "value",
    [
        # The same hosts in session mode, or directly.
        "postgresql://postgres.abcdefghijklmnop:pw@aws-0-eu-central-1.pooler.supabase.com:5432/postgres",
        "postgresql://postgres:pw@db.abcdefghijklmnop.supabase.co:5432/postgres",
        "postgresql://postgres:pw@db.abcdefghijklmnop.supabase.co/postgres",
        # Port 6543 elsewhere is someone's own choice (a session-mode PgBouncer, say).
        "postgresql://app:pw@db.example.internal:6543/postgres",
        "postgresql://app:pw@pooler.supabase.com.example.org:6543/postgres",
    ],
)
def test_session_mode_and_other_hosts_on_6543_are_accepted(value: str) -> None:
    assert parse_database_url(value).conninfo == value


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://u:pw@h1:5432,h2:5433/db",  # a port each
        "postgresql://u:pw@h1,h2:5433/db",  # the first host on the default port
        "host=h1,h2 port=5432,5433 dbname=app",
        "host=h1,h2 port=5433 dbname=app",  # one port for both
    ],
)
def test_a_list_of_hosts_with_their_ports_is_accepted(value: str) -> None:
    assert parse_database_url(value).conninfo == value


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("host=h1,h2,h3 port=5432,5433 password=hunter2", "names 3 host(s) but 2 ports"),
        ("postgresql://u:hunter2@h1:5432,h2:port/db", "invalid port: 'port'"),
        ("postgresql://u:hunter2@h1:5432,h2:70000/db", "invalid port: '70000'"),
        (
            "postgresql://u:hunter2@db.example.internal:5432,aws-0-eu-central-1.pooler.supabase.com:6543/db",
            "transaction pooler",
        ),
    ],
)
def test_a_bad_list_of_hosts_or_ports_is_refused(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_database_url(value)
    assert fragment in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_list_of_hosts_is_described_host_by_host_with_each_port() -> None:
    assert parse_database_url("postgresql://u:hunter2@h1,h2:5433/db").description == "h1:5432,h2:5433/db"
    assert parse_database_url("host=h1,h2 port=6000 dbname=app").description == "h1:6000,h2:6000/app"
