"""The hourly weekly enqueue at scale, and the cost of writing a profile's time zone.

One private PostgreSQL cluster (``LocalCluster.ephemeral()``: fsync off, 127.0.0.1 only),
every migration, and synthetic people loaded by COPY: ``--people`` active people (default
100,000) spread evenly over 25 time zones (4,000 a zone at full size), plus 1% active
people without a profile (UTC) and 10% idle people (history only, nothing in the last 28
days; the full read of a zone checks them too). Each active person has a few rows in
the 28 days before the first run, across the app's seven activity sources. The 10x
history variant adds nine more copies of every person's rows, each four weeks further
back, so the tables hold ten times as many rows with the same 28 days on top.

The replayed clock (``enqueue_weekly_analysis(null, as_of)``), Sunday 29 November 2026:

1. 19:30 UTC, the first run: every active person is due (their current or previous
   local week) and nobody has a job;
2. 19:31, a second run with nothing to add;
3. 20:30, an hourly run with nobody due (no zone's Monday 06:00 fell in the hour), after
   an hour's worth of new rows by people who already have their job;
4. 21:30, Tokyo's Monday 06:00 (21:00 UTC) has passed: its 4,000 people are due, after
   another hour's worth of new rows.

Each step runs ``--repeat`` times in a transaction that is rolled back (the queue is
vacuumed after each), then once more for real to move the state on; the figure is the
median of all of them. The previous function (20261130100000_whole_local_weeks.sql,
loaded under another name, with today's indexes in place) runs once per step beside
it, rolled back, unless ``--no-baseline``. The plan of the enqueue's INSERT statement
is taken once per step with auto_explain (ANALYZE, BUFFERS), rolled back, and
summarised: which indexes each table was read through, any Seq Scan that ran on an app
table, sorts or hashes that spilled, buffers and temporary blocks.

Time zones: a profile's zone is normalised by a BEFORE trigger (one probe of
``time_zone_names``' unique index on lower(name)) and checked by
``profiles_timezone_is_iana``; the cost per row is read from EXPLAIN ANALYZE of one row
and of 10,000 rows written in one statement, and without the trigger and the check.

``--shared-buffers`` sizes PostgreSQL's buffer cache like a production instance's (the
harness keeps PostgreSQL's default 128MB; Supabase's Small and Medium computes run 512MB
and 1GB), so the 10x history's pages are read from the cache rather than the kernel's.

    flock /tmp/proxima-bench.lock .venv/bin/python bench/enqueue_scale.py --markdown
    flock /tmp/proxima-bench.lock .venv/bin/python bench/enqueue_scale.py --markdown --shared-buffers 1GB
    .venv/bin/python bench/enqueue_scale.py --people 4000 --repeat 1     # smoke run

Progress goes to stderr, the results to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate_connection

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PREVIOUS_MIGRATION = PROJECT_ROOT / "supabase" / "migrations" / "20261130100000_whole_local_weeks.sql"
UTC = dt.UTC
# One zone per whole-hour offset but +10 and +12 (so one hour has nobody due), and India.
ZONES = (
    "Pacific/Kiritimati",
    "Pacific/Auckland",
    "Australia/Sydney",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Asia/Bangkok",
    "Asia/Dhaka",
    "Asia/Kolkata",
    "Asia/Karachi",
    "Asia/Dubai",
    "Europe/Moscow",
    "Europe/Athens",
    "Europe/Berlin",
    "Europe/London",
    "Atlantic/Azores",
    "America/Noronha",
    "America/Sao_Paulo",
    "America/Halifax",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "Pacific/Pago_Pago",
)
MONDAY = dt.date(2026, 11, 30)
FIRST_RUN = dt.datetime(2026, 11, 29, 19, 30, tzinfo=UTC)
WINDOW = dt.timedelta(days=28)
HISTORY_STEP = dt.timedelta(days=28)
PEOPLE_PER_COPY = 5000
APP_TABLES = (
    "symptom_tracking",
    "quick_scans",
    "deep_dive_sessions",
    "conversations",
    "messages",
    "health_stories",
    "story_notes",
)
PLAN_TABLES = (*APP_TABLES, "profiles", "users", "jobs", "weekly_enqueue_marks")
SYMPTOMS = (
    ("Headache", "head"),
    ("Fatigue", "whole body"),
    ("Knee pain", "knee"),
    ("Poor sleep", "whole body"),
)
TZ_BATCH = 10_000
TZ_SINGLES = 200


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- synthetic people ------------------------------------------------------------------------------


@dataclass
class Rows:
    users: list[tuple[Any, ...]] = field(default_factory=list)
    profiles: list[tuple[Any, ...]] = field(default_factory=list)
    stories: list[tuple[Any, ...]] = field(default_factory=list)
    notes: list[tuple[Any, ...]] = field(default_factory=list)
    scans: list[tuple[Any, ...]] = field(default_factory=list)
    dives: list[tuple[Any, ...]] = field(default_factory=list)
    symptoms: list[tuple[Any, ...]] = field(default_factory=list)
    conversations: list[tuple[Any, ...]] = field(default_factory=list)
    messages: list[tuple[Any, ...]] = field(default_factory=list)

    def count(self) -> int:
        return sum(len(v) for v in vars(self).values())


COPY_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("auth.users", "id, email", "users"),
    ("public.profiles", "user_id, timezone, created_at, updated_at", "profiles"),
    ("public.health_stories", "id, user_id, story_text, generated_date, created_at", "stories"),
    ("public.story_notes", "story_id, user_id, note_text, created_at, updated_at", "notes"),
    ("public.quick_scans", "user_id, body_part, created_at", "scans"),
    ("public.deep_dive_sessions", "user_id, body_part, created_at", "dives"),
    (
        "public.symptom_tracking",
        "user_id, symptom_name, body_part, severity, occurrence_date, created_at",
        "symptoms",
    ),
    ("public.conversations", "id, user_id, title, created_at, updated_at", "conversations"),
    ("public.messages", "conversation_id, role, content, created_at", "messages"),
)


@dataclass(frozen=True)
class Person:
    index: int
    user_id: uuid.UUID
    zone: str | None  # None: no profile (UTC)
    idle: bool


class People:
    """Deterministic people: the same index always gives the same person and rows."""

    def __init__(self, active: int, seed: int) -> None:
        self.seed = seed
        self.active = active
        self.no_profile = max(1, active // 100)
        self.idle = max(1, active // 10)
        self.total = active + self.no_profile + self.idle

    def person(self, index: int) -> Person:
        rng = random.Random(self.seed * 10_000_019 + index)
        user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        if index < self.active:
            return Person(index, user_id, ZONES[index % len(ZONES)], idle=False)
        if index < self.active + self.no_profile:
            return Person(index, user_id, None, idle=False)
        return Person(index, user_id, ZONES[index % len(ZONES)], idle=True)

    def rows(self, person: Person, copies: range, rows: Rows) -> None:
        """The person's rows; copy 0 is the 28 days before the first run, copy k is k x 4 weeks earlier.

        An idle person's copy 0 is itself four weeks earlier, so they have no row in the window.
        """
        rng = random.Random(self.seed * 7_000_003 + person.index)
        zone = ZoneInfo(person.zone or "UTC")
        start = FIRST_RUN - WINDOW + dt.timedelta(hours=3)  # still inside the window at 21:30
        span_s = int((WINDOW - dt.timedelta(hours=3, minutes=5)).total_seconds())
        key = str(person.user_id)
        plan: list[tuple[str, float]] = []  # (what, seconds after start)
        if rng.random() < 0.6:
            days = rng.sample(range(27), 3)
            plan += [(f"symptom{k}", d * 86400 + rng.randint(0, 80000)) for k, d in enumerate(days)]
        if rng.random() < 0.7:
            plan.append(("scan", rng.randint(0, span_s)))
        if rng.random() < 0.4:
            plan.append(("chat", rng.randint(0, span_s - 7200)))
        if rng.random() < 0.3:
            plan.append(("story", rng.randint(0, span_s - 7200)))
        if rng.random() < 0.1:
            plan.append(("dive", rng.randint(0, span_s)))
        if not plan:
            plan.append(("scan", rng.randint(0, span_s)))
        for copy in copies:
            back = HISTORY_STEP * (copy + (1 if person.idle else 0))
            for what, offset in plan:
                at = start + dt.timedelta(seconds=offset) - back
                if what.startswith("symptom"):  # one symptom each: never two on one local day
                    name, part = SYMPTOMS[int(what[-1])]
                    rows.symptoms.append((key, name, part, 4, at.astimezone(zone).date(), at))
                elif what == "scan":
                    rows.scans.append((key, "knee", at))
                elif what == "dive":
                    rows.dives.append((key, "chest", at))
                elif what == "chat":
                    chat = uuid.uuid4()
                    rows.conversations.append((chat, person.user_id, "chat", at, at))
                    rows.messages.append((chat, "user", "(benchmark message)", at + dt.timedelta(minutes=1)))
                    rows.messages.append(
                        (chat, "assistant", "(benchmark message)", at + dt.timedelta(minutes=2))
                    )
                else:
                    story = uuid.uuid4()
                    rows.stories.append((story, person.user_id, "(benchmark story)", at, at))
                    if offset % 2:
                        moment = at + dt.timedelta(hours=1)
                        rows.notes.append((story, person.user_id, "(benchmark note)", moment, moment))


def copy_rows(conn: psycopg.Connection[Any], rows: Rows) -> None:
    with conn.transaction(), conn.cursor() as cur:
        for table, columns, attribute in COPY_TARGETS:
            batch = getattr(rows, attribute)
            if not batch:
                continue
            with cur.copy(f"copy {table} ({columns}) from stdin") as copy:
                for row in batch:
                    copy.write_row(row)


def load(conn: psycopg.Connection[Any], people: People, copies: range, *, with_people: bool) -> int:
    """COPY the people (when ``with_people``) and their rows of ``copies``; returns the rows written."""
    written = 0
    old = FIRST_RUN - dt.timedelta(days=400)
    for first in range(0, people.total, PEOPLE_PER_COPY):
        rows = Rows()
        for index in range(first, min(people.total, first + PEOPLE_PER_COPY)):
            person = people.person(index)
            if with_people:
                rows.users.append((person.user_id, f"person{index:06d}@bench.proxima.local"))
                if person.zone is not None:
                    rows.profiles.append((person.user_id, person.zone, old, old))
            people.rows(person, copies, rows)
        copy_rows(conn, rows)
        written += rows.count()
        if (first // PEOPLE_PER_COPY) % 5 == 4 or first + PEOPLE_PER_COPY >= people.total:
            note(
                f"  {min(people.total, first + PEOPLE_PER_COPY):,}/{people.total:,} people, {written:,} rows"
            )
    return written


def add_zones(conn: psycopg.Connection[Any], count: int, seed: int) -> list[str]:
    """``count`` more time zones in use, each with one idle person (a profile and nothing in
    the 28 days): canonical names (``public.time_zone_names``) other than UTC and ``ZONES``,
    in name order. No step's jobs change; every run reads more zones' marks and clocks."""
    if count == 0:
        return []
    zones = [
        str(row[0])
        for row in conn.execute(
            "select name from public.time_zone_names where name = canonical and name <> 'UTC'"
            " and name <> all (%s) order by name limit %s",
            (list(ZONES), count),
        ).fetchall()
    ]
    if len(zones) < count:
        raise SystemExit(f"--extra-zones: only {len(zones)} more canonical zones exist, not {count}")
    rng = random.Random(seed * 1_000_003 + count)
    old = FIRST_RUN - dt.timedelta(days=400)
    rows = Rows()
    for zone in zones:
        user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        rows.users.append((user_id, f"zone-{zone.lower().replace('/', '-')}@bench.proxima.local"))
        rows.profiles.append((user_id, zone, old, old))
    copy_rows(conn, rows)
    return zones


def add_history(conn: psycopg.Connection[Any], loaded: int, factor: int) -> None:
    """Copies ``loaded`` .. ``factor - 1`` of every row of the first copy, each 4 weeks further back.

    Done in the server (INSERT ... SELECT) rather than by COPY: the same rows as
    :meth:`People.rows` would write for those copies, but for the ids of stories and
    conversations, which are new. Only the first copy may be in the tables.
    """
    params = {"lo": loaded, "hi": factor - 1, "step": HISTORY_STEP}
    statements = (
        "insert into public.symptom_tracking"
        " (user_id, symptom_name, body_part, severity, occurrence_date, created_at)"
        " select t.user_id, t.symptom_name, t.body_part, t.severity,"
        " t.occurrence_date - 28 * k, t.created_at - k * %(step)s::interval"
        " from public.symptom_tracking t, generate_series(%(lo)s::int, %(hi)s::int) k",
        "insert into public.quick_scans (user_id, body_part, created_at)"
        " select q.user_id, q.body_part, q.created_at - k * %(step)s::interval"
        " from public.quick_scans q, generate_series(%(lo)s::int, %(hi)s::int) k",
        "insert into public.deep_dive_sessions (user_id, body_part, created_at)"
        " select d.user_id, d.body_part, d.created_at - k * %(step)s::interval"
        " from public.deep_dive_sessions d, generate_series(%(lo)s::int, %(hi)s::int) k",
        "insert into public.health_stories (user_id, story_text, generated_date, created_at)"
        " select s.user_id, s.story_text, s.generated_date - k * %(step)s::interval, s.created_at - k * %(step)s::interval"
        " from public.health_stories s, generate_series(%(lo)s::int, %(hi)s::int) k",
        "insert into public.story_notes (story_id, user_id, note_text, created_at, updated_at)"
        " select n.story_id, n.user_id, n.note_text, n.created_at - k * %(step)s::interval, n.updated_at - k * %(step)s::interval"
        " from public.story_notes n, generate_series(%(lo)s::int, %(hi)s::int) k",
        "create temporary table history_chats on commit drop as"
        " select c.id as old_id, k, gen_random_uuid() as new_id, c.user_id, c.title, c.created_at"
        " from public.conversations c, generate_series(%(lo)s::int, %(hi)s::int) k",
        "insert into public.conversations (id, user_id, title, created_at, updated_at)"
        " select h.new_id, h.user_id, h.title, h.created_at - h.k * %(step)s::interval, h.created_at - h.k * %(step)s::interval"
        " from history_chats h",
        "insert into public.messages (conversation_id, role, content, created_at)"
        " select h.new_id, m.role, m.content, m.created_at - h.k * %(step)s::interval"
        " from public.messages m join history_chats h on h.old_id = m.conversation_id",
    )
    with conn.transaction():
        for statement in statements:
            conn.execute(statement, params)  # type: ignore[arg-type]
            note(f"  {statement.split('(')[0].split(' as ')[0][:60]}")


def new_hour(conn: psycopg.Connection[Any], people: People, end: dt.datetime, count: int, seed: int) -> None:
    """``count`` quick scans in the hour before ``end`` by active people who already have their job."""
    rng = random.Random(seed)
    rows = Rows()
    for _ in range(count):
        person = people.person(rng.randrange(people.active))
        rows.scans.append((str(person.user_id), "knee", end - dt.timedelta(seconds=rng.randint(1, 3599))))
    copy_rows(conn, rows)


# -- timing and plans --------------------------------------------------------------------------------


class Rollback(Exception):  # noqa: N818 - a signal, not an error
    pass


def call(
    conn: psycopg.Connection[Any],
    function: str,
    as_of: dt.datetime,
    *,
    commit: bool,
    timeout_s: float | None = None,
) -> tuple[float, int]:
    """Wall time (ms, with the commit when committed) and result of one enqueue.

    With ``timeout_s``, a call still running then is cancelled: (the timeout in ms, -1).
    """
    started = time.perf_counter()
    result = -1
    elapsed = 0.0
    try:
        with conn.transaction():
            if timeout_s is not None:
                conn.execute(
                    "select set_config('statement_timeout', %s, true)", (f"{int(timeout_s * 1000)}",)
                )
            row = conn.execute(f"select {function}(null::date, %s)", (as_of,)).fetchone()
            result = int(row[0]) if row else -1
            elapsed = (time.perf_counter() - started) * 1000
            if not commit:
                raise Rollback
        elapsed = (time.perf_counter() - started) * 1000
    except psycopg.errors.QueryCanceled:
        elapsed = (timeout_s or 0.0) * 1000
        conn.execute("vacuum analyze public.jobs")
    except Rollback:
        conn.execute("vacuum analyze public.jobs")
    return elapsed, result


@dataclass
class PlanSummary:
    duration_ms: float
    tables: dict[str, set[str]]
    seq_on_app: list[str]
    spills: list[str]
    shared_hit: int
    shared_read: int
    temp_written: int

    def render(self) -> str:
        parts = []
        for table in PLAN_TABLES:
            if table in self.tables:
                parts.append(f"{table}: {', '.join(sorted(self.tables[table]))}")
        return (
            f"{self.duration_ms:.0f} ms under EXPLAIN ANALYZE; buffers hit {self.shared_hit:,}, read "
            f"{self.shared_read:,}, temp written {self.temp_written:,}; Seq Scan on an app table: "
            f"{', '.join(self.seq_on_app) or 'none'}; spills: {', '.join(self.spills) or 'none'}. "
            + "; ".join(parts)
        )


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


# Every statement a call runs (nested ones too), with ANALYZE and BUFFERS, sent to the client.
AUTO_EXPLAIN = {
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_nested_statements": "on",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on",
    "auto_explain.log_timing": "on",
    "auto_explain.log_level": "notice",
}


def explain(conn: psycopg.Connection[Any], function: str, as_of: dt.datetime) -> PlanSummary:
    """The INSERT statement's plan from auto_explain (ANALYZE, BUFFERS), the call rolled back."""
    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    settings = AUTO_EXPLAIN | {"auto_explain.log_format": "json"}
    try:
        with conn.transaction():
            conn.execute("load 'auto_explain'")
            for name, value in settings.items():
                conn.execute("select set_config(%s, %s, true)", (name, value))
            conn.execute(f"select {function}(null::date, %s)", (as_of,))
            raise Rollback
    except Rollback:
        pass
    conn.execute("vacuum analyze public.jobs")
    for message in notices:
        if not message.startswith("duration:") or "insert into public.jobs" not in message:
            continue
        duration = float(message.split()[1])
        body = json.loads(message.split("plan:", 1)[1])
        plan = body["Plan"]
        tables: dict[str, set[str]] = {}
        seq: list[str] = []
        spills: list[str] = []
        for node in _nodes(plan):
            ran = node.get("Actual Loops", 0) > 0
            relation = node.get("Relation Name")
            if node.get("Sort Space Type") == "Disk":
                spills.append(f"sort {node.get('Sort Space Used')} kB")
            if node.get("Disk Usage", 0) or node.get("HashAgg Batches", 1) > 1:
                spills.append(f"{node['Node Type']} {node.get('Disk Usage')} kB")
            if node.get("Hash Batches", 1) > 1:
                spills.append(f"hash {node.get('Hash Batches')} batches")
            if relation in PLAN_TABLES and ran:
                label = node["Node Type"] + (f" {node['Index Name']}" if "Index Name" in node else "")
                tables.setdefault(relation, set()).add(label)
                if node["Node Type"] == "Seq Scan" and relation in APP_TABLES:
                    seq.append(relation)
            if node.get("Node Type") == "Bitmap Index Scan" and ran:
                index = str(node.get("Index Name"))
                owner = next((t for t in PLAN_TABLES if index.startswith(("proxima_" + t, t))), "index")
                tables.setdefault(owner, set()).add(f"Bitmap Index Scan {index}")
        return PlanSummary(
            duration_ms=duration,
            tables=tables,
            seq_on_app=sorted(set(seq)),
            spills=spills,
            shared_hit=int(plan.get("Shared Hit Blocks", 0)),
            shared_read=int(plan.get("Shared Read Blocks", 0)),
            temp_written=int(plan.get("Temp Written Blocks", 0)),
        )
    raise RuntimeError("auto_explain gave no plan for the enqueue's INSERT")


