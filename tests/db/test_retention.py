"""Retention: the housekeeping purges finished jobs, old share views and long-ended shares
after periods kept in proxima_private.settings, the jobs of people who no longer exist
(tests/queue/test_job_person.py), and nothing else.

The periods are rows of proxima_private.settings (whole days, 1 to 3650, a CHECK says
so): retention_finished_jobs_days (30), retention_access_log_days (180) and
retention_expired_shares_days (30). Failed jobs are never purged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

SETTINGS = {
    "retention_finished_jobs_days": "30",
    "retention_access_log_days": "180",
    "retention_expired_shares_days": "30",
}


def _days_ago(conn: psycopg.Connection[Any], days: float) -> dt.datetime:
    row = conn.execute("select now() - make_interval(secs => %s)", (days * 86400,)).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


def housekeeping(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    row = conn.execute("select public.run_housekeeping()").fetchone()
    assert row is not None
    return dict(row[0])


def set_period(conn: psycopg.Connection[Any], name: str, value: str) -> None:
    conn.execute(
        "update proxima_private.settings set value = %s, updated_at = now() where name = %s", (value, name)
    )


@dataclass
class World:
    """Rows of every kind the housekeeping looks at, each labelled by what should happen to it."""

    user: uuid.UUID
    jobs: dict[str, int]
    shares: dict[str, uuid.UUID]
    logs: dict[str, uuid.UUID]
    tokens: dict[str, bytes]

    def jobs_left(self, conn: psycopg.Connection[Any]) -> set[str]:
        ids = {i for (i,) in conn.execute("select id from public.jobs").fetchall()}
        return {label for label, job_id in self.jobs.items() if job_id in ids}

    def shares_left(self, conn: psycopg.Connection[Any]) -> set[str]:
        ids = {i for (i,) in conn.execute("select id from public.export_history").fetchall()}
        return {label for label, share_id in self.shares.items() if share_id in ids}

    def logs_left(self, conn: psycopg.Connection[Any]) -> set[str]:
        ids = {i for (i,) in conn.execute("select id from public.share_access_log").fetchall()}
        return {label for label, log_id in self.logs.items() if log_id in ids}

    def tokens_left(self, conn: psycopg.Connection[Any]) -> set[str]:
        hashes = {
            bytes(h)
            for (h,) in conn.execute("select token_hash from proxima_private.share_tokens").fetchall()
        }
        return {label for label, token_hash in self.tokens.items() if token_hash in hashes}


@pytest.fixture
def world(conn: psycopg.Connection[Any]) -> World:
    user = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (user,))

    jobs: dict[str, int] = {}
    for label, status, age in [
        ("succeeded 31 days ago", "succeeded", 31),
        ("cancelled 31 days ago", "cancelled", 31),
        ("failed 400 days ago", "failed", 400),
        ("succeeded 29 days ago", "succeeded", 29),
        ("succeeded 10 days ago", "succeeded", 10),
    ]:
        finished = _days_ago(conn, age)
        row = conn.execute(
            "insert into public.jobs (kind, user_id, status, finished_at, created_at, updated_at, last_error)"
            " values ('retention_probe', %s, %s, %s, %s, %s, %s) returning id",
            (user, status, finished, finished, finished, "boom" if status == "failed" else None),
        ).fetchone()
        assert row is not None
        jobs[label] = row[0]
    old = _days_ago(conn, 90)
    row = conn.execute(
        "insert into public.jobs (kind, user_id, created_at, updated_at, run_at)"
        " values ('retention_probe', %s, %s, %s, %s) returning id",
        (user, old, old, old),
    ).fetchone()
    assert row is not None
    jobs["queued 90 days ago"] = row[0]

    shares: dict[str, uuid.UUID] = {}
    for label, export_type, expires, revoked in [
        ("live", "doctor_share", -20, None),
        ("expired 40 days ago", "doctor_share", 40, None),
        ("revoked 31 days ago", "doctor_share", -5, 31),
        ("expired 20 days ago", "doctor_share", 20, None),
        ("revoked 10 days ago", "doctor_share", -20, 10),
        ("a pdf export past its date 100 days ago", "pdf", 100, None),
    ]:
        row = conn.execute(
            "insert into public.export_history (user_id, export_type, expires_at, revoked_at, created_at)"
            " values (%s, %s, %s, %s, %s) returning id",
            (
                user,
                export_type,
                _days_ago(conn, expires),
                None if revoked is None else _days_ago(conn, revoked),
                _days_ago(conn, 120),
            ),
        ).fetchone()
        assert row is not None
        shares[label] = row[0]

    tokens: dict[str, bytes] = {}
    for label in ("live", "expired 40 days ago", "expired 20 days ago"):
        token_hash = hashlib.sha256(f"token of {label}".encode()).digest()
        conn.execute(
            "insert into proxima_private.share_tokens (token_hash, share_id, channel) values (%s, %s, 'link')",
            (token_hash, shares[label]),
        )
        tokens[label] = token_hash

    logs: dict[str, uuid.UUID] = {}
    for label, share, age in [
        ("live share, viewed 200 days ago", "live", 200),
        ("live share, viewed 181 days ago", "live", 181),
        ("live share, viewed 179 days ago", "live", 179),
        ("live share, viewed 10 days ago", "live", 10),
        ("expired share, viewed 45 days ago", "expired 40 days ago", 45),
    ]:
        row = conn.execute(
            "insert into public.share_access_log (share_id, user_id, viewed_at) values (%s, %s, %s) returning id",
            (shares[share], user, _days_ago(conn, age)),
        ).fetchone()
        assert row is not None
        logs[label] = row[0]

    return World(user, jobs, shares, logs, tokens)


# -- the settings ---------------------------------------------------------------------------------


def test_the_periods_are_settings_with_their_defaults(conn: psycopg.Connection[Any]) -> None:
    found = dict(
        conn.execute(
            "select name, value from proxima_private.settings where starts_with(name, 'retention_')"
        ).fetchall()
    )
    assert found == SETTINGS


@pytest.mark.parametrize("value", ["0", "3651", "-1", "", "30 days", "1.5", "030", " 30", "abc", "99999"])
def test_a_period_that_is_not_whole_days_from_1_to_3650_is_refused(
    conn: psycopg.Connection[Any], value: str
) -> None:
    for name in SETTINGS:
        with pytest.raises(psycopg.errors.CheckViolation, match="settings_retention_days_check"):
            set_period(conn, name, value)
    assert conn.execute(
        "select count(*) from proxima_private.settings where starts_with(name, 'retention_') and value <> all(%s)",
        (list(SETTINGS.values()),),
    ).fetchone() == (0,)


@pytest.mark.parametrize("value", ["1", "7", "365", "3650"])
def test_a_period_of_whole_days_is_accepted(conn: psycopg.Connection[Any], value: str) -> None:
    for name in SETTINGS:
        set_period(conn, name, value)
    assert conn.execute(
        "select count(*) from proxima_private.settings where starts_with(name, 'retention_') and value = %s",
        (value,),
    ).fetchone() == (3,)


def test_the_check_leaves_other_settings_alone(conn: psycopg.Connection[Any]) -> None:
    conn.execute("insert into proxima_private.settings (name, value) values ('some_other_setting', 'abc')")
    conn.execute(
        "update proxima_private.settings set value = 'https://example.org/functions/v1/shared-report'"
        " where name = 'share_base_url'"
    )


# -- what each purge removes ----------------------------------------------------------------------


def test_with_the_default_periods_each_purge_removes_exactly_what_is_past_its_period(
    conn: psycopg.Connection[Any], world: World
) -> None:
    result = housekeeping(conn)

    assert result == {
        "jobs_deleted": 2,
        "orphaned_jobs_deleted": 0,
        "access_log_deleted": 2,
        "shares_deleted": 2,
        "cron_runs_deleted": None,
    }
    assert world.jobs_left(conn) == {
        "failed 400 days ago",
        "succeeded 29 days ago",
        "succeeded 10 days ago",
        "queued 90 days ago",
    }
    assert world.shares_left(conn) == {
        "live",
        "expired 20 days ago",
        "revoked 10 days ago",
        "a pdf export past its date 100 days ago",
    }
    # The expired share's view went with it (counted as a share, not as a log purge).
    assert world.logs_left(conn) == {"live share, viewed 179 days ago", "live share, viewed 10 days ago"}
    assert world.tokens_left(conn) == {"live", "expired 20 days ago"}


def test_a_second_run_finds_nothing_more(conn: psycopg.Connection[Any], world: World) -> None:
    housekeeping(conn)
    assert housekeeping(conn) == {
        "jobs_deleted": 0,
        "orphaned_jobs_deleted": 0,
        "access_log_deleted": 0,
        "shares_deleted": 0,
        "cron_runs_deleted": None,
    }


def test_shorter_periods_set_in_the_settings_take_effect_at_the_next_run(
    conn: psycopg.Connection[Any], world: World
) -> None:
    set_period(conn, "retention_finished_jobs_days", "5")
    set_period(conn, "retention_access_log_days", "5")
    set_period(conn, "retention_expired_shares_days", "15")

    result = housekeeping(conn)

    assert result == {
        "jobs_deleted": 4,
        "orphaned_jobs_deleted": 0,
        "access_log_deleted": 5,
        "shares_deleted": 3,
        "cron_runs_deleted": None,
    }
    assert world.jobs_left(conn) == {"failed 400 days ago", "queued 90 days ago"}
    assert world.shares_left(conn) == {
        "live",
        "revoked 10 days ago",
        "a pdf export past its date 100 days ago",
    }
    assert world.logs_left(conn) == set()
    assert world.tokens_left(conn) == {"live"}


def test_longer_periods_keep_more(conn: psycopg.Connection[Any], world: World) -> None:
    set_period(conn, "retention_finished_jobs_days", "3650")
    set_period(conn, "retention_access_log_days", "3650")
    set_period(conn, "retention_expired_shares_days", "3650")

    assert housekeeping(conn) == {
        "jobs_deleted": 0,
        "orphaned_jobs_deleted": 0,
        "access_log_deleted": 0,
        "shares_deleted": 0,
        "cron_runs_deleted": None,
    }
    assert world.jobs_left(conn) == set(world.jobs)
    assert world.shares_left(conn) == set(world.shares)
    assert world.logs_left(conn) == set(world.logs)


def test_a_missing_setting_counts_as_its_default(conn: psycopg.Connection[Any], world: World) -> None:
    conn.execute("delete from proxima_private.settings where starts_with(name, 'retention_')")

    assert housekeeping(conn) == {
        "jobs_deleted": 2,
        "orphaned_jobs_deleted": 0,
        "access_log_deleted": 2,
        "shares_deleted": 2,
        "cron_runs_deleted": None,
    }
    assert "failed 400 days ago" in world.jobs_left(conn)


def test_failed_jobs_are_never_purged_however_short_the_period(
    conn: psycopg.Connection[Any], world: World
) -> None:
    set_period(conn, "retention_finished_jobs_days", "1")
    housekeeping(conn)
    assert conn.execute("select count(*) from public.jobs where status = 'failed'").fetchone() == (1,)


def test_only_the_service_role_runs_the_housekeeping(conn: psycopg.Connection[Any]) -> None:
    allowed = conn.execute(
        "select r, has_function_privilege(r, 'public.run_housekeeping()', 'execute')"
        " from unnest(array['anon', 'authenticated', 'service_role']) r order by r"
    ).fetchall()
    assert allowed == [("anon", False), ("authenticated", False), ("service_role", True)]


def test_each_purge_can_read_its_rows_by_an_index(conn: psycopg.Connection[Any]) -> None:
    """The purges' predicates, as the function writes them, each have an index to use."""
    conn.execute("set enable_seqscan = off")
    for statement in [
        "delete from public.jobs j where j.finished_at < now() - make_interval(days => 30)"
        " and j.status in ('succeeded', 'cancelled')",
        "delete from public.share_access_log l where l.viewed_at < now() - make_interval(days => 180)",
        "delete from public.export_history e where e.export_type = 'doctor_share'"
        " and least(e.expires_at, e.revoked_at) < now() - make_interval(days => 30)",
    ]:
        plan = "\n".join(r[0] for r in conn.execute(f"explain {statement}").fetchall())
        assert "Index" in plan, plan
