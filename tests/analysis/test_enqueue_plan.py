"""The hourly enqueue at scale (20261201090000_enqueue_at_scale.sql): its plan and its marks.

The plan of the one INSERT statement inside ``enqueue_weekly_analysis`` comes from
auto_explain, sent to the client as a notice. Taken with sequential scans disabled, a
table with no usable index still shows up as a ``Seq Scan`` (the planner has no other
way in), so "no Seq Scan" holds however few rows the test database has; one test also
takes the plan as the planner chooses it, over a few thousand people with statistics.

The marks: a zone covered by an earlier hourly run for the same week is read only for
people with something written since; these tests show that what the first run would
have found is still found (new activity, a new zone, a failure) and that the marks
commit and roll back with the jobs.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any, LiteralString
from zoneinfo import ZoneInfo

import psycopg
import pytest

APP_TABLES = {
    "symptom_tracking",
    "quick_scans",
    "deep_dive_sessions",
    "conversations",
    "messages",
    "health_stories",
    "story_notes",
}
OURS = {"profiles", "jobs", "weekly_enqueue_marks", "users"}
# Per-person activity probes, on (user, time), that the full read of a zone uses.
PROBE_INDEXES = {
    "proxima_symptom_tracking_lower_user_date",
    "proxima_quick_scans_lower_user_created",
    "proxima_deep_dive_sessions_lower_user_created",
    "proxima_health_stories_user_created",
    "proxima_story_notes_user_created",
    "proxima_conversations_user_created",
}
# What was written since a mark, by time.
WRITTEN_SINCE_INDEXES = {
    "proxima_symptom_tracking_created",
    "proxima_quick_scans_created",
    "proxima_deep_dive_sessions_created",
    "proxima_health_stories_created",
    "proxima_story_notes_created",
    "proxima_conversations_created",
    "proxima_messages_created",
    "proxima_profiles_updated",
}

# Who wrote in the 28 days, read by time (a run reading many people in full).
WINDOW_INDEXES = {
    "proxima_symptom_tracking_date",
    "proxima_quick_scans_created",
    "proxima_deep_dive_sessions_created",
    "proxima_health_stories_created",
    "proxima_story_notes_created",
    "proxima_conversations_created",
    "proxima_messages_created",
}

SUNDAY_1930 = dt.datetime(2026, 11, 29, 19, 30, tzinfo=dt.UTC)  # Monday 04:30 in Tokyo
SUNDAY_2130 = dt.datetime(2026, 11, 29, 21, 30, tzinfo=dt.UTC)  # Monday 06:30 in Tokyo


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def person(
    conn: psycopg.Connection[Any], zone: str | None, active_at: dt.datetime | None, *, upper: bool = False
) -> uuid.UUID:
    """A signed-up person (a profile in ``zone`` when given) with one quick scan at ``active_at``."""
    user_id = uuid.uuid4()
    conn.execute("insert into auth.users (id) values (%s)", (user_id,))
    if zone is not None:
        conn.execute("insert into public.profiles (user_id, timezone) values (%s, %s)", (user_id, zone))
    if active_at is not None:
        key = str(user_id).upper() if upper else str(user_id)
        conn.execute(
            "insert into public.quick_scans (user_id, body_part, created_at) values (%s, 'knee', %s)",
            (key, active_at),
        )
    return user_id


def enqueue(conn: psycopg.Connection[Any], as_of: dt.datetime, week_of: dt.date | None = None) -> int:
    row = conn.execute("select public.enqueue_weekly_analysis(%s::date, %s)", (week_of, as_of)).fetchone()
    assert row is not None
    return int(row[0])


def weeks_of(conn: psycopg.Connection[Any], user_id: uuid.UUID) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select payload ->> 'week_of' from public.jobs where user_id = %s order by id", (user_id,)
        ).fetchall()
    ]


def enqueue_plan(
    conn: psycopg.Connection[Any],
    as_of: dt.datetime,
    *,
    seqscan: bool = False,
    analyze: bool = False,
    extra: dict[str, str] | None = None,
    week_of: dt.date | None = None,
) -> dict[str, Any]:
    """The plan of the enqueue's INSERT statement (``extra``: more planner settings for the
    call); the call itself is rolled back."""
    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    settings = {
        "auto_explain.log_min_duration": "0",
        "auto_explain.log_nested_statements": "on",
        "auto_explain.log_format": "json",
        "auto_explain.log_level": "notice",
        "auto_explain.log_analyze": "on" if analyze else "off",
        "enable_seqscan": "on" if seqscan else "off",
    } | (extra or {})
    with pytest.raises(psycopg.errors.QueryCanceled), conn.transaction():
        conn.execute("load 'auto_explain'")
        for setting, value in settings.items():
            conn.execute("select set_config(%s, %s, true)", (setting, value))
        enqueue(conn, as_of, week_of)
        raise psycopg.errors.QueryCanceled("roll back")  # leave the database as it was
    plans = []
    for notice in notices:
        if notice.startswith("duration:"):
            body = json.loads(notice.split("plan:", 1)[1])
            if "insert into public.jobs" in body["Query Text"]:
                plans.append(body["Plan"])
    assert len(plans) == 1, notices
    plan: dict[str, Any] = plans[0]
    return plan


def scans(plan: dict[str, Any]) -> dict[str, set[str]]:
    """Node types used on each table of interest."""
    found: dict[str, set[str]] = {}
    for node in nodes(plan):
        relation = node.get("Relation Name")
        if relation in APP_TABLES or relation in OURS:
            found.setdefault(relation, set()).add(node["Node Type"])
    return found


def index_names(plan: dict[str, Any]) -> set[str]:
    return {str(node["Index Name"]) for node in nodes(plan) if "Index Name" in node}


def seq_scans(plan: dict[str, Any]) -> dict[str, set[str]]:
    return {table: types for table, types in scans(plan).items() if "Seq Scan" in types}


# -- plans -----------------------------------------------------------------------------------------


def test_a_first_run_reads_the_windows_writers_through_each_sources_index_by_time(
    conn: psycopg.Connection[Any],
) -> None:
    """20261201230000: when the zones read in full hold a quarter of everyone or more (here
    all), who wrote in the 28 days is read once, by time, and nobody is probed."""
    person(conn, "Asia/Tokyo", SUNDAY_1930 - dt.timedelta(days=2))
    person(conn, None, SUNDAY_1930 - dt.timedelta(days=2))
    plan = enqueue_plan(conn, SUNDAY_1930, analyze=True)
    assert set(scans(plan)) >= APP_TABLES | {"profiles", "jobs"}
    assert seq_scans(plan) == {}
    read = {str(n["Index Name"]) for n in nodes(plan) if "Index Name" in n and n.get("Actual Loops", 0) > 0}
    assert read >= WINDOW_INDEXES, WINDOW_INDEXES - read
    assert probe_loops(plan) == 0
    assert enqueue(conn, SUNDAY_1930) == 2


def test_one_zones_hour_probes_its_people_one_by_one(conn: psycopg.Connection[Any]) -> None:
    """A zone read in full that holds less than a quarter of everyone: its people are probed
    through the (user, time) indexes, and no source is read by time."""
    person(conn, "Asia/Tokyo", SUNDAY_1930 - dt.timedelta(days=2))
    for _ in range(4):
        person(conn, "Europe/Berlin", SUNDAY_1930 - dt.timedelta(days=2))
    assert enqueue(conn, SUNDAY_1930) == 5
    conn.execute("update public.profiles set updated_at = %s", (SUNDAY_1930 - dt.timedelta(days=30),))
    conn.execute("analyze auth.users")  # everyone: 5, from the statistics
    plan = enqueue_plan(conn, SUNDAY_2130, analyze=True)
    used = index_names(plan)
    assert {
        "proxima_symptom_tracking_lower_user_date",
        "proxima_quick_scans_lower_user_created",
        "proxima_profiles_timezone_user",
    } <= used, used
    assert probe_loops(plan) >= 1
    # The symptoms' days are read by time only for the window (what was written since the
    # mark, the other indexes by time, is read by the hour either way).
    window_reads = [
        n
        for n in nodes(plan)
        if n.get("Index Name") == "proxima_symptom_tracking_date" and n.get("Actual Loops", 0) > 0
    ]
    assert window_reads == []
    assert enqueue(conn, SUNDAY_2130) == 1


def test_the_jobs_a_person_week_has_are_probed_once_a_key_even_where_a_hash_would_be_chosen(
    conn: psycopg.Connection[Any],
) -> None:
    """20261201160000: as a join, the planner hashed the whole queue once it guessed a few
    thousand keys against a queue not much larger; nested loops switched off stand in for
    that guess here. A LATERAL probe per key has no other plan."""
    for _ in range(5):
        person(conn, "Asia/Tokyo", SUNDAY_1930 - dt.timedelta(days=2))
    assert enqueue(conn, SUNDAY_1930) == 5
    conn.execute("update public.jobs set status = 'succeeded', finished_at = now()")
    # Tokyo's next week: five keys, each probed, none found.
    plan = enqueue_plan(conn, SUNDAY_2130, seqscan=True, analyze=True, extra={"enable_nestloop": "off"})
    assert "jobs" not in seq_scans(plan)
    probes = [n for n in nodes(plan) if n.get("Index Name") == "jobs_user_dedupe_idx"]
    assert [n["Actual Loops"] for n in probes] == [5], probes
    assert enqueue(conn, SUNDAY_2130) == 5


def test_an_hour_with_nobody_due_reads_only_what_was_written_since_the_last_run(
    conn: psycopg.Connection[Any],
) -> None:
    chatter = person(conn, "Asia/Tokyo", SUNDAY_1930 - dt.timedelta(days=2))
    # A history of chats, analysed: with empty tables the planner may as well walk the
    # whole (conversation, time) index of messages as the range of recent ones.
    conn.execute(
        "with chats as ("
        "  insert into public.conversations (user_id, title, created_at)"
        "  select %(who)s, 'chat', %(at)s - g * interval '1 day' from generate_series(1, 200) g returning id"
        ") insert into public.messages (conversation_id, role, content, created_at)"
        "  select c.id, 'user', 'hi', %(at)s - n * interval '1 hour' from chats c, generate_series(1, 20) n",
        {"who": chatter, "at": SUNDAY_1930 - dt.timedelta(days=60)},
    )
    conn.execute("analyze public.conversations, public.messages")
    assert enqueue(conn, SUNDAY_1930) == 1
    plan = enqueue_plan(conn, SUNDAY_1930 + dt.timedelta(hours=1))
    assert seq_scans(plan) == {}
    used = index_names(plan)
    assert used >= WRITTEN_SINCE_INDEXES, WRITTEN_SINCE_INDEXES - used
    assert "jobs_failed_idx" in used


def test_with_statistics_the_planner_itself_chooses_indexes_and_no_sort_spills(
    conn: psycopg.Connection[Any],
) -> None:
    """A few thousand people over four zones, analysed: the plan as chosen, run for real."""
    start = SUNDAY_1930 - dt.timedelta(days=27)
    conn.execute(
        """
        with people as (
          select gen_random_uuid() as id, g,
                 (array['Asia/Tokyo', 'Europe/Berlin', 'America/New_York', 'UTC'])[1 + g %% 4] as zone
          from generate_series(1, 4000) g
        ), users as (
          insert into auth.users (id) select id from people returning id
        ), profiles as (
          insert into public.profiles (user_id, timezone, created_at, updated_at)
          select id, zone, %(start)s - interval '60 days', %(start)s - interval '60 days' from people
          returning user_id
        )
        -- Three scans in the 28 days, twenty in the year before.
        insert into public.quick_scans (user_id, body_part, created_at)
        select p.id::text, 'knee',
               case when n <= 3 then %(start)s + (p.g %% 400) * interval '1 hour' + n * interval '1 day'
                    else %(start)s - n * interval '15 days' + (p.g %% 300) * interval '1 hour' end
        from people p, generate_series(1, 23) n
        """,
        {"start": start},
    )
    # The same days as symptoms: one a day, in any letter case as the app may write them.
    conn.execute(
        "insert into public.symptom_tracking (user_id, symptom_name, body_part, occurrence_date, created_at)"
        " select distinct on (q.user_id, q.created_at::date)"
        "        upper(q.user_id), 'headache', 'head', q.created_at::date, q.created_at"
        " from public.quick_scans q order by q.user_id, q.created_at::date"
    )
    conn.execute("vacuum analyze")
    # The tables with rows (an empty table's Seq Scan costs nothing and is what it gets).
    filled = {"symptom_tracking", "quick_scans", "profiles", "jobs"}
    first = enqueue_plan(conn, SUNDAY_1930, seqscan=True, analyze=True)
    assert not {"symptom_tracking", "quick_scans"} & set(seq_scans(first)), scans(first)
    assert enqueue(conn, SUNDAY_1930) == 4000
    # 20261201130000: the jobs went in in the person's order, so each index by key or by
    # person was filled from one end, not at random pages.
    inserted = [r[0] for r in conn.execute("select user_id from public.jobs order by id").fetchall()]
    assert len(inserted) == 4000 and inserted == sorted(inserted)
    conn.execute("vacuum analyze public.jobs")
    hourly = enqueue_plan(conn, SUNDAY_2130 - dt.timedelta(hours=1), seqscan=True, analyze=True)
    assert not set(seq_scans(hourly)) & filled, scans(hourly)
    for plan in (first, hourly):
        spills = [n for n in nodes(plan) if n.get("Sort Space Type") == "Disk"]
        assert spills == []


def test_a_large_batch_leaves_fresh_coarse_statistics(conn: psycopg.Connection[Any]) -> None:
    """After 1,000 jobs or more (a tenth of the queue or more) the enqueue analyzes the queue,
    at the function's statistics target of 10: a 3,000-row sample, coarse histograms."""
    conn.execute(
        """
        with people as (
          select gen_random_uuid() as id from generate_series(1, 1200)
        ), users as (
          insert into auth.users (id) select id from people returning id
        )
        insert into public.quick_scans (user_id, body_part, created_at)
        select id::text, 'knee', %s from people
        """,
        (SUNDAY_1930 - dt.timedelta(days=2),),
    )
    assert enqueue(conn, SUNDAY_1930) == 1200
    row = conn.execute(
        "select c.reltuples, s.histogram_bounds::text"
        " from pg_class c join pg_stats s on s.schemaname = 'public' and s.tablename = c.relname"
        " where c.oid = 'public.jobs'::regclass and s.attname = 'id'"
    ).fetchone()
    assert row is not None, "public.jobs was not analyzed"
    reltuples, bounds = row
    assert reltuples == 1200
    # Target 10: at most 11 bounds (the default target of 100 gives 101 over 1,200 ids).
    assert 2 <= len(bounds.strip("{}").split(",")) <= 11, bounds
    # The session's own target is untouched.
    assert conn.execute("show default_statistics_target").fetchone() == ("100",)