def previous_function(conn: psycopg.Connection[Any]) -> str:
    """The previous enqueue, created as public.bench_previous_enqueue from its migration."""
    text = PREVIOUS_MIGRATION.read_text(encoding="utf-8")
    head = "create or replace function public.enqueue_weekly_analysis(week_of date default null, as_of timestamptz default now())"
    start = text.index(head)
    end = text.index("\n$$;\n", start) + len("\n$$;\n")
    body = (
        text[start:end]
        .replace("public.enqueue_weekly_analysis(", "public.bench_previous_enqueue(", 1)
        .replace("enqueue_weekly_analysis.", "bench_previous_enqueue.")
    )
    conn.execute(body.encode())
    return "public.bench_previous_enqueue"


# -- time zones ----------------------------------------------------------------------------------------


def _explain_ms(conn: psycopg.Connection[Any], statement: str, params: Any) -> tuple[float, float]:
    """Execution time and the time in row triggers (ms) of ``statement`` under EXPLAIN ANALYZE."""
    [(plan,)] = conn.execute(f"explain (analyze, format json) {statement}", params).fetchall()
    triggers = sum(float(t.get("Time", 0.0)) for t in plan[0].get("Triggers", []))
    return float(plan[0]["Execution Time"]), triggers


@dataclass
class TzCosts:
    profiles: int
    insert_one_us: float
    insert_batch_us: float
    insert_bare_us: float
    trigger_one_us: float
    trigger_batch_us: float
    update_one_us: float
    update_batch_us: float
    check_call_us: float
    reads_zone_list: bool


