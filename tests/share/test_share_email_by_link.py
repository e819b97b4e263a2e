"""send_share_email: e-mailing a share made before, by its link (the app's share dialog makes
the share, then asks for the e-mail: POST /api/send-share-email { share_link, recipient_email }).

Only the caller's own live share, found by its link's token (hashed, stored nowhere); a
plausible address; one of the day's share actions; the e-mail goes out through the same
share_notification job as create_doctor_share's, to this recipient, again if the share
was e-mailed before; a bad call changes nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fake_smtp import SmtpServer
from share_support import (
    add_person,
    add_story,
    call_as,
    count,
    create_share,
    error_of,
    everything_stored,
    revoke_share,
    sqlstate_of,
    token_of,
)

from worker.config import AISettings, StorageSettings
from worker.handlers import default_registry
from worker.runtime.oneshot import run_until
from worker.share.mail import MailSettings

DOCTOR = "dr.house@clinic.example.org"
SECOND = "dr.cuddy@clinic.example.org"


def send(
    conn: psycopg.Connection[Any],
    user_id: uuid.UUID | None,
    link: Any,
    recipient: Any,
    *,
    role: str = "authenticated",
) -> dict[str, Any]:
    result: dict[str, Any] = call_as(
        conn,
        user_id,
        "send_share_email",
        {"share_link": (link, "text"), "recipient_email": (recipient, "text")},
        role=role,
    )
    return result


@pytest.fixture
def maya(conn: psycopg.Connection[Any]) -> uuid.UUID:
    return add_person(conn, name="Maya Lind", email="maya@people.example.com")


@pytest.fixture
def share(conn: psycopg.Connection[Any], maya: uuid.UUID) -> dict[str, Any]:
    return create_share(conn, maya, [add_story(conn, maya)], expires_in_days=7)


def _jobs(conn: psycopg.Connection[Any]) -> list[tuple[int, str, str]]:
    rows = conn.execute(
        "select id, status, payload ->> 'share_id' from public.jobs where kind = 'share_notification' order by id"
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _recipient(conn: psycopg.Connection[Any], share_id: str) -> tuple[str | None, bool]:
    row = conn.execute(
        "select recipient_email, coalesce(metadata ? 'notified_at', false) from public.export_history where id = %s",
        (share_id,),
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def _deliver(db_url: str, tmp_path: Path, server: SmtpServer, jobs: int) -> None:
    registry = default_registry(
        AISettings(), StorageSettings(local_dir=tmp_path), MailSettings(smtp_url=server.url)
    )

    def done() -> bool:
        with psycopg.connect(db_url) as c:
            row = c.execute(
                "select count(*) from public.jobs where kind = 'share_notification' and status = 'succeeded'"
            ).fetchone()
        return bool(row and row[0] >= jobs)

    assert run_until(db_url, registry, done, kinds=("share_notification",), timeout=60)


def test_the_link_of_a_share_made_before_is_emailed_to_the_recipient_and_again_to_another(
    conn: psycopg.Connection[Any], db_url: str, tmp_path: Path, maya: uuid.UUID, share: dict[str, Any]
) -> None:
    assert _jobs(conn) == []  # made without a recipient: no e-mail yet
    sent = send(conn, maya, share["share_link"], f"  {DOCTOR} ")
    assert sent["share_id"] == share["share_id"]
    assert dt.datetime.fromisoformat(sent["expires_at"]) == dt.datetime.fromisoformat(share["expires_at"])
    assert _jobs(conn) == [(sent["notification_job_id"], "queued", share["share_id"])]
    assert _recipient(conn, share["share_id"]) == (DOCTOR, False)
    # Asked again while that e-mail waits: the same job, which reads the recipient when it runs.
    again = send(conn, maya, token_of(share["share_link"]), SECOND)  # the bare token works too
    assert again["notification_job_id"] == sent["notification_job_id"]
    assert len(_jobs(conn)) == 1

    with SmtpServer() as server:
        _deliver(db_url, tmp_path, server, 1)
        assert [m.rcpt_tos for m in server.messages] == [[SECOND]]
        assert _recipient(conn, share["share_id"]) == (SECOND, True)
        # Once e-mailed, a share can be e-mailed again (to the first doctor now): a new job.
        third = send(conn, maya, share["share_link"], DOCTOR)
        assert third["notification_job_id"] != sent["notification_job_id"]
        assert _recipient(conn, share["share_id"]) == (DOCTOR, False)
        _deliver(db_url, tmp_path, server, 2)
        assert [m.rcpt_tos for m in server.messages] == [[SECOND], [DOCTOR]]
    # The token the caller sent is stored nowhere (only the link's and the e-mails' hashes).
    assert token_of(share["share_link"]) not in everything_stored(conn)
    assert count(conn, "select count(*) from proxima_private.share_tokens") == 3


def test_another_persons_link_is_not_found_and_changes_nothing(
    conn: psycopg.Connection[Any], maya: uuid.UUID, share: dict[str, Any]
) -> None:
    mallory = add_person(conn, name="Mallory")
    before = everything_stored(conn)
    assert sqlstate_of(lambda: send(conn, mallory, share["share_link"], DOCTOR)) == "PT404"
    assert sqlstate_of(lambda: send(conn, None, share["share_link"], DOCTOR)) == "PT401"
    assert everything_stored(conn) == before


BAD_INPUT = {
    "null-link": (None, DOCTOR, "PT404"),
    "empty-link": ("", DOCTOR, "PT404"),
    "no-token": ("https://example.org/shared-report/", DOCTOR, "PT404"),
    "unknown-token": ("A" * 43, DOCTOR, "PT404"),  # the shape of a token, no share's
    "huge-link": ("x" * 100_000, DOCTOR, "PT404"),
    "query-string": ("LINK?x=1", DOCTOR, "PT404"),
    "null-address": ("LINK", None, "22023"),
    "blank-address": ("LINK", "   ", "22023"),
    "no-domain": ("LINK", "nobody", "22023"),
    "one-label-domain": ("LINK", "a@b", "22023"),
    "double-dot": ("LINK", "dr..x@clinic.example.org", "22023"),
    "too-long": ("LINK", "x" * 250 + "@clinic.example.org", "22023"),
    "header-injection": ("LINK", "dr@clinic.example.org\nBcc: evil@example.org", "22023"),
}


@pytest.mark.parametrize(("link", "recipient", "sqlstate"), list(BAD_INPUT.values()), ids=list(BAD_INPUT))
def test_bad_input_is_refused_with_a_clear_error_and_changes_nothing(
    conn: psycopg.Connection[Any],
    maya: uuid.UUID,
    share: dict[str, Any],
    link: str | None,
    recipient: str | None,
    sqlstate: str,
) -> None:
    if link is not None:
        link = link.replace("LINK", share["share_link"])
    before = everything_stored(conn)
    error = error_of(lambda: send(conn, maya, link, recipient))
    assert error.sqlstate == sqlstate
    assert len(str(error)) < 200
    assert everything_stored(conn) == before


def test_a_revoked_or_expired_share_is_gone(conn: psycopg.Connection[Any], maya: uuid.UUID) -> None:
    story = add_story(conn, maya)
    revoked = create_share(conn, maya, [story])
    revoke_share(conn, maya, revoked["share_id"])
    expired = create_share(conn, maya, [story])
    conn.execute(
        "update public.export_history set expires_at = now() - interval '1 second' where id = %s",
        (expired["share_id"],),
    )
    for link in (revoked["share_link"], expired["share_link"]):
        assert sqlstate_of(functools.partial(send, conn, maya, link, DOCTOR)) == "PT410"
    assert _jobs(conn) == []


def test_a_share_being_emailed_right_now_is_refused_for_a_retry(
    conn: psycopg.Connection[Any], maya: uuid.UUID, share: dict[str, Any]
) -> None:
    first = send(conn, maya, share["share_link"], DOCTOR)
    conn.execute(
        "update public.jobs set status = 'running', lease_owner = 'w', lease_expires_at = now() + interval '1 minute'"
        " where id = %s",
        (first["notification_job_id"],),
    )
    assert sqlstate_of(lambda: send(conn, maya, share["share_link"], SECOND)) == "PT409"
    assert _recipient(conn, share["share_id"]) == (DOCTOR, False)


def test_it_counts_as_one_of_the_days_share_actions(
    conn: psycopg.Connection[Any], maya: uuid.UUID, share: dict[str, Any]
) -> None:
    conn.execute(
        "update public.daily_usage set used = 20 where user_id = %s and action = 'doctor_share'", (maya,)
    )
    assert sqlstate_of(lambda: send(conn, maya, share["share_link"], DOCTOR)) == "PT429"
    assert _jobs(conn) == []


@pytest.mark.parametrize("role", ["anon", "service_role"])
def test_only_signed_in_people_may_call_it(
    conn: psycopg.Connection[Any], share: dict[str, Any], role: str
) -> None:
    assert sqlstate_of(lambda: send(conn, None, share["share_link"], DOCTOR, role=role)) == "42501"