# -- the marks -------------------------------------------------------------------------------------


def test_someone_active_after_the_last_run_is_enqueued_in_a_covered_zone(
    conn: psycopg.Connection[Any],
) -> None:
    person(conn, "Europe/Berlin", SUNDAY_1930 - dt.timedelta(days=1))
    assert enqueue(conn, SUNDAY_1930) == 1
    later = person(conn, None, None)
    # A quick scan written between the runs, in any letter case, by someone with no profile.
    conn.execute(
        "insert into public.quick_scans (user_id, body_part, created_at) values (%s, 'knee', %s)",
        (str(later).upper(), SUNDAY_1930 + dt.timedelta(minutes=20)),
    )
    assert enqueue(conn, SUNDAY_1930 + dt.timedelta(hours=1)) == 1
    assert weeks_of(conn, later) == ["2026-11-23"]
    assert enqueue(conn, SUNDAY_1930 + dt.timedelta(hours=2)) == 0


def test_a_message_in_an_old_chat_after_the_last_run_is_activity(conn: psycopg.Connection[Any]) -> None:
    person(conn, "UTC", SUNDAY_1930 - dt.timedelta(days=1))
    assert enqueue(conn, SUNDAY_1930) == 1
    chatter = person(conn, "UTC", None)
    [(chat,)] = conn.execute(
        "insert into public.conversations (user_id, title, created_at) values (%s, 'old', %s) returning id",
        (chatter, SUNDAY_1930 - dt.timedelta(days=90)),
    ).fetchall()
    conn.execute(
        "insert into public.messages (conversation_id, role, content, created_at) values (%s, 'user', 'hi', %s)",
        (chat, SUNDAY_1930 + dt.timedelta(minutes=5)),
    )
    assert enqueue(conn, SUNDAY_1930 + dt.timedelta(hours=1)) == 1
    assert weeks_of(conn, chatter) == ["2026-11-23"]