def tz_costs(conn: psycopg.Connection[Any], seed: int) -> TzCosts:
    rng = random.Random(seed)
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(TZ_BATCH + TZ_SINGLES)]
    with conn.transaction(), conn.cursor() as cur, cur.copy("copy auth.users (id) from stdin") as copy:
        for user_id in ids:
            copy.write_row((user_id,))
    [(profiles,)] = conn.execute("select count(*) from public.profiles").fetchall()
    zones = list(ZONES)
    one: list[float] = []
    one_trigger: list[float] = []
    for k, user_id in enumerate(ids[TZ_BATCH:]):
        # Lower-case on purpose: the trigger stores the canonical spelling.
        ms, trig = _explain_ms(
            conn,
            "insert into public.profiles (user_id, timezone) values (%s, %s)",
            (user_id, zones[k % len(zones)].lower()),
        )
        one.append(ms)
        one_trigger.append(trig)
    one_update = [
        _explain_ms(
            conn,
            "update public.profiles set timezone = %s where user_id = %s",
            (zones[(k + 1) % len(zones)], user_id),
        )[0]
        for k, user_id in enumerate(ids[TZ_BATCH:])
    ]
    batch_insert = (
        "insert into public.profiles (user_id, timezone)"
        " select u, (%s::text[])[1 + (n %% %s)] from unnest(%s::uuid[]) with ordinality as t(u, n)"
    )
    batch_params = ([z.lower() for z in zones], len(zones), ids[:TZ_BATCH])
    batch_ms, batch_trigger = _explain_ms(conn, batch_insert, batch_params)
    update_ms, _ = _explain_ms(
        conn,
        "update public.profiles set timezone = 'Europe/Paris' where user_id = any (%s::uuid[])",
        (ids[:TZ_BATCH],),
    )
    conn.execute("delete from public.profiles where user_id = any (%s::uuid[])", (ids[:TZ_BATCH],))
    bare_ms = 0.0
    try:
        with conn.transaction():
            conn.execute("alter table public.profiles disable trigger profiles_normalise_time_zone")
            conn.execute("alter table public.profiles drop constraint profiles_timezone_is_iana")
            bare_ms, _ = _explain_ms(conn, batch_insert, (zones, len(zones), ids[:TZ_BATCH]))
            raise Rollback
    except Rollback:
        pass
    started = time.perf_counter()
    conn.execute(
        "select count(*) filter (where public.is_valid_time_zone(z)) from unnest(%s::text[]) z,"
        " generate_series(1, %s)",
        (zones, TZ_BATCH // len(zones)),
    )
    check_us = (time.perf_counter() - started) * 1e6 / (TZ_BATCH // len(zones) * len(zones))
    [(definitions,)] = conn.execute(
        "select string_agg(pg_get_functiondef(p.oid), ' ') from pg_proc p"
        " where p.oid in ('public.is_valid_time_zone(text)'::regprocedure,"
        " 'public.canonical_time_zone(text)'::regprocedure, 'public.require_time_zone(text)'::regprocedure,"
        " 'public.profiles_normalise_time_zone()'::regprocedure)"
    ).fetchall()
    return TzCosts(
        profiles=int(profiles),
        insert_one_us=statistics.median(one) * 1000,
        insert_batch_us=batch_ms * 1000 / TZ_BATCH,
        insert_bare_us=bare_ms * 1000 / TZ_BATCH,
        trigger_one_us=statistics.median(one_trigger) * 1000,
        trigger_batch_us=batch_trigger * 1000 / TZ_BATCH,
        update_one_us=statistics.median(one_update) * 1000,
        update_batch_us=update_ms * 1000 / TZ_BATCH,
        check_call_us=check_us,
        reads_zone_list="pg_timezone_names" in str(definitions),
    )


# -- the run ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    as_of: dt.datetime
    target_ms: float | None
    new_rows_before: bool


STEPS = (
    Step("full", "Full enqueue, every active person due, no jobs yet", FIRST_RUN, 2000, False),
    Step("again", "Second run, nothing to add", FIRST_RUN + dt.timedelta(minutes=1), None, False),
    Step(
        "nobody", "Hourly run, nobody due (an hour of new rows)", FIRST_RUN + dt.timedelta(hours=1), 100, True
    ),
    Step("zone", "Hourly run, one zone's Monday 06:00 passed", FIRST_RUN + dt.timedelta(hours=2), 300, True),
)


@dataclass
class Measured:
    times_ms: list[float]
    added: int
    previous_ms: float | None
    previous_added: int | None
    plan: PlanSummary
    floor_ms: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)


def due_zones(start: dt.datetime, end: dt.datetime) -> list[str]:
    """Zones whose Monday 06:00 of MONDAY falls in (start, end]."""
    found = []
    for name in ZONES:
        due = dt.datetime.combine(MONDAY, dt.time(6), tzinfo=ZoneInfo(name))
        if start < due <= end:
            found.append(name)
    return found


def run_steps(
    conn: psycopg.Connection[Any],
    people: People,
    args: argparse.Namespace,
    previous: str | None,
    hourly_rows: int,
    label: str,
    url: str | None = None,
) -> dict[str, Measured]:
    """Each step's timed calls; with ``url``, each call is the first of a new session (as each
    pg_cron run is: the function compiled, the catalog cached and the statement planned anew)."""

    def session() -> contextlib.AbstractContextManager[psycopg.Connection[Any]]:
        return psycopg.connect(url, autocommit=True) if url else contextlib.nullcontext(conn)

    results: dict[str, Measured] = {}
    for number, step in enumerate(STEPS):
        if step.new_rows_before:
            new_hour(conn, people, step.as_of, hourly_rows, args.seed * 100 + number)
            conn.execute("analyze public.quick_scans")
        note(f"{label}: {step.title} (as_of {step.as_of:%a %H:%M} UTC)")
        previous_ms = previous_added = None
        if previous:
            previous_ms, previous_added = call(
                conn, previous, step.as_of, commit=False, timeout_s=args.baseline_timeout
            )
            note(f"  previous function: {previous_ms:.0f} ms, {previous_added:,} jobs (-1: cancelled)")
        times = []
        for _ in range(args.repeat):
            with session() as caller:
                ms, added = call(caller, "public.enqueue_weekly_analysis", step.as_of, commit=False)
            times.append(ms)
        plan = explain(conn, "public.enqueue_weekly_analysis", step.as_of)
        with session() as caller:
            ms, added = call(caller, "public.enqueue_weekly_analysis", step.as_of, commit=True)
        times.append(ms)
        conn.execute("vacuum analyze public.jobs")
        note(f"  new function: {', '.join(f'{t:.0f}' for t in times)} ms, {added:,} jobs")
        results[step.key] = Measured(times, added, previous_ms, previous_added, plan)
        if step.key == "full":
            results[step.key].floor_ms = insert_floor(conn)
            note(f"  the same jobs by a plain INSERT ... SELECT: {results[step.key].floor_ms:.0f} ms")
    return results


def insert_floor(conn: psycopg.Connection[Any]) -> float:
    """Wall time (ms) of inserting as many weekly jobs again with a plain INSERT ... SELECT, rolled back.

    What any enqueue pays for the rows themselves: the heap, the queue's indexes, the
    check that each person exists and the NOTIFY trigger (one statement trigger). The keys get a suffix so the
    unique index lets them in beside the real ones.
    """
    started = time.perf_counter()
    elapsed = 0.0
    try:
        with conn.transaction():
            conn.execute(
                "insert into public.jobs (kind, user_id, payload, priority, dedupe_key)"
                " select kind, user_id, payload, priority, dedupe_key || ':floor'"
                " from public.jobs where kind = 'weekly_analysis'"
            )
            elapsed = (time.perf_counter() - started) * 1000
            raise Rollback
    except Rollback:
        conn.execute("vacuum analyze public.jobs")
    return elapsed


def reset(conn: psycopg.Connection[Any]) -> None:
    conn.execute("truncate public.jobs")
    conn.execute("truncate proxima_private.weekly_enqueue_marks")
    conn.execute("delete from public.quick_scans where created_at > %s", (FIRST_RUN,))


def _verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return "met" if value <= target else "**missed**"


def render(
    args: argparse.Namespace,
    env: dict[str, str],
    people: People,
    by_history: dict[int, dict[str, Measured]],
    sizes: dict[int, dict[str, int]],
    tz: TzCosts,
    zone_due: list[str],
) -> str:
    factors = sorted(by_history)
    md = args.markdown
    lines = [
        f"Run {env['date']} on {env['machine']}; load average before: {env['load']}.",
        f"Command: `{env['command']}`",
        "",
        f"People: {people.active:,} active over {len(ZONES)} zones, {people.no_profile:,} active without a "
        f"profile (UTC), {people.idle:,} idle (history only). Rows in the seven activity sources: "
        + ", ".join(f"{f}x history {sum(sizes[f].values()):,}" for f in factors)
        + f". The zone due at 21:30 UTC: {', '.join(zone_due)}.",
        f"Figures are the median of {args.repeat + 1} runs (min in brackets)"
        + (", each the first call of a new session" if args.fresh_session else "")
        + "; the previous function (20261130100000, same indexes) ran once per step.",
        "",
    ]
    header = ["Step", "Target"]
    for f in factors:
        header += [f"{f}x history: previous", f"{f}x: new", f"{f}x: jobs", f"{f}x: verdict"]
    rows = []
    for step in STEPS:
        target = f"<= {step.target_ms:.0f} ms" if step.target_ms is not None else ""
        row = [step.title, target]
        for f in factors:
            m = by_history[f][step.key]
            if m.previous_ms is None:
                previous = "n/a"
            elif m.previous_added is not None and m.previous_added < 0:
                previous = f"> {m.previous_ms / 1000:,.0f} s (cancelled)"
            else:
                previous = f"{m.previous_ms:,.0f} ms"
            row += [
                previous,
                f"{m.median:,.0f} ms ({min(m.times_ms):,.0f})",
                f"{m.added:,}",
                _verdict(m.median, step.target_ms),
            ]
        rows.append(row)
    if md:
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
        for r in [header, *rows]:
            lines.append("  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)))
    floors = ", ".join(
        f"{f}x {by_history[f]['full'].floor_ms:,.0f} ms"
        for f in factors
        if by_history[f]["full"].floor_ms is not None
    )
    lines += [
        "",
        f"The same {by_history[factors[0]]['full'].added:,} jobs inserted by a plain INSERT ... SELECT "
        f"(heap, the queue's indexes, the statement trigger that checks the people and wakes the workers): {floors}.",
    ]
    if len(factors) > 1:
        lo, hi = factors[0], factors[-1]
        ratios = ", ".join(
            f"{s.key} {by_history[hi][s.key].median / max(by_history[lo][s.key].median, 0.001):.2f}x"
            for s in STEPS
        )
        lines += ["", f"Growth from {lo}x to {hi}x history (new function, medians): {ratios}."]
    lines += [
        "",
        f"Time zone writes (server-side, EXPLAIN ANALYZE; the table held {tz.profiles:,} profiles):",
        "",
    ]
    tz_rows = [
        ("Insert one profile (median of 200 single-row statements)", f"{tz.insert_one_us:,.0f} µs a row"),
        (f"Insert {TZ_BATCH:,} profiles in one statement", f"{tz.insert_batch_us:,.1f} µs a row"),
        (
            f"Insert {TZ_BATCH:,} profiles, no zone trigger and no zone check",
            f"{tz.insert_bare_us:,.1f} µs a row",
        ),
        (
            "The zone trigger (normalise: one probe of time_zone_names' lower(name) index), 1 row / "
            f"{TZ_BATCH:,} rows",
            f"{tz.trigger_one_us:,.1f} / {tz.trigger_batch_us:,.1f} µs a row",
        ),
        (
            f"Update one profile's zone / {TZ_BATCH:,} in one statement",
            f"{tz.update_one_us:,.0f} / {tz.update_batch_us:,.1f} µs a row",
        ),
        ("is_valid_time_zone (the CHECK), one call", f"{tz.check_call_us:,.1f} µs"),
        (
            "The zone functions read pg_timezone_names",
            "yes" if tz.reads_zone_list else "no (a shape test, one `at time zone`, one index probe)",
        ),
    ]
    if md:
        lines += ["| Time zone write | Cost |", "|---|---|"] + [f"| {a} | {b} |" for a, b in tz_rows]
    else:
        lines += [f"{a}: {b}" for a, b in tz_rows]
    lines += [
        "",
        "Plans of the enqueue's INSERT statement (auto_explain, ANALYZE and BUFFERS, rolled back):",
        "",
    ]
    for f in factors:
        for step in STEPS:
            lines.append(f"- {f}x, {step.key}: {by_history[f][step.key].plan.render()}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    env = {
        "date": dt.datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["bench/enqueue_scale.py", *sys.argv[1:]]),
        "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    people = People(args.people, args.seed)
    zone_due = due_zones(FIRST_RUN + dt.timedelta(hours=1), FIRST_RUN + dt.timedelta(hours=2))
    if zone_due != ["Asia/Tokyo"] or due_zones(
        FIRST_RUN + dt.timedelta(minutes=1), FIRST_RUN + dt.timedelta(hours=1)
    ):
        raise RuntimeError(f"the replayed clock does not give one zone due at 21:30: {zone_due}")
    started = time.monotonic()
    cluster = LocalCluster.ephemeral()
    try:
        if args.shared_buffers:
            cluster.overrides["shared_buffers"] = args.shared_buffers
        note("starting PostgreSQL")
        cluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            migrate_connection(conn)
            [(version,)] = conn.execute("show server_version").fetchall()
            [(buffers,)] = conn.execute("show shared_buffers").fetchall()
            env["machine"] = (
                f"{os.cpu_count()} cores ({platform.machine()}), PostgreSQL {version}, shared_buffers {buffers}"
            )
            conn.execute("set maintenance_work_mem = '256MB'")
            previous = None if args.no_baseline else previous_function(conn)
            by_history: dict[int, dict[str, Measured]] = {}
            sizes: dict[int, dict[str, int]] = {}
            loaded = 0
            for factor in sorted(args.history):
                if not by_history:
                    note(f"loading {people.total:,} people, {factor}x history")
                    load(conn, people, range(factor), with_people=True)
                    if args.extra_zones:
                        note(
                            f"  {len(add_zones(conn, args.extra_zones, args.seed))} more zones, one idle person each"
                        )
                else:
                    reset(conn)
                    note(f"adding history up to {factor}x")
                    add_history(conn, loaded, factor)
                loaded = factor
                note("  vacuum analyze")
                conn.execute("vacuum analyze")
                sizes[factor] = {
                    t: int(conn.execute(f"select count(*) from public.{t}").fetchall()[0][0])
                    for t in APP_TABLES
                }
                window_rows = sum(sizes[factor].values()) // factor
                hourly_rows = max(1, window_rows // (28 * 24))
                by_history[factor] = run_steps(
                    conn,
                    people,
                    args,
                    previous,
                    hourly_rows,
                    f"{factor}x",
                    cluster.url() if args.fresh_session else None,
                )
            note("time zone writes")
            tz = tz_costs(conn, args.seed)
        print(render(args, env, people, by_history, sizes, tz, zone_due), flush=True)
        return 0
    finally:
        cluster.stop()
        note(f"done in {time.monotonic() - started:.0f} s")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def buffer_size(text: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]{0,5}(kB|MB|GB)", text):
        raise argparse.ArgumentTypeError(f"shared_buffers must look like 512MB or 1GB, not {text!r}")
    return text


def _factors(text: str) -> list[int]:
    values = sorted({_positive_int(part) for part in re.split(r"[,\s]+", text.strip()) if part})
    if not values:
        raise argparse.ArgumentTypeError("give at least one history factor")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=_positive_int, default=100_000, help="active people (100000)")
    parser.add_argument(
        "--history", type=_factors, default=[1, 10], help="history factors, e.g. 1,10 (default)"
    )
    parser.add_argument("--repeat", type=_positive_int, default=3, help="rolled-back runs per step (3)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the previous function")
    parser.add_argument(
        "--shared-buffers",
        type=buffer_size,
        default=None,
        help="PostgreSQL's shared_buffers, e.g. 1GB (default: the harness's 128MB; Supabase's "
        "Small and Medium computes run 512MB and 1GB)",
    )
    parser.add_argument(
        "--baseline-timeout",
        type=float,
        default=60.0,
        help="seconds after which a call of the previous function is cancelled (60)",
    )
    parser.add_argument(
        "--fresh-session",
        action="store_true",
        help="time each call as the first of a new connection, as each pg_cron run is",
    )
    parser.add_argument(
        "--extra-zones",
        type=_count,
        default=0,
        help="more time zones in use, one idle person each (0; at most 393, every other canonical zone)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the synthetic people")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
