"""create_doctor_share, revoke_doctor_share and get_shared_report, as the app and the share page call them.

The spec (supabase/migrations/20261130120000_doctor_shares.sql): a share is made by the
signed-in person for their own stories only; its link carries a token of at least 128
random bits, url-safe, of which only the SHA-256 is stored; the link opens exactly one
report until it expires or is revoked; every view is counted and logged.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from typing import Any

import psycopg
import pytest
from share_support import (
    add_note,
    add_person,
    add_story,
    add_week_analysis,
    call_as,
    count,
    create_share,
    error_of,
    everything_stored,
    monday_of,
    open_share,
    revoke_share,
    sqlstate_of,
    token_hash,
    token_of,
)

from worker.db.migrate import discover, migrate_connection
from worker.report import ExportDocument

TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@pytest.fixture
def maya(conn: psycopg.Connection[Any]) -> uuid.UUID:
    return add_person(conn, name="Maya Lind", timezone="Europe/Berlin", email="maya@people.example.com")


@pytest.fixture
def story(conn: psycopg.Connection[Any], maya: uuid.UUID) -> uuid.UUID:
    return add_story(conn, maya)


def _shares(conn: psycopg.Connection[Any]) -> int:
    return count(conn, "select count(*) from public.export_history where export_type = 'doctor_share'")


def _nothing_written(conn: psycopg.Connection[Any]) -> None:
    assert _shares(conn) == 0
    assert count(conn, "select count(*) from proxima_private.share_tokens") == 0
    assert count(conn, "select count(*) from public.jobs") == 0
    assert count(conn, "select count(*) from public.daily_usage") == 0


# -- creating ------------------------------------------------------------------------------------


def test_a_share_returns_a_link_once_with_a_43_character_url_safe_token_and_stores_only_its_sha256(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    share = create_share(conn, maya, [story])

    base = "http://127.0.0.1:54321/functions/v1/shared-report/"
    assert share["share_link"].startswith(base)
    token = token_of(share["share_link"])
    assert TOKEN.fullmatch(token)
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    stored = conn.execute("select token_hash, share_id, channel from proxima_private.share_tokens").fetchall()
    assert stored == [(token_hash(token), uuid.UUID(share["share_id"]), "link")]
    row = conn.execute(
        "select user_id, story_ids, share_token, share_link, recipient_email, access_count, revoked_at,"
        " expires_at - created_at from public.export_history where id = %s",
        (share["share_id"],),
    ).fetchone()
    assert row == (maya, [story], None, None, None, 0, None, dt.timedelta(days=30))
    assert share["expires_in_days"] == 30
    assert share["notification_job_id"] is None
    # No e-mail; only the job that makes the share's PDF.
    jobs = conn.execute("select kind, payload, priority, dedupe_key from public.jobs").fetchall()
    assert jobs == [("share_pdf", {"share_id": share["share_id"]}, -5, f"share_pdf:{share['share_id']}")]


def test_share_tokens_carry_at_least_128_random_bits(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    samples = 256
    tokens = []
    for _ in range(samples):
        conn.execute("delete from public.daily_usage")  # the daily limit is not under test here
        tokens.append(token_of(create_share(conn, maya, [story])["share_link"]))
    assert len(set(tokens)) == samples
    values = [int.from_bytes(base64.urlsafe_b64decode(t + "="), "big") for t in tokens]
    ones = [sum((v >> bit) & 1 for v in values) for bit in range(256)]
    varying = [n for n in ones if 0 < n < samples]
    # 256 bits minus the 2 x 6 fixed version and variant bits of two version-4 UUIDs.
    assert len(varying) == 244
    # Each varying bit is a fair coin: 256 draws stay within 0.3..0.7 (over six sigma).
    assert all(0.3 < n / samples < 0.7 for n in varying)


def test_the_token_appears_in_no_table_and_in_no_server_log(
    conn: psycopg.Connection[Any], cluster: Any, maya: uuid.UUID, story: uuid.UUID
) -> None:
    share = create_share(conn, maya, [story], recipient_email="doctor@clinic.example.org")
    token = token_of(share["share_link"])
    open_share(conn, token, user_agent="Mozilla/5.0")
    revoke_share(conn, maya, uuid.UUID(share["share_id"]))
    assert sqlstate_of(lambda: open_share(conn, token)) == "PT410"  # an error: logged with its statement

    stored = everything_stored(conn)
    assert share["share_id"] in stored  # the dump does see the share
    assert token not in stored
    assert token_hash(token).hex() in stored  # only its hash
    assert token not in cluster.log_file.read_text(errors="replace")


def test_a_share_with_a_recipient_enqueues_one_notification_job_behind_the_weekly_batch(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    share = create_share(
        conn, maya, [story], recipient_email="  Dr.House+notes@clinic.example.org ", expires_in_days=7
    )
    jobs = conn.execute(
        "select id, kind, user_id, payload, priority, dedupe_key from public.jobs"
        " where kind = 'share_notification'"
    ).fetchall()
    assert jobs == [
        (
            share["notification_job_id"],
            "share_notification",
            maya,
            {"share_id": share["share_id"]},  # no token, no address
            -5,
            f"share_notification:{share['share_id']}",
        )
    ]
    recipient = conn.execute(
        "select recipient_email from public.export_history where id = %s", (share["share_id"],)
    ).fetchone()
    assert recipient == ("Dr.House+notes@clinic.example.org",)


def test_a_blank_recipient_means_none(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    create_share(conn, maya, [story], recipient_email="   ")
    assert count(conn, "select count(*) from public.jobs where kind = 'share_notification'") == 0


@pytest.mark.parametrize("days", [1, 90])
def test_expiry_may_be_one_to_ninety_days(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID, days: int
) -> None:
    share = create_share(conn, maya, [story], expires_in_days=days)
    row = conn.execute(
        "select expires_at - created_at from public.export_history where id = %s", (share["share_id"],)
    ).fetchone()
    assert row == (dt.timedelta(days=days),)


@pytest.mark.parametrize(
    ("arguments", "sqlstate", "message"),
    [
        ({"story_ids": []}, "22023", "choose at least one story to share"),
        ({"story_ids": None}, "22023", "choose at least one story to share"),
        ({"story_ids": "null id"}, "22004", "a story id in the list is null"),
        ({"story_ids": "101 stories"}, "22023", "a share holds at most 100 stories; 101 were chosen"),
        ({"story_ids": "1001 ids"}, "22023", "a share lists at most 1000 story ids; 1001 were given"),
        ({"story_ids": "2-D"}, "22023", "story_ids must be a flat list of story ids"),
        ({"expires_in_days": 0}, "22023", "expires_in_days must be between 1 and 90; 0 was given"),
        ({"expires_in_days": 91}, "22023", "expires_in_days must be between 1 and 90; 91 was given"),
    ],
    ids=["empty-list", "null-list", "null-id", "101-stories", "1001-ids", "2-D", "0-days", "91-days"],
)
def test_bad_input_is_refused_with_a_clear_error_and_changes_nothing(
    conn: psycopg.Connection[Any],
    maya: uuid.UUID,
    story: uuid.UUID,
    arguments: dict[str, Any],
    sqlstate: str,
    message: str,
) -> None:
    story_ids: Any = arguments.get("story_ids", [story])
    if story_ids == "null id":
        story_ids = [story, None]
    elif story_ids == "101 stories":
        story_ids = [story, *(uuid.uuid4() for _ in range(100))]
    elif story_ids == "1001 ids":  # one story, repeated: read in full, it would be a share of one
        story_ids = [story] * 1001
    elif story_ids == "2-D":
        story_ids = [[story], [story]]
    error = error_of(
        lambda: create_share(
            conn,
            maya,
            story_ids,
            **{k: v for k, v in arguments.items() if k != "story_ids"},
        )
    )
    assert error.sqlstate == sqlstate
    assert (error.diag.message_primary or "").startswith(message)
    _nothing_written(conn)


def test_a_huge_story_list_is_refused_before_it_is_read_and_the_zone_sent_with_it_is_not_saved(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    for function in ("create_doctor_share", "request_pdf_export"):
        error = error_of(
            lambda function=function: call_as(  # type: ignore[misc]
                conn,
                maya,
                function,
                {"story_ids": ([story] * 200_000, "uuid[]"), "time_zone": ("Asia/Tokyo", "text")},
            )
        )
        assert error.sqlstate == "22023", function
        assert (error.diag.message_primary or "").endswith("at most 1000 story ids; 200000 were given")
    assert count(conn, "select count(*) from public.profiles where timezone = 'Europe/Berlin'") == 1
    assert count(conn, "select count(*) from public.export_history") == 0
    _nothing_written(conn)


IMPLAUSIBLE_ADDRESSES = (
    "not-an-address",
    "a@b",
    "<dr@clinic.org>",
    "dr@clinic.org\nBcc: x@evil.org",
    "dr house@clinic.org",
    "dr..house@clinic.org",
    ".dr@clinic.org",
    "d" * 64 + "@" + "c" * 190 + ".org",
)


def test_an_implausible_recipient_address_is_refused_without_repeating_it(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    for address in IMPLAUSIBLE_ADDRESSES:
        error = error_of(lambda address=address: create_share(conn, maya, [story], recipient_email=address))  # type: ignore[misc]
        assert (error.sqlstate, error.diag.message_primary) == (
            "22023",
            "recipient_email is not a plausible e-mail address",
        ), address
    _nothing_written(conn)


def test_only_the_callers_own_stories_can_be_shared(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    jonas = add_person(conn, name="Jonas")
    theirs = add_story(conn, jonas)
    for foreign in (theirs, uuid.uuid4()):
        error = error_of(lambda foreign=foreign: create_share(conn, maya, [story, foreign]))  # type: ignore[misc]
        assert error.sqlstate == "PT403"
        assert error.diag.message_primary == f"story {foreign} is not one of your stories"
    _nothing_written(conn)


def test_sharing_needs_a_signed_in_person(conn: psycopg.Connection[Any], story: uuid.UUID) -> None:
    assert sqlstate_of(lambda: create_share(conn, None, [story])) == "PT401"
    _nothing_written(conn)


def test_the_link_base_is_the_share_base_url_setting(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    conn.execute(
        "update proxima_private.settings set value = 'https://abc.supabase.co/functions/v1/shared-report'"
        " where name = 'share_base_url'"
    )
    link = create_share(conn, maya, [story])["share_link"]
    assert re.fullmatch(r"https://abc\.supabase\.co/functions/v1/shared-report/[A-Za-z0-9_-]{43}", link)
    for bad in ("https://abc.supabase.co/r/", "ftp://abc.org/r", "https://abc.org/r?x=1", "/relative"):
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "update proxima_private.settings set value = %s where name = 'share_base_url'", (bad,)
            )


# -- opening ------------------------------------------------------------------------------------


def test_the_report_holds_exactly_what_the_doctor_needs_and_nothing_else(
    conn: psycopg.Connection[Any], maya: uuid.UUID
) -> None:
    written = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
    shared = add_story(conn, maya, title="Knee week", text="The knee ached after runs.", generated=written)
    add_note(conn, maya, shared, "Ask about the knee")
    private = add_story(conn, maya, title="Private week", text="Not for the doctor.", generated=written)
    add_note(conn, maya, private, "Private note")
    add_week_analysis(conn, maya, shared, monday_of(written), "of the week")
    add_week_analysis(conn, maya, private, monday_of(written) - dt.timedelta(days=7), "of another week")
    share = create_share(conn, maya, [shared], recipient_email="doctor@clinic.example.org")

    document = open_share(conn, token_of(share["share_link"]))

    assert set(document) == {"report", "share"}
    assert set(document["share"]) == {"shared_at", "expires_at"}
    report = ExportDocument.model_validate(document["report"])  # the PDF's own document model
    assert report.display_name == "Maya Lind"
    assert report.time_zone == "Europe/Berlin"
    assert (report.period_start, report.period_end) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    assert [(s.title, s.story_text, s.notes) for s in report.stories] == [
        ("Knee week", "The knee ached after runs.", ["Ask about the knee"])
    ]
    assert [w.week_of for w in report.weeks] == [dt.date(2026, 11, 23)]
    week = report.weeks[0]
    assert [i.title for i in week.insights] == ["Insight of the week"]
    assert [p.event_description for p in week.predictions] == ["Prediction of the week"]
    assert [s.pattern_name for s in week.shadow_patterns] == ["Pattern of the week"]
    assert [m.strategy for m in week.strategic_moves] == ["Move of the week"]
    text = str(document)
    for secret in (
        str(maya),
        "maya@people.example.com",
        "doctor@clinic",
        "Private",
        str(private),
        "another week",
    ):
        assert secret not in text


def test_each_view_is_counted_and_logged_with_a_salted_hash_of_the_user_agent(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    share = create_share(conn, maya, [story])
    token = token_of(share["share_link"])
    open_share(conn, token, user_agent="Mozilla/5.0 (X11)")
    open_share(conn, token)
    row = conn.execute(
        "select access_count, last_accessed_at is not null from public.export_history where id = %s",
        (share["share_id"],),
    ).fetchone()
    assert row == (2, True)
    log = conn.execute(
        "select user_id, user_agent_hash from public.share_access_log where share_id = %s order by viewed_at",
        (share["share_id"],),
    ).fetchall()
    salted = token_hash(f"{share['share_id']}:Mozilla/5.0 (X11)").hex()
    assert log == [(maya, salted), (maya, None)]


def test_an_unknown_or_malformed_token_is_not_found(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    create_share(conn, maya, [story])
    for token in (None, "", "short", "x" * 43, "a" * 42 + "!", "../../etc/passwd", "A" * 129):
        error = error_of(lambda token=token: open_share(conn, token))  # type: ignore[misc]
        assert (error.sqlstate, error.diag.message_primary) == ("PT404", "share link not found"), token
    assert count(conn, "select coalesce(sum(access_count), 0) from public.export_history") == 0


def test_an_expired_share_is_gone_and_its_views_are_not_counted(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    share = create_share(conn, maya, [story], expires_in_days=1)
    token = token_of(share["share_link"])
    open_share(conn, token)
    conn.execute(
        "update public.export_history set expires_at = now() - interval '1 second' where id = %s",
        (share["share_id"],),
    )
    error = error_of(lambda: open_share(conn, token))
    assert (error.sqlstate, error.diag.message_primary) == ("PT410", "share link has expired")
    assert count(conn, "select access_count from public.export_history") == 1
    assert count(conn, "select count(*) from public.share_access_log") == 1


def test_a_revoked_share_stops_working_at_once_and_revoking_again_changes_nothing(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    share = create_share(conn, maya, [story])
    token = token_of(share["share_link"])
    open_share(conn, token)
    first = revoke_share(conn, maya, uuid.UUID(share["share_id"]))
    assert first["share_id"] == share["share_id"]
    assert sqlstate_of(lambda: open_share(conn, token)) == "PT410"
    again = revoke_share(conn, maya, uuid.UUID(share["share_id"]))
    assert again == first


def test_only_the_owner_can_revoke_a_share(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    share = create_share(conn, maya, [story])
    jonas = add_person(conn, name="Jonas")
    pdf = conn.execute(
        "insert into public.export_history (user_id, export_type) values (%s, 'pdf') returning id", (maya,)
    ).fetchone()
    assert pdf is not None
    for who, share_id in ((jonas, uuid.UUID(share["share_id"])), (maya, uuid.uuid4()), (maya, pdf[0])):
        error = error_of(lambda who=who, share_id=share_id: revoke_share(conn, who, share_id))  # type: ignore[misc]
        assert (error.sqlstate, error.diag.message_primary) == (
            "PT404",
            f"share {share_id} is not one of your shares",
        )
    assert sqlstate_of(lambda: revoke_share(conn, maya, None)) == "22004"
    assert count(conn, "select count(*) from public.export_history where revoked_at is not null") == 0
    open_share(conn, token_of(share["share_link"]))


def test_people_list_their_shares_with_view_counts_from_their_own_export_history(
    conn: psycopg.Connection[Any], maya: uuid.UUID, story: uuid.UUID
) -> None:
    share = create_share(conn, maya, [story])
    open_share(conn, token_of(share["share_link"]))
    with conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (f'{{"sub": "{maya}", "role": "authenticated"}}',),
        )
        rows = conn.execute(
            "select id::text, access_count, last_accessed_at is not null, revoked_at from public.export_history"
            " where export_type = 'doctor_share'"
        ).fetchall()
        views = count(conn, "select count(*) from public.share_access_log")
    assert rows == [(share["share_id"], 1, True, None)]
    assert views == 1


# -- links made before this migration --------------------------------------------------------------


def test_links_of_the_guides_version_keep_working_and_lose_their_clear_copy(
    empty_db_url: str,
) -> None:
    new = "20261130120000"
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        migrate_connection(conn, [m for m in discover() if m.version < new])
        maya = add_person(conn)
        story = add_story(conn, maya)
        old_token = "guide-token-" + "k" * 31
        conn.execute(
            "insert into public.export_history (user_id, export_type, story_ids, share_token, share_link,"
            " expires_at) values (%s, 'doctor_share', %s, %s, %s, now() + interval '3 days')",
            (maya, [story], old_token, f"https://app.example.com/shared/{old_token}"),
        )
        migrate_connection(conn, [m for m in discover() if m.version <= new])

        assert conn.execute("select share_token, share_link from public.export_history").fetchall() == [
            (None, None)
        ]
        assert [s["title"] for s in open_share(conn, old_token)["report"]["stories"]] == ["A week of walks"]