def test_a_zone_saved_between_runs_gives_the_new_zones_week(conn: psycopg.Connection[Any]) -> None:
    """Tokyo's Monday 06:00 has passed at 21:30 UTC, New York's has not."""
    traveller = person(conn, "America/New_York", SUNDAY_2130 - dt.timedelta(days=1))
    person(conn, "Asia/Tokyo", SUNDAY_2130 - dt.timedelta(days=1))
    assert enqueue(conn, SUNDAY_2130) == 2
    assert weeks_of(conn, traveller) == ["2026-11-23"]
    with conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(traveller), "role": "authenticated"}),),
        )
        conn.execute("select public.save_time_zone('Asia/Tokyo')")
    assert enqueue(conn, SUNDAY_2130 + dt.timedelta(minutes=30)) == 1
    assert weeks_of(conn, traveller) == ["2026-11-23", "2026-11-30"]


@pytest.mark.parametrize(
    "update",
    [
        "update public.profiles set timezone = 'Asia/Tokyo' where user_id = %s",
        "update public.profiles set timezone = 'asia/tokyo', updated_at = '2026-01-01' where user_id = %s",
    ],
    ids=["zone", "zone_with_updated_at_set_back"],
)
def test_a_zone_updated_directly_between_runs_gives_the_new_zones_week(
    conn: psycopg.Connection[Any], update: LiteralString
) -> None:
    """The app may update its own profile's zone without save_time_zone: the next hourly run
    still sees the change, even when the same update sets updated_at back."""
    long_ago = SUNDAY_2130 - dt.timedelta(days=60)
    traveller = person(conn, "America/New_York", SUNDAY_2130 - dt.timedelta(days=1))
    person(conn, "Asia/Tokyo", SUNDAY_2130 - dt.timedelta(days=1))
    conn.execute("update public.profiles set created_at = %s, updated_at = %s", (long_ago, long_ago))
    assert enqueue(conn, SUNDAY_2130) == 2
    assert weeks_of(conn, traveller) == ["2026-11-23"]
    with conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": str(traveller), "role": "authenticated"}),),
        )
        updated = conn.execute(update, (traveller,))
        assert updated.rowcount == 1
    assert enqueue(conn, SUNDAY_2130 + dt.timedelta(minutes=30)) == 1
    assert weeks_of(conn, traveller) == ["2026-11-23", "2026-11-30"]


def test_the_marks_move_with_each_hourly_run_and_roll_back_with_its_jobs(
    conn: psycopg.Connection[Any],
) -> None:
    person(conn, "Asia/Tokyo", SUNDAY_1930 - dt.timedelta(days=1))
    with pytest.raises(psycopg.errors.QueryCanceled), conn.transaction():
        assert enqueue(conn, SUNDAY_1930) == 1
        raise psycopg.errors.QueryCanceled("roll back")
    assert conn.execute("select count(*) from proxima_private.weekly_enqueue_marks").fetchone() == (0,)
    assert conn.execute("select count(*) from public.jobs").fetchone() == (0,)

    assert enqueue(conn, SUNDAY_1930) == 1
    marks = dict(conn.execute("select zone, week_of from proxima_private.weekly_enqueue_marks").fetchall())
    assert marks == {"Asia/Tokyo": dt.date(2026, 11, 23), "UTC": dt.date(2026, 11, 23)}
    assert enqueue(conn, SUNDAY_2130) == 1, "Tokyo's Monday 06:00 has passed: its zone is read in full"
    [(week, as_of)] = conn.execute(
        "select week_of, as_of from proxima_private.weekly_enqueue_marks where zone = 'Asia/Tokyo'"
    ).fetchall()
    assert (week, as_of) == (dt.date(2026, 11, 30), SUNDAY_2130)


@pytest.mark.parametrize(
    ("zone", "as_of", "next_week_at_utc"),
    [
        ("Asia/Tokyo", SUNDAY_2130, dt.datetime(2026, 12, 6, 21, 0, tzinfo=dt.UTC)),
        ("Asia/Kolkata", SUNDAY_2130, dt.datetime(2026, 11, 30, 0, 30, tzinfo=dt.UTC)),
        ("Pacific/Kiritimati", SUNDAY_2130, dt.datetime(2026, 12, 6, 16, 0, tzinfo=dt.UTC)),
        ("America/New_York", SUNDAY_2130, dt.datetime(2026, 11, 30, 11, 0, tzinfo=dt.UTC)),
        # Lord Howe moves its clocks by half an hour; Berlin's next Monday is its first in
        # summer time (from 28 March 2027), an hour earlier in UTC than the Monday before.
        ("Australia/Lord_Howe", SUNDAY_2130, dt.datetime(2026, 12, 6, 19, 0, tzinfo=dt.UTC)),
        (
            "Europe/Berlin",
            dt.datetime(2027, 3, 23, 12, 0, tzinfo=dt.UTC),
            dt.datetime(2027, 3, 29, 4, 0, tzinfo=dt.UTC),
        ),
    ],
)
def test_each_mark_holds_the_instant_its_zones_next_week_begins(
    conn: psycopg.Connection[Any], zone: str, as_of: dt.datetime, next_week_at_utc: dt.datetime
) -> None:
    """20261201150000: next Monday 06:00 local, as an instant (which the hourly runs before it
    take the week from, without reading the zone's clock)."""
    person(conn, zone, as_of - dt.timedelta(days=1))
    enqueue(conn, as_of)
    row = conn.execute(
        "select week_of, next_week_at from proxima_private.weekly_enqueue_marks where zone = %s", (zone,)
    ).fetchone()
    assert row is not None
    week, next_week_at = row
    assert next_week_at == next_week_at_utc
    local = next_week_at.astimezone(ZoneInfo(zone))
    assert (local.date(), local.hour, local.minute) == (week + dt.timedelta(days=7), 6, 0)
    # Every mark written has its instant, UTC's too.
    assert conn.execute(
        "select count(*) from proxima_private.weekly_enqueue_marks where next_week_at is null"
    ).fetchone() == (0,)


def test_an_hourly_run_within_a_marks_week_takes_the_week_from_the_mark(
    conn: psycopg.Connection[Any],
) -> None:
    """Shown by a mark that lies: told that Tokyo's week turns a week later, the run at
    Tokyo's Monday 06:30 does not read Tokyo's clock and finds nobody due there. A mark
    without the instant (written before the column) is read as before."""
    tokyo = person(conn, "Asia/Tokyo", SUNDAY_1930 - dt.timedelta(days=1))
    assert enqueue(conn, SUNDAY_1930) == 1
    assert weeks_of(conn, tokyo) == ["2026-11-23"]
    with pytest.raises(psycopg.errors.QueryCanceled), conn.transaction():
        conn.execute(
            "update proxima_private.weekly_enqueue_marks set next_week_at = next_week_at + interval '7 days'"
            " where zone = 'Asia/Tokyo'"
        )
        assert enqueue(conn, SUNDAY_2130) == 0
        raise psycopg.errors.QueryCanceled("roll back")
    conn.execute("update proxima_private.weekly_enqueue_marks set next_week_at = null")
    assert enqueue(conn, SUNDAY_2130) == 1
    assert weeks_of(conn, tokyo) == ["2026-11-23", "2026-11-30"]
    [(week, next_week_at)] = conn.execute(
        "select week_of, next_week_at from proxima_private.weekly_enqueue_marks where zone = 'Asia/Tokyo'"
    ).fetchall()
    assert (week, next_week_at) == (dt.date(2026, 11, 30), dt.datetime(2026, 12, 6, 21, 0, tzinfo=dt.UTC))


def probe_loops(plan: dict[str, Any]) -> int:
    """How many times the per-person activity probes ran (a plan taken with ANALYZE)."""
    return sum(int(n.get("Actual Loops", 0)) for n in nodes(plan) if n.get("Index Name") in PROBE_INDEXES)


def test_a_writer_whose_new_row_is_activity_gets_a_job_without_a_probe(conn: psycopg.Connection[Any]) -> None:
    """20261201110200_enqueue_skips_probes_of_known_writers.sql: a quick scan written since the
    last run is itself in the 28 days; the probes would only say so again."""
    person(conn, "Europe/Berlin", SUNDAY_1930 - dt.timedelta(days=1))
    assert enqueue(conn, SUNDAY_1930) == 1
    writer = person(conn, "Europe/Berlin", SUNDAY_1930 + dt.timedelta(minutes=10), upper=True)
    # Profiles written long before (not "written since", which would have them probed).
    conn.execute("update public.profiles set updated_at = %s", (SUNDAY_1930 - dt.timedelta(days=30),))
    hour = SUNDAY_1930 + dt.timedelta(hours=1)
    plan = enqueue_plan(conn, hour, analyze=True)
    assert probe_loops(plan) == 0
    assert enqueue(conn, hour) == 1
    assert weeks_of(conn, writer) == ["2026-11-23"]


@pytest.mark.parametrize(("days_ago", "jobs"), [(2, 1), (27, 1), (29, 0), (40, 0)])
def test_a_symptom_logged_since_the_last_run_counts_by_its_own_day(
    conn: psycopg.Connection[Any], days_ago: int, jobs: int
) -> None:
    """Written after the mark, but for a day long ago: activity is the symptom's day, as
    the probes read it; such a writer is probed and, with nothing else, gets no job."""
    person(conn, "UTC", SUNDAY_1930 - dt.timedelta(days=1))
    assert enqueue(conn, SUNDAY_1930) == 1
    logger = person(conn, "UTC", None)
    hour = SUNDAY_1930 + dt.timedelta(hours=1)
    conn.execute(
        "insert into public.symptom_tracking (user_id, symptom_name, body_part, occurrence_date, created_at)"
        " values (%s, 'headache', 'head', %s, %s)",
        (str(logger), (hour - dt.timedelta(days=days_ago)).date(), SUNDAY_1930 + dt.timedelta(minutes=5)),
    )
    assert enqueue(conn, hour) == jobs
    assert len(weeks_of(conn, logger)) == jobs


def test_someone_idle_who_only_saved_a_zone_is_probed_and_gets_no_job(conn: psycopg.Connection[Any]) -> None:
    # Enough others that the zone newly read in full (Berlin, one person) is probed.
    for _ in range(4):
        person(conn, "UTC", SUNDAY_1930 - dt.timedelta(days=1))
    idle = person(conn, "UTC", SUNDAY_1930 - dt.timedelta(days=40))
    assert enqueue(conn, SUNDAY_1930) == 4
    conn.execute("update public.profiles set updated_at = %s", (SUNDAY_1930 - dt.timedelta(days=30),))
    conn.execute(
        "update public.profiles set timezone = 'Europe/Berlin', updated_at = %s where user_id = %s",
        (SUNDAY_1930 + dt.timedelta(minutes=5), idle),
    )
    conn.execute("analyze auth.users")
    plan = enqueue_plan(conn, SUNDAY_1930 + dt.timedelta(hours=1), analyze=True)
    assert probe_loops(plan) >= 1
    assert enqueue(conn, SUNDAY_1930 + dt.timedelta(hours=1)) == 0
    assert weeks_of(conn, idle) == []


def test_a_replay_of_an_earlier_moment_reads_in_full(conn: psycopg.Connection[Any]) -> None:
    """A mark says nothing about a moment before it: the 28 days before it reach further back."""
    assert enqueue(conn, SUNDAY_1930 + dt.timedelta(hours=1)) == 0
    early = person(conn, "UTC", SUNDAY_1930 - dt.timedelta(days=28, minutes=30))
    assert enqueue(conn, SUNDAY_1930 - dt.timedelta(hours=1)) == 1
    assert weeks_of(conn, early) == ["2026-11-23"]


def test_an_explicit_week_reads_every_zone_in_full_whatever_the_marks(conn: psycopg.Connection[Any]) -> None:
    """An import of old rows is not 'written since' the mark; a call for the week finds it."""
    person(conn, "UTC", SUNDAY_1930 - dt.timedelta(days=1))
    assert enqueue(conn, SUNDAY_1930) == 1
    imported = person(conn, None, SUNDAY_1930 - dt.timedelta(days=3))
    assert enqueue(conn, SUNDAY_1930 + dt.timedelta(hours=1)) == 0
    assert enqueue(conn, SUNDAY_1930 + dt.timedelta(hours=1), dt.date(2026, 11, 23)) == 1
    assert weeks_of(conn, imported) == ["2026-11-23"]


def test_the_marks_are_not_readable_by_the_api_roles(conn: psycopg.Connection[Any]) -> None:
    for role in ("anon", "authenticated"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(f"set local role {role}")
            conn.execute("select * from proxima_private.weekly_enqueue_marks")


@pytest.mark.parametrize(
    ("shape", "jobs"),
    [
        ("{}", 1),
        ("{upper}", 1),
        ("{nodash}", 0),
        ("{{{}}}", 0),
        ("{} ", 0),
        ("{moved}", 0),
        ("{extra}", 0),
    ],
)
def test_a_covered_zones_text_ids_count_only_in_a_uuids_shape(
    conn: psycopg.Connection[Any], shape: str, jobs: int
) -> None:
    """What the probes match (lower(user_id) = the uuid's text) is what the hourly run reads
    from rows written since the mark."""
    person(conn, "UTC", SUNDAY_1930 - dt.timedelta(days=1))
    assert enqueue(conn, SUNDAY_1930) == 1
    later = person(conn, None, None)
    text = str(later)
    key = shape.format(
        text,
        upper=text.upper(),
        nodash=text.replace("-", ""),
        moved=text[:7] + "-" + text[7] + text[9:],
        extra=text.replace("-", "--", 1)[:36],
    )
    conn.execute(
        "insert into public.quick_scans (user_id, body_part, created_at) values (%s, 'knee', %s)",
        (key, SUNDAY_1930 + dt.timedelta(minutes=20)),
    )
    assert enqueue(conn, SUNDAY_1930 + dt.timedelta(hours=1)) == jobs
    assert len(weeks_of(conn, later)) == jobs


def test_the_uuid_shape_test_agrees_with_the_pattern_on_mutated_ids(conn: psycopg.Connection[Any]) -> None:
    """The shape test of 20261201110200 against the pattern it replaced, over uuids with one
    character replaced, inserted or removed at every position (and the originals)."""
    row = conn.execute(
        r"""
        with ids as (select gen_random_uuid()::text as k from generate_series(1, 20)),
        chars(c) as (select unnest(array['-', 'a', 'F', 'g', '0', ' ', 'é', '{', 'Z'])),
        mutated(k) as (
          select k from ids
          union all select upper(k) from ids
          union all select overlay(k placing c from p for 1) from ids, chars, generate_series(1, 36) p
          union all select overlay(k placing c from p for 0) from ids, chars, generate_series(1, 37) p
          union all select overlay(k placing '' from p for 1) from ids, generate_series(1, 36) p
        )
        select count(*),
               count(*) filter (where k ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
               count(*) filter (where
                 (k ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
                 is distinct from
                 (length(k) = 36 and k ~ '^[-0-9A-Fa-f]+$'
                  and substr(k, 9, 1) = '-' and substr(k, 14, 1) = '-'
                  and substr(k, 19, 1) = '-' and substr(k, 24, 1) = '-'
                  and length(replace(k, '-', '')) = 32))
        from mutated
        """
    ).fetchone()
    assert row is not None
    total, shaped, disagreements = row
    assert total > 10_000
    assert shaped > 1_000  # the originals, upper-cased ones and same-class replacements
    assert disagreements == 0


# One row of a source for the window's-edge test: %(key)s is the id as the source keeps it
# (text-keyed sources: any letter case or shape), %(who)s the uuid, %(at)s the row's time
# (a symptom's day), %(old)s a time long before the window, %(logged)s when a symptom was logged.
WINDOW_EDGE_SQL = {
    "quick_scans": "insert into public.quick_scans (user_id, body_part, created_at) values (%(key)s, 'knee', %(at)s)",
    "symptom_day": (
        "insert into public.symptom_tracking (user_id, symptom_name, body_part, occurrence_date, created_at)"
        " values (%(key)s, 'headache', 'head', %(at)s, %(logged)s)"
    ),
    "health_stories": (
        "insert into public.health_stories (user_id, story_text, created_at) values (%(who)s, 'A story.', %(at)s)"
    ),
    "story_notes": (
        "with s as (insert into public.health_stories (user_id, story_text, created_at)"
        " values (%(who)s, 'Old.', %(old)s) returning id)"
        " insert into public.story_notes (story_id, user_id, note_text, created_at)"
        " select id, %(who)s, 'A note.', %(at)s from s"
    ),
    "deep_dive_sessions": (
        "insert into public.deep_dive_sessions (user_id, body_part, created_at) values (%(key)s, 'chest', %(at)s)"
    ),
    "conversations": (
        "insert into public.conversations (user_id, title, created_at) values (%(who)s, 'A chat', %(at)s)"
    ),
    "messages": (
        "with c as (insert into public.conversations (user_id, title, created_at)"
        " values (%(who)s, 'Old', %(old)s) returning id)"
        " insert into public.messages (conversation_id, role, content, created_at)"
        " select id, 'user', 'hi', %(at)s from c"
    ),
}


def test_the_window_read_and_the_probes_find_the_same_people(conn: psycopg.Connection[Any]) -> None:
    """20261201230000: the same people, each active or idle by one source at the window's
    edges, found for Tokyo's week at 21:30 by the window read (an explicit week: every zone
    read in full) and by the probes (the hourly run once Tokyo's week turned, the other
    zones covered by the 19:30 run; Berlin's idle people make Tokyo less than a quarter)."""
    as_of = SUNDAY_2130
    week = dt.date(2026, 11, 30)
    since = as_of - dt.timedelta(days=28)
    since_day = since.date()
    inside = since + dt.timedelta(hours=5)
    old = as_of - dt.timedelta(days=90)
    cases = {
        "a scan in another letter case": ("quick_scans", "upper", inside, True),
        "a scan at the window's first instant": ("quick_scans", "plain", since, True),
        "a scan a minute before the window": ("quick_scans", "plain", since - dt.timedelta(minutes=1), False),
        "a scan under the id without dashes": ("quick_scans", "hex", inside, False),
        "a symptom on the window's first day, logged long before": ("symptom_day", "plain", since_day, True),
        "a symptom the day before, logged inside": (
            "symptom_day",
            "plain",
            since_day - dt.timedelta(days=1),
            False,
        ),
        "a story": ("health_stories", "plain", inside, True),
        "a note on an old story": ("story_notes", "plain", inside, True),
        "a deep dive in another letter case": ("deep_dive_sessions", "upper", inside, True),
        "a chat": ("conversations", "plain", inside, True),
        "a message in an old chat": ("messages", "plain", inside, True),
        "an old message in an old chat": ("messages", "plain", since - dt.timedelta(days=10), False),
        "nothing": (None, "plain", inside, False),
    }
    people: dict[str, uuid.UUID] = {}
    for name, (source, shape, when, _) in cases.items():
        who = person(conn, "Asia/Tokyo", None)
        people[name] = who
        if source is not None:
            key = {"plain": str(who), "upper": str(who).upper(), "hex": who.hex}[shape]
            # A symptom on the window's first day was logged long before; one the day
            # before, inside the window.
            logged = old if when == since_day else inside
            conn.execute(
                WINDOW_EDGE_SQL[source], {"key": key, "who": who, "at": when, "old": old, "logged": logged}
            )
    for _ in range(4 * len(people)):
        person(conn, "Europe/Berlin", None)
    expected = {who for name, who in people.items() if cases[name][3]}

    def found(by_window: bool) -> tuple[int, set[uuid.UUID]]:
        """Probe loops of the plan and the people given a job for Tokyo's week, rolled back."""
        with pytest.raises(psycopg.errors.QueryCanceled), conn.transaction():
            conn.execute("analyze auth.users, public.profiles")
            if not by_window:
                enqueue(conn, SUNDAY_1930)
            week_of = week if by_window else None
            loops = probe_loops(enqueue_plan(conn, as_of, analyze=True, week_of=week_of))
            enqueue(conn, as_of, week_of)
            given = {
                r[0]
                for r in conn.execute(
                    "select user_id from public.jobs where payload ->> 'week_of' = %s", (week.isoformat(),)
                ).fetchall()
            }
            raise psycopg.errors.QueryCanceled("roll back")  # leave the database as it was
        return loops, given

    window_loops, by_window = found(True)
    probe_loops_, by_probes = found(False)
    assert window_loops == 0
    assert probe_loops_ >= len(people)
    missing = {name for name, who in people.items() if (who in by_window) != cases[name][3]}
    assert missing == set(), missing
    assert by_window == expected
    assert by_probes == expected


def test_people_without_a_profile_count_toward_reading_the_window(conn: psycopg.Connection[Any]) -> None:
    """A first run where most people have no profile (read as UTC's): they count, so the
    window is read, not each of them probed; both runs find the same people."""
    zoned = person(conn, "Asia/Tokyo", SUNDAY_1930 - dt.timedelta(days=2))
    unzoned = [person(conn, None, SUNDAY_1930 - dt.timedelta(days=3)) for _ in range(6)]
    idle = [person(conn, None, SUNDAY_1930 - dt.timedelta(days=40)) for _ in range(4)]
    conn.execute("analyze auth.users, public.profiles")
    plan = enqueue_plan(conn, SUNDAY_1930, analyze=True)
    assert probe_loops(plan) == 0
    assert enqueue(conn, SUNDAY_1930) == 7
    given = {r[0] for r in conn.execute("select user_id from public.jobs").fetchall()}
    assert given == {zoned, *unzoned}
    assert not given & set(idle)
