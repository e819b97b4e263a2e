"""The weekly analysis at scale: N synthetic people through the real queue, worker and provider.

One private PostgreSQL cluster (``LocalCluster.ephemeral()``: fsync off, 127.0.0.1 only,
``pg_stat_statements`` preloaded next to pg_cron), every migration, and ``--people`` people
(default 10,000) with five realistic weeks of activity and a story of their own for the
current week, so a person-week takes exactly two model round trips. Their time zones
are spread over six zones. Rows go in with COPY, 1,000 people per transaction.

The ``deepseek`` provider talks to the fake chat-completions server of
``tests/support/fake_deepseek.py``, run in a separate process (in the worker's process
it would compete for the GIL) on 127.0.0.1: it answers valid JSON after ``--latency``
seconds, works on at most ``--concurrency`` requests at once and simulates DeepSeek's
prefix cache. ``--concurrency`` is also the provider's ``max_concurrency`` and the
worker's job concurrency (split across ``--processes``).

Phases, in order, all against the same cluster and fake server:

1. database time per person-week, measured in this process over ``--db-sample`` people
   spread over the population, one at a time on one connection: the wall time of
   ``gather_week``, ``store.last_report`` and ``store.store_report`` (the
   latter inside a transaction that is rolled back, so the main run sees untouched
   data; the report is written by the offline ``local`` provider, not timed);
2. the product guide's schedule: ``--guide-batches`` batches of ``--guide-batch-size``
   people (concurrent within a batch), each person four sequential model calls, a
   ``--guide-pause`` between batches, over the same provider class and fake server; the
   measured batch time is extrapolated to all ``ceil(people / batch size)`` batches;
3. the main run: the fake server's counters are cleared, ``pg_stat_statements`` reset,
   the worker started (in this process, or ``--processes K`` ``python -m worker run``
   processes) and, once it listens, ``select public.enqueue_weekly_analysis()``; the
   clock runs from just before the enqueue to the last job's ``finished_at`` (both
   read from the server's clock). The server-side execution time of the same three
   calls' statements is read from ``pg_stat_statements`` for the whole run. A run still
   unfinished after ``--timeout`` is stopped and reported as such, with its wall time
   projected to all people at the rate it reached (labelled "projected").

The worker runs as many job slots as ``python -m worker run`` would (twice its
request slots, ``worker.config.default_job_slots``: a job holds its slot while it gathers
and stores, when it needs no model); ``--job-concurrency`` sets another number (one
process only).

Known deviation from the schema as migrated: ``profiles_timezone_is_iana`` calls
``is_valid_time_zone``, which scans ``pg_timezone_names`` for every row (about 30 ms a
row, five minutes for 10,000 profiles on this machine). Unless ``--keep-timezone-check``
is given, the constraint is dropped for the bulk load, every distinct zone loaded is
checked with the same function, and the constraint is added back ``NOT VALID`` (it
still guards every later write). The per-row cost is measured and printed.

    .venv/bin/python bench/weekly_run.py                                # full size
    .venv/bin/python bench/weekly_run.py --people 200 --latency 0.2     # smoke run
    .venv/bin/python bench/weekly_run.py --concurrency 100 --processes 2

Progress goes to stderr; the results table (Markdown) goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import datetime as dt
import io
import json
import math
import os
import platform
import pstats
import random
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import AsyncConnection, sql

from worker.ai.deepseek import DeepSeekProvider
from worker.ai.local import LocalProvider
from worker.analysis import analytics, store
from worker.analysis.gather import gather_week
from worker.config import AISettings, default_job_slots
from worker.db.devdb import LocalCluster
from worker.db.migrate import migrate_connection
from worker.handlers import default_registry
from worker.log import configure as configure_logging
from worker.pipeline import PIPELINE_VERSION
from worker.report import Report, Usage, WeekFacts
from worker.runtime.loop import run as run_loop
from worker.runtime.worker import Worker, WorkerSettings
from worker.safety import load_guard

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FAKE_SUPPORT = PROJECT_ROOT / "tests" / "support"
BENCH_API_KEY = "sk-bench-weekly-run"  # the fake server checks it; nothing real
MODEL = "deepseek-reasoner"  # the provider's default model
ROUND_TRIPS = 2  # a person-week with a story of its own: analysis, then moves
ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Sydney",
)
PEOPLE_PER_COPY = 1000
POLL_SECONDS = 0.5  # how often the harness checks the queue
WORKER_POLL_SECONDS = 0.5
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
FAKE_REPLY_TIMEOUT_S = 120.0
HARNESS_STATEMENT_TIMEOUT = "-c statement_timeout=120000"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WORKER_APPLICATION = "proxima-bench-worker"  # the worker's connections, as pg_stat_activity names them
SAMPLE_SECONDS = 0.25  # how often the worker's connections and memory are sampled

# The statements of the three timed calls, as pg_stat_statements shows them.
DB_STATEMENTS = {
    # A whole week's gather: profile, last report and activity in one statement.
    "gather_profile_and_activity": "with profile as (",
    "gather_profile_zone": "select p.timezone from",
    "last_report_generation": "select g.input_hash, g.trigger",
    "store_week": "with generation as (",
}


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- synthetic people ---------------------------------------------------------------------------

SYMPTOMS: tuple[tuple[str, str], ...] = (
    ("Headache", "head"),
    ("Tension headache", "head"),
    ("Fatigue", "whole body"),
    ("Lower back pain", "lower back"),
    ("Knee pain", "knee"),
    ("Neck stiffness", "neck"),
    ("Poor sleep", "whole body"),
    ("Bloating", "abdomen"),
    ("Dizziness", "head"),
    ("Shoulder tension", "shoulder"),
    ("Heartburn", "chest"),
    ("Wrist pain", "wrist"),
)
FIRST_NAMES = (
    "Maya",
    "Jonas",
    "Aiko",
    "Priya",
    "Tomás",
    "Femi",
    "Lena",
    "Omar",
    "Sofia",
    "Kenji",
    "Ana",
    "Liam",
)
LAST_NAMES = (
    "Lindqvist",
    "Okafor",
    "Tanaka",
    "Sharma",
    "García",
    "Adeyemi",
    "Novak",
    "Haddad",
    "Rossi",
    "Kim",
)
SCAN_SUMMARIES = (
    "Aching after stairs; no swelling reported, eased with rest.",
    "Stiffness in the morning that eased by noon, worse after sitting for long periods.",
    "Sharper pain after a long run; the person iced it and it settled by the evening.",
    "Pressure late in the day, worse after long calls, better after a break outdoors.",
    "Band-like tightness that eased with a walk and a glass of water.",
    "Dull discomfort after meals, mostly in the evening, no other changes noted.",
)
STORY_TITLES = (
    "Back on the trails",
    "Finding a rhythm",
    "Long days at the desk",
    "A calmer week",
    "Busy but steady",
    "Small changes, clear effects",
)
STORY_SENTENCES = (
    "Work got busy again after a quiet stretch, and the afternoons were the hardest.",
    "You started the week meaning to go to bed earlier, but two late evenings pushed that back.",
    "On Wednesday you skipped lunch and by four o'clock you felt drained, with {s} that stayed into the evening.",
    "Thursday was better: you walked to the office, drank more water and took a proper break at noon.",
    "{S} showed up on a couple of days, mostly after long stretches at the screen.",
    "The weekend was calm: the market on Saturday morning and Sunday with family.",
    "You slept almost nine hours on Saturday night, which you had not done in weeks.",
    "Your back was stiff after the long drive on Sunday, but stretching in the evening helped.",
    "A short walk after lunch became a habit by Friday, and {s} eased on the days you took it.",
    "Deadlines made the week busy, but you kept your evening walks and cooked at home most days.",
)
NOTE_TEXTS = (
    "Skipped lunch on Wednesday; energy crashed by 4 pm.",
    "Tried a 10-minute walk at lunch on Friday; the afternoon was easier.",
    "Slept badly before the Thursday deadline.",
    "Switched to softer trails on Sunday; the knee felt better.",
    "Less coffee after noon this week.",
    "Stretching before bed seems to help the mornings.",
)
CHAT_TITLES = (
    "Are my headaches linked to screen time?",
    "Knee after running",
    "Why am I so tired in the afternoon?",
    "Lower back after gardening",
    "Sleep and caffeine",
)


@dataclass
class Rows:
    """The rows of one chunk of people, per table, in COPY column order."""

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
        return sum(len(getattr(self, f.name)) for f in dataclasses.fields(self))


# Table, columns and the Rows attribute, in an order that satisfies the foreign keys.
COPY_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("auth.users", "id, email, raw_user_meta_data", "users"),
    ("public.profiles", "user_id, name, email, timezone", "profiles"),
    (
        "public.health_stories",
        "id, user_id, title, subtitle, story_text, generated_date, date_range, data_sources, created_at",
        "stories",
    ),
    ("public.story_notes", "story_id, user_id, note_text, created_at, updated_at", "notes"),
    (
        "public.quick_scans",
        "user_id, body_part, form_data, analysis_result, confidence_score, urgency_level, llm_summary, created_at",
        "scans",
    ),
    (
        "public.deep_dive_sessions",
        "user_id, body_part, status, final_analysis, final_confidence, llm_summary, created_at, completed_at",
        "dives",
    ),
    (
        "public.symptom_tracking",
        "user_id, symptom_name, body_part, severity, occurrence_date, created_at",
        "symptoms",
    ),
    ("public.conversations", "id, user_id, title, created_at, updated_at", "conversations"),
    ("public.messages", "conversation_id, role, content, created_at", "messages"),
)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; the means here are small."""
    if mean <= 0:
        return 0
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit and count < 50:
        product *= rng.random()
        count += 1
    return count


class PersonMaker:
    """Five weeks of one person's activity, counted back from their local today."""

    def __init__(self, seed: int, now: dt.datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.latest = now - dt.timedelta(minutes=1)  # nothing is written in the future
        self.zones = {name: ZoneInfo(name) for name in ZONES}
        self.today = {name: now.astimezone(zone).date() for name, zone in self.zones.items()}

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def make(self, index: int, rows: Rows) -> uuid.UUID:
        rng = self.rng
        tz = ZONES[index % len(ZONES)]
        zone, today = self.zones[tz], self.today[tz]

        def at(days_back: int, hour: int, minute: int = 0) -> dt.datetime:
            moment = dt.datetime.combine(
                today - dt.timedelta(days=days_back), dt.time(hour, minute), tzinfo=zone
            )
            return min(moment, self.latest)

        # Days back from today to the Sunday that ends the week a weekly report covers.
        due_back = today.weekday() + 1

        user_id = self._uuid()
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        email = f"person{index:06d}@bench.proxima.local"
        rows.users.append((user_id, email, json.dumps({"name": name})))
        rows.profiles.append((user_id, name, email, tz))

        chosen = rng.sample(SYMPTOMS, rng.randint(2, 4))
        for position, (symptom, part) in enumerate(chosen):
            rate = rng.uniform(0.6, 3.0)  # entries a week
            base = rng.randint(2, 7)
            fading = position == 0 and rng.random() < 0.35  # quiet this week: a shadow pattern
            rising = not fading and rng.random() < 0.3
            for week in range(5):  # week 0 is this week (the seven days ending today)
                mean = rate * (0.0 if fading and week == 0 else 1.7 if rising and week == 0 else 1.0)
                for day in rng.sample(range(7), min(_poisson(rng, mean), 7)):
                    back = 7 * week + day
                    severity = max(1, min(10, base + rng.randint(-2, 2) + (2 if rising and week == 0 else 0)))
                    rows.symptoms.append(
                        (
                            user_id,
                            symptom,
                            part,
                            severity,
                            today - dt.timedelta(days=back),
                            at(back, rng.randint(7, 22)),
                        )
                    )

        parts = [part for _, part in chosen if part != "whole body"] or ["head"]
        for week in range(5):
            for _ in range(rng.choices((0, 1, 2), weights=(5, 4, 1))[0]):
                moment = at(7 * week + rng.randint(0, 6), rng.randint(8, 21), rng.randint(0, 59))
                urgency = rng.choices(("low", "medium", "high"), weights=(6, 3, 1))[0]
                rows.scans.append(
                    (user_id, rng.choice(parts), "{}", "{}", 80, urgency, rng.choice(SCAN_SUMMARIES), moment)
                )
            if rng.random() < 0.12:
                moment = at(7 * week + rng.randint(0, 6), rng.randint(8, 21))
                rows.dives.append(
                    (
                        user_id,
                        rng.choice(parts),
                        "completed",
                        "{}",
                        75,
                        rng.choice(SCAN_SUMMARIES),
                        moment,
                        moment,
                    )
                )
            for _ in range(rng.choices((0, 1, 2), weights=(4, 4, 2))[0]):
                conversation = self._uuid()
                moment = at(7 * week + rng.randint(0, 6), rng.randint(7, 22))
                rows.conversations.append((conversation, user_id, rng.choice(CHAT_TITLES), moment, moment))
                for number in range(rng.randint(2, 10)):
                    rows.messages.append(
                        (
                            conversation,
                            "user" if number % 2 == 0 else "assistant",
                            "(benchmark message)",
                            min(moment + dt.timedelta(minutes=number), self.latest),
                        )
                    )
            # A story of their own in the week the weekly report covers (the previous local
            # Monday-to-Sunday week, whatever day the bench runs on), most weeks before it.
            if week == 0 or rng.random() < 0.6:
                back = due_back + rng.randint(0, 6) if week == 0 else 7 * week + rng.randint(0, 6)
                self._story(user_id, [s for s, _ in chosen], at(back, rng.randint(8, 20)), rows)
        return user_id

    def _story(self, user_id: uuid.UUID, symptoms: list[str], moment: dt.datetime, rows: Rows) -> None:
        rng = self.rng
        story_id = self._uuid()
        words = {"s": symptoms[0].lower(), "S": symptoms[-1]}
        text = " ".join(s.format(**words) for s in rng.sample(STORY_SENTENCES, rng.randint(4, 7)))
        date_range = json.dumps(
            {"start": (moment.date() - dt.timedelta(days=6)).isoformat(), "end": moment.date().isoformat()}
        )
        rows.stories.append(
            (
                story_id,
                user_id,
                rng.choice(STORY_TITLES),
                "A week in your own words",
                text,
                moment,
                date_range,
                "{}",
                moment,
            )
        )
        for hours in sorted(rng.sample(range(1, 30), rng.randint(0, 3))):
            written = min(moment + dt.timedelta(hours=hours), self.latest)
            rows.notes.append((story_id, user_id, rng.choice(NOTE_TEXTS), written, written))


@dataclass
class SeedResult:
    user_ids: list[uuid.UUID]
    rows: int
    seconds: float
    tz_check_ms: float  # one evaluation of profiles_timezone_is_iana
    tz_check_kept: bool


def _time_zone_check_ms(conn: psycopg.Connection[Any], evaluations: int = 20) -> float:
    """The cost of one ``is_valid_time_zone`` call, as the profiles check runs it per row."""
    started = time.perf_counter()
    conn.execute(
        "select count(*) from generate_series(1, %(n)s) g"
        " where public.is_valid_time_zone((%(zones)s::text[])[1 + g %% %(k)s])",
        {"n": evaluations, "zones": list(ZONES), "k": len(ZONES)},
    )
    return (time.perf_counter() - started) * 1000 / evaluations


def seed_people(url: str, people: int, seed: int, now: dt.datetime, *, keep_tz_check: bool) -> SeedResult:
    maker = PersonMaker(seed, now)
    user_ids: list[uuid.UUID] = []
    total_rows = 0
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True, options=HARNESS_STATEMENT_TIMEOUT) as conn:
        check_ms = _time_zone_check_ms(conn)
        dropped: list[tuple[str, str]] = []
        if not keep_tz_check:
            dropped = [
                (str(name), str(definition))
                for name, definition in conn.execute(
                    "select conname, pg_get_constraintdef(oid) from pg_constraint"
                    " where conrelid = 'public.profiles'::regclass and contype = 'c'"
                    " and pg_get_constraintdef(oid) like '%%is_valid_time_zone%%'"
                )
            ]
            for name, _ in dropped:
                conn.execute(
                    sql.SQL("alter table public.profiles drop constraint {}").format(sql.Identifier(name))
                )
        for first in range(0, people, PEOPLE_PER_COPY):
            rows = Rows()
            for index in range(first, min(people, first + PEOPLE_PER_COPY)):
                user_ids.append(maker.make(index, rows))
            with conn.transaction(), conn.cursor() as cur:
                for table, columns, attribute in COPY_TARGETS:
                    with cur.copy(f"copy {table} ({columns}) from stdin") as copy:
                        for row in getattr(rows, attribute):
                            copy.write_row(row)
            total_rows += rows.count()
            note(f"  loaded {len(user_ids):,}/{people:,} people ({total_rows:,} rows)")
        if dropped:
            row = conn.execute(
                "select bool_and(public.is_valid_time_zone(z.timezone))"
                " from (select distinct timezone from public.profiles) z"
            ).fetchone()
            if not (row and row[0]):
                raise RuntimeError("a loaded profile time zone fails is_valid_time_zone")
            for name, definition in dropped:
                conn.execute(
                    sql.SQL("alter table public.profiles add constraint {} {} not valid").format(
                        sql.Identifier(name), sql.SQL(definition)
                    )
                )
        seconds = time.monotonic() - started
        note("  vacuum analyze")
        conn.execute("vacuum analyze")
    return SeedResult(user_ids, total_rows, seconds, check_ms, keep_tz_check or not dropped)


# -- the fake DeepSeek server, in a process of its own -------------------------------------------


def _pace(received: list[float], concurrency: int, latency: float) -> str:
    """Where the requests fell short of the bound's pace: the ramp (first request to the
    ``concurrency``-th), the middle (requests a second against ``concurrency / latency``),
    and the tail (the last ``concurrency`` requests)."""
    if len(received) < 3 * concurrency:
        return "pace: too few requests to split"
    first, last = received[0], received[-1]
    ramp = received[concurrency - 1] - first
    middle = received[concurrency:-concurrency]
    span = middle[-1] - middle[0]
    rate = (len(middle) - 1) / span if span > 0 else float("nan")
    tail = last - received[-concurrency]
    ideal = concurrency / latency
    return (
        f"pace at the fake server: ramp {ramp:.2f} s to {concurrency} requests; middle {rate:.1f} requests/s "
        f"({rate / ideal:.1%} of {ideal:.0f}/s) over {span:.1f} s; last {concurrency} requests over {tail:.2f} s; "
        f"first to last request {last - first:.1f} s"
    )


def serve_fake(latency: float, concurrency: int, max_recorded: int, answers: str = "template") -> int:
    """The child: start the fake server, print its URL, answer ``stats``/``clear`` on stdin.
    ``answers``: ``template`` (the fake server's own short answers) or ``offline`` (the
    offline provider's wording, as long and varied as a report; see ``ANSWERS``)."""
    sys.path.insert(0, str(FAKE_SUPPORT))
    from fake_deepseek import FakeDeepSeek, offline_answer  # noqa: PLC0415 - lives in tests/support

    if answers == "offline":
        load_guard()  # the offline provider validates what it writes: no first answer waits for it
    fake = FakeDeepSeek(
        answer=offline_answer if answers == "offline" else None,
        api_key=BENCH_API_KEY,
        latency=latency,
        max_concurrency=concurrency,
        max_recorded=max_recorded,
    )
    fake.start()
    print(json.dumps({"url": fake.url}), flush=True)
    try:
        for line in sys.stdin:  # ends when the parent closes the pipe (or dies)
            command = line.strip()
            if command == "stats":
                requests, usages = fake.requests, fake.usages
                by_task: dict[str, int] = {}
                for request in requests:
                    by_task[str(request.task)] = by_task.get(str(request.task), 0) + 1
                reply: dict[str, Any] = {
                    "requests": len(requests),
                    "by_task": by_task,
                    "prompt_tokens": sum(u["prompt_tokens"] for u in usages),
                    "cache_hit_tokens": sum(u["prompt_cache_hit_tokens"] for u in usages),
                    "completion_tokens": sum(u["completion_tokens"] for u in usages),
                    "peak_concurrency": fake.peak_concurrency,
                    "cpu_s": time.process_time(),
                    "received": sorted(request.received_at for request in requests),
                }
            elif command == "clear":
                fake.clear()
                reply = {"ok": True}
            else:
                break
            print(json.dumps(reply), flush=True)
    finally:
        fake.stop()
    return 0


ANSWERS = {
    "template": "the fake server's own answers: a few short sentences, the moves' rationale and outcome"
    " the same five times",
    "offline": "the offline provider's wording for each person's facts: every insight, prediction and"
    " move in its own words, over half again the characters (the server writes and validates each)",
}


def add_answers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--answers",
        choices=sorted(ANSWERS),
        default="template",
        help="what the fake server answers: "
        + "; ".join(f"{name}, {meaning}" for name, meaning in ANSWERS.items())
        + " (template)",
    )


class FakeServerProcess:
    """The parent's handle on the fake server process; :meth:`close` kills it."""

    def __init__(
        self, latency: float, concurrency: int, max_recorded: int, log: IO[bytes], answers: str = "template"
    ) -> None:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve-fake",
            "--latency",
            repr(latency),
            "--concurrency",
            str(concurrency),
            "--max-recorded",
            str(max_recorded),
            "--answers",
            answers,
        ]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=PROJECT_ROOT, bufsize=0
        )
        try:
            self.url = str(self._read(READY_TIMEOUT_S)["url"])
            if not self.url.startswith("http://127.0.0.1:"):
                raise RuntimeError(f"the fake server is not on loopback: {self.url}")
        except BaseException:
            self.close()
            raise

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            raise RuntimeError(
                f"the fake server did not answer within {timeout:g} s (exit code {self.proc.poll()})"
            )
        reply: dict[str, Any] = json.loads(line)
        return reply

    def command(self, name: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(name.encode() + b"\n")
        self.proc.stdin.flush()
        return self._read(FAKE_REPLY_TIMEOUT_S)

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# -- CPU accounting --------------------------------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    return sum(_proc_cpu_split(pid))


def _proc_cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of one process ((0, 0) if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0, 0.0
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def _children_cpu(parent: int) -> float:
    """CPU of ``parent`` and its live children (PostgreSQL: the postmaster and its backends)."""
    total = _proc_cpu(parent)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


# -- phase 1: database time per person-week --------------------------------------------------------


@dataclass
class DbPass:
    people: int
    gather_ms: list[float]
    hash_ms: list[float]
    store_ms: list[float]
    analytics_ms: list[float]
    needing_story: int

    @property
    def total_ms(self) -> list[float]:
        return [a + b + c for a, b, c in zip(self.gather_ms, self.hash_ms, self.store_ms, strict=True)]


async def db_pass(url: str, sample: Sequence[uuid.UUID]) -> tuple[DbPass, list[WeekFacts]]:
    provider = LocalProvider()
    result = DbPass(len(sample), [], [], [], [], 0)
    facts_seen: list[WeekFacts] = []
    async with await AsyncConnection.connect(url, autocommit=True, options=HARNESS_STATEMENT_TIMEOUT) as conn:
        for user_id in sample:
            cur = await conn.execute("select public.user_week_of(%s)", [user_id])
            row = await cur.fetchone()
            assert row is not None
            week_of: dt.date = row[0]
            t0 = time.perf_counter()
            raw = await gather_week(conn, user_id, week_of)
            t1 = time.perf_counter()
            facts = analytics.analyse(raw)
            story_id = analytics.week_story_id(raw)
            digest = analytics.input_hash(
                facts, provider="deepseek", model=MODEL, prompt_version=PIPELINE_VERSION
            )
            t2 = time.perf_counter()
            await store.last_report(conn, user_id, week_of)
            t3 = time.perf_counter()
            analysis = await provider.write_analysis(facts)
            moves = await provider.write_moves(facts, analysis.answer)
            report = Report(
                facts=facts,
                story=None,
                analysis=analysis.answer,
                moves=moves.answer,
                usage=Usage(
                    prompt_tokens=10_000, cache_hit_tokens=7_000, completion_tokens=2_000, round_trips=2
                ),
                provider="deepseek",
                model=MODEL,
            )
            if facts.story is None:
                result.needing_story += 1
                continue
            async with conn.transaction(force_rollback=True):
                t4 = time.perf_counter()
                await store.store_report(
                    conn,
                    user_id=user_id,
                    report=report,
                    story_id=story_id,
                    trigger="weekly",
                    input_hash=digest,
                    duration_ms=0,
                )
                t5 = time.perf_counter()
            result.gather_ms.append((t1 - t0) * 1000)
            result.analytics_ms.append((t2 - t1) * 1000)
            result.hash_ms.append((t3 - t2) * 1000)
            result.store_ms.append((t5 - t4) * 1000)
            facts_seen.append(facts)
    return result, facts_seen


# -- phase 2: the product guide's schedule ---------------------------------------------------------


@dataclass
class GuideRun:
    batches: int
    batch_size: int
    calls: int
    pause: float
    batch_seconds: list[float]
    pause_seconds: list[float]
    people: int  # the population the schedule is extrapolated to

    @property
    def mean_batch(self) -> float:
        return statistics.fmean(self.batch_seconds)

    @property
    def total_batches(self) -> int:
        return math.ceil(self.people / self.batch_size)

    @property
    def extrapolated(self) -> float:
        """All batches at the measured mean batch time, with the pauses between them."""
        return self.total_batches * self.mean_batch + (self.total_batches - 1) * self.pause

    def nominal(self, latency: float) -> float:
        """All batches at exactly ``calls x latency`` each: the schedule's own arithmetic."""
        return self.total_batches * self.calls * latency + (self.total_batches - 1) * self.pause


async def _guide_person(provider: DeepSeekProvider, facts: WeekFacts, calls: int) -> None:
    """``calls`` sequential calls: analysis-shaped ones, then the moves (the fake knows three tasks)."""
    analysis = (await provider.write_analysis(facts)).answer
    for _ in range(calls - 2):
        analysis = (await provider.write_analysis(facts)).answer
    await provider.write_moves(facts, analysis)


async def guide_simulation(
    settings: AISettings, facts: Sequence[WeekFacts], args: argparse.Namespace, latency: float
) -> GuideRun:
    run = GuideRun(
        args.guide_batches, args.guide_batch_size, args.guide_calls, args.guide_pause, [], [], args.people
    )
    provider = DeepSeekProvider(settings)
    bound = args.guide_batches * (args.guide_calls * latency * 10 + args.guide_pause) + 60
    try:
        async with asyncio.timeout(bound):
            for batch in range(args.guide_batches):
                people = [
                    facts[(batch * args.guide_batch_size + j) % len(facts)]
                    for j in range(args.guide_batch_size)
                ]
                started = time.perf_counter()
                await asyncio.gather(*(_guide_person(provider, f, args.guide_calls) for f in people))
                run.batch_seconds.append(time.perf_counter() - started)
                note(f"  guide batch {batch + 1}/{args.guide_batches}: {run.batch_seconds[-1]:.2f} s")
                if batch < args.guide_batches - 1:
                    started = time.perf_counter()
                    await asyncio.sleep(args.guide_pause)
                    run.pause_seconds.append(time.perf_counter() - started)
    finally:
        await provider.aclose()
    return run


# -- phase 3: the main run -------------------------------------------------------------------------


@dataclass
class MainRun:
    enqueued: int
    succeeded: int
    failed: int
    finished: bool  # every job succeeded or failed before the timeout
    retried: int
    wall_s: float  # server clock: before the enqueue -> the last finished_at (else: until the timeout)
    harness_wall_s: float  # harness clock: before the enqueue -> completion noticed
    worker_cpu_s: float
    worker_sys_s: float  # the part of worker_cpu_s spent in the kernel (system calls)
    postgres_cpu_s: float
    fake_cpu_s: float
    busy_cores: float
    load_before: str  # /proc/loadavg's 1, 5 and 15 minute figures just before the enqueue
    fake: dict[str, Any]
    generations: dict[str, Any]
    statements: list[dict[str, Any]]
    db_server_ms: dict[str, float]
    durations_ms: dict[str, float]
    worker_connections_max: int  # the most connections the worker held at one sample
    worker_rss_before_mb: float  # the worker process's resident memory just before the enqueue
    worker_rss_peak_mb: float  # its peak during the run (sampled; in-process: this process)
    worker_hwm_mb: float  # the kernel's high-water mark of its resident memory (VmHWM)


def _statement_text(query: str) -> str:
    """A statement on one line, without its leading ``--`` comment lines."""
    lines = [line for line in query.splitlines() if not line.lstrip().startswith("--")]
    return " ".join(" ".join(lines).split())


def _dump_profile(profiler: cProfile.Profile, path: str) -> None:
    profiler.dump_stats(path)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    note(f"profile of the worker process during the run (saved to {path}):\n{out.getvalue()}")


def _bench_ai(request_slots: int, base_url: str) -> AISettings:
    """The worker's DeepSeek settings against the fake server."""
    return AISettings(
        provider="deepseek",
        api_key=BENCH_API_KEY,
        base_url=base_url,
        model=MODEL,
        max_concurrency=request_slots,
    )


def _job_shares(args: argparse.Namespace) -> list[int]:
    """Each worker process's job slots: without --job-concurrency, what `python -m worker run`
    would run for its request slots."""
    if args.job_concurrency:
        return _split(args.job_concurrency, args.processes)
    return [
        default_job_slots(AISettings(provider="deepseek", api_key=BENCH_API_KEY, max_concurrency=share))
        for share in _split(args.concurrency, args.processes)
    ]


def _job_slots(args: argparse.Namespace) -> int:
    return sum(_job_shares(args))


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _with_application(url: str) -> str:
    """``url`` with the worker's ``application_name``, so its connections can be counted."""
    return f"{url}{'&' if '?' in url else '?'}application_name={WORKER_APPLICATION}"


@contextlib.contextmanager
def worker_processes(
    url: str, fake_url: str, concurrencies: Sequence[int], log_dir: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``python -m worker run`` processes; SIGTERM, then SIGKILL, on the way out."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for number, concurrency in enumerate(concurrencies):
            env = {
                **os.environ,
                "DATABASE_URL": _with_application(url),
                "PROXIMA_AI_PROVIDER": "deepseek",
                "DEEPSEEK_API_KEY": BENCH_API_KEY,
                "DEEPSEEK_BASE_URL": fake_url,
                "DEEPSEEK_MAX_CONCURRENCY": str(concurrency),
            }
            cmd = [
                sys.executable,
                "-m",
                "worker",
                "run",
                "--kinds",
                "weekly_analysis",
                "--no-schedule",
                "--concurrency",
                str(concurrency),
                "--poll",
                str(WORKER_POLL_SECONDS),
                "--log-level",
                "WARNING",
            ]
            with open(log_dir / f"worker-{number}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
                )
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


async def _one(conn: AsyncConnection[Any], query: str, params: Sequence[Any] | None = None) -> Any:
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return row[0]


async def _wait_listening(conn: AsyncConnection[Any], workers: int, alive: Callable[[], None]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        alive()
        listening = await _one(
            conn, "select count(*) from pg_stat_activity where query ilike 'listen proxima_jobs%%'"
        )
        if listening >= workers:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the workers did not LISTEN within {READY_TIMEOUT_S:.0f} s")


@dataclass
class Drive:
    enqueued: int
    t0: float  # the server's clock just before the enqueue (epoch seconds)
    harness_s: float
    succeeded: int
    failed: int
    finished: bool


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Samples:
    """The worker's database connections and resident memory, sampled during the run."""

    pids: list[int]
    connections_max: int = 0
    rss_peak_mb: float = 0.0

    async def run(self, url: str) -> None:
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            while True:
                held = await _one(
                    conn,
                    "select count(*) from pg_stat_activity where application_name = %s",
                    [WORKER_APPLICATION],
                )
                self.connections_max = max(self.connections_max, int(held))
                self.rss_peak_mb = max(self.rss_peak_mb, sum(_rss_mb(pid) for pid in self.pids))
                await asyncio.sleep(SAMPLE_SECONDS)


async def _drive(conn: AsyncConnection[Any], people: int, timeout: float, alive: Callable[[], None]) -> Drive:
    """Enqueue, then wait until every job succeeded or failed, or ``timeout`` passed."""
    started = time.monotonic()
    t0 = await _one(conn, "select extract(epoch from clock_timestamp())::float8")
    enqueued = int(await _one(conn, "select public.enqueue_weekly_analysis()"))
    note(f"  enqueued {enqueued:,} jobs")
    if enqueued != people:
        raise RuntimeError(f"enqueued {enqueued} jobs for {people} people")
    deadline = started + timeout
    shown = -1.0
    succeeded = failed = 0
    finished = False
    while time.monotonic() < deadline:
        alive()
        cur = await conn.execute(
            "select count(*) filter (where status = 'succeeded'), count(*) filter (where status = 'failed')"
            " from public.jobs where kind = 'weekly_analysis'"
        )
        row = await cur.fetchone()
        assert row is not None
        succeeded, failed = int(row[0]), int(row[1])
        if succeeded + failed >= enqueued:
            finished = True
            break
        elapsed = time.monotonic() - started
        if elapsed - shown >= 10:
            shown = elapsed
            note(f"  {succeeded:,}/{enqueued:,} done after {elapsed:.0f} s")
        await asyncio.sleep(POLL_SECONDS)
    if not finished:
        note(f"  NOT FINISHED within {timeout:.0f} s: {succeeded:,}/{enqueued:,} done; stopping")
    return Drive(enqueued, float(t0), time.monotonic() - started, succeeded, failed, finished)


async def main_run(
    url: str,
    cluster_pid: int,
    fake: FakeServerProcess,
    args: argparse.Namespace,
    log_dir: Path,
    timeout: float,
) -> MainRun:
    fake.command("clear")
    shares = _split(args.concurrency, args.processes)
    job_shares = _job_shares(args)
    async with await AsyncConnection.connect(url, autocommit=True, options=HARNESS_STATEMENT_TIMEOUT) as conn:
        await conn.execute("select pg_stat_statements_reset()")
        stop = asyncio.Event()
        task: asyncio.Task[None] | None = None
        with contextlib.ExitStack() as stack:
            procs: list[subprocess.Popen[bytes]] = []
            if args.processes == 1:
                settings = _bench_ai(shares[0], fake.url)
                worker = Worker(
                    _with_application(url),
                    default_registry(settings),
                    WorkerSettings(concurrency=job_shares[0], poll_seconds=WORKER_POLL_SECONDS),
                    settle_heap=True,  # as `python -m worker run` does
                )
                task = asyncio.create_task(worker.run(stop))
            else:
                if args.job_concurrency:
                    raise SystemExit("--job-concurrency needs --processes 1")
                procs = stack.enter_context(worker_processes(url, fake.url, shares, log_dir))

            def alive() -> None:
                if task is not None and task.done():
                    task.result()
                    raise RuntimeError("the worker stopped early")
                for proc in procs:
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"a worker process exited with code {proc.returncode} (see {log_dir})"
                        )

            try:
                await _wait_listening(conn, args.processes, alive)
                cpu_self = resource.getrusage(resource.RUSAGE_SELF)
                cpu_workers = sum(_proc_cpu(p.pid) for p in procs)
                sys_workers = sum(_proc_cpu_split(p.pid)[1] for p in procs)
                cpu_pg = _children_cpu(cluster_pid)
                cpu_fake = float(fake.command("stats")["cpu_s"])
                busy0, total0 = _machine_busy()
                load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
                profiler = cProfile.Profile(time.process_time) if args.profile and not procs else None
                samples = Samples([p.pid for p in procs] or [os.getpid()])
                rss_before = sum(_rss_mb(pid) for pid in samples.pids)
                sampler = asyncio.create_task(samples.run(url))
                if profiler is not None:
                    profiler.enable()
                try:
                    drive = await _drive(conn, args.people, timeout, alive)
                finally:
                    sampler.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sampler
                hwm = sum(_rss_mb(pid, "VmHWM") for pid in samples.pids)
                if profiler is not None:
                    profiler.disable()
                    _dump_profile(profiler, args.profile)
                busy1, total1 = _machine_busy()
                fake_stats = fake.command("stats")
                cpu_pg = _children_cpu(cluster_pid) - cpu_pg
                if procs:
                    worker_cpu = sum(_proc_cpu(p.pid) for p in procs) - cpu_workers
                    worker_sys = sum(_proc_cpu_split(p.pid)[1] for p in procs) - sys_workers
                else:
                    now_self = resource.getrusage(resource.RUSAGE_SELF)
                    worker_cpu = (now_self.ru_utime + now_self.ru_stime) - (
                        cpu_self.ru_utime + cpu_self.ru_stime
                    )
                    worker_sys = now_self.ru_stime - cpu_self.ru_stime
            finally:
                stop.set()
                if task is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(task, STOP_TIMEOUT_S)
        end = float(await _one(conn, "select extract(epoch from max(finished_at))::float8 from public.jobs"))
        wall = end - drive.t0 if drive.finished else drive.harness_s
        retried = int(
            await _one(
                conn, "select count(*) from public.jobs where kind = 'weekly_analysis' and attempts > 1"
            )
        )
        cur = await conn.execute(
            "select count(*), coalesce(sum(round_trips), 0), coalesce(sum(prompt_tokens), 0),"
            " coalesce(sum(cache_hit_tokens), 0), coalesce(sum(completion_tokens), 0),"
            " percentile_cont(0.5) within group (order by duration_ms),"
            " percentile_cont(0.95) within group (order by duration_ms), max(duration_ms)"
            " from public.analysis_generations where status = 'succeeded'"
        )
        row = await cur.fetchone()
        assert row is not None
        generations = {
            "count": int(row[0]),
            "round_trips": int(row[1]),
            "prompt_tokens": int(row[2]),
            "cache_hit_tokens": int(row[3]),
            "completion_tokens": int(row[4]),
            "generated_stories": int(
                await _one(
                    conn, "select count(*) from public.health_stories where data_sources ? 'generated_by'"
                )
            ),
        }
        durations = {"p50": float(row[5] or 0), "p95": float(row[6] or 0), "max": float(row[7] or 0)}
        cur = await conn.execute(
            "select query, calls, total_exec_time, mean_exec_time from pg_stat_statements"
            " where dbid = (select oid from pg_database where datname = current_database())"
            " order by total_exec_time desc"
        )
        statements: list[dict[str, Any]] = [
            {
                "query": _statement_text(str(r[0])),
                "calls": int(r[1]),
                "total_ms": float(r[2]),
                "mean_ms": float(r[3]),
            }
            for r in await cur.fetchall()
        ]
    db_server = {name: 0.0 for name in DB_STATEMENTS}
    for statement in statements:
        for name, marker in DB_STATEMENTS.items():
            if marker in statement["query"]:
                db_server[name] += statement["total_ms"]
                break
    return MainRun(
        enqueued=drive.enqueued,
        succeeded=drive.succeeded,
        failed=drive.failed,
        finished=drive.finished,
        retried=retried,
        wall_s=wall,
        harness_wall_s=drive.harness_s,
        worker_cpu_s=worker_cpu,
        worker_sys_s=worker_sys,
        postgres_cpu_s=cpu_pg,
        fake_cpu_s=float(fake_stats["cpu_s"]) - cpu_fake,
        load_before=load_before,
        busy_cores=(busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1) if total1 > total0 else 0.0,
        fake=fake_stats,
        generations=generations,
        statements=statements[:10],
        db_server_ms=db_server,
        durations_ms=durations,
        worker_connections_max=samples.connections_max,
        worker_rss_before_mb=rss_before,
        worker_rss_peak_mb=samples.rss_peak_mb,
        worker_hwm_mb=hwm,
    )


# -- the report ------------------------------------------------------------------------------------


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] if ordered else float("nan")
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(
    args: argparse.Namespace,
    env: dict[str, str],
    seed: SeedResult,
    db: DbPass,
    guide: GuideRun,
    run: MainRun,
    setup_s: float,
) -> str:
    ideal = args.people * ROUND_TRIPS * args.latency / args.concurrency
    stored = max(1, run.generations["count"])
    # An unfinished run is projected to all people at the rate it reached (labelled so).
    wall = run.wall_s if run.finished else run.wall_s * args.people / max(1, run.succeeded)
    ratio = wall / ideal
    rt_base = args.people if run.finished else stored
    fake_rt = run.fake["requests"] / rt_base
    gen_rt = run.generations["round_trips"] / max(1, run.generations["count"])
    fake_share = run.fake["cache_hit_tokens"] / max(1, run.fake["prompt_tokens"])
    gen_share = run.generations["cache_hit_tokens"] / max(1, run.generations["prompt_tokens"])
    db_mean = statistics.fmean(db.total_ms) if db.total_ms else float("nan")
    db_p95 = _pct(db.total_ms, 0.95)
    server_ms = sum(run.db_server_ms.values()) / stored
    speedup = guide.extrapolated / wall
    expected_batch = guide.calls * args.latency
    mean_in_flight = run.fake["requests"] * args.latency / run.wall_s
    other_cpu = run.busy_cores * run.harness_wall_s - run.worker_cpu_s - run.postgres_cpu_s - run.fake_cpu_s
    lines = [
        f"Run {env['date']} on {env['machine']}: `{env['command']}`",
        "",
        "| Figure | Measured | Target | |",
        "|---|---|---|---|",
        f"| Wall time, {args.people:,} person-weeks (enqueue -> last job finished) | {run.wall_s:.1f} s | | |"
        if run.finished
        else f"| Wall time: **did not finish**, {run.succeeded:,} of {args.people:,} person-weeks in "
        f"{run.wall_s:.0f} s; **projected** to all at that rate | {wall:.0f} s | | |",
        f"| Ideal bound: {args.people:,} x {ROUND_TRIPS} round trips x {args.latency:g} s / {args.concurrency} "
        f"| {ideal:.1f} s | | |",
        f"| Wall / ideal | {ratio:.3f}x | <= {args.target:.2f}x | {_verdict(ratio <= args.target)} |",
        f"| Worker CPU per person-week (whole process during the run) | "
        f"{run.worker_cpu_s * 1000 / stored:.2f} ms | <= 3 ms | {_verdict(run.worker_cpu_s * 1000 / stored <= 3)} |",
        f"| Database connections held by the worker, most at one sample (every {SAMPLE_SECONDS:g} s, "
        f"pg_stat_activity by application_name) | {run.worker_connections_max} | fixed pool | |",
        f"| Worker resident memory: before the enqueue / peak during the run (sampled) / VmHWM "
        f"| {run.worker_rss_before_mb:.0f} / {run.worker_rss_peak_mb:.0f} / {run.worker_hwm_mb:.0f} MB | | |",
        f"| Guide schedule, {guide.batches} batches run for real (mean batch, {guide.calls} calls x "
        f"{args.latency:g} s = {expected_batch:g} s expected) | {guide.mean_batch:.2f} s per batch | | |",
        f"| Guide schedule **extrapolated** to {guide.total_batches} batches (+ {guide.pause:g} s pauses) "
        f"| {guide.extrapolated:.0f} s ({guide.extrapolated / 60:.1f} min) | | |",
        f"| Guide schedule at its nominal {expected_batch:g} s per batch, same extrapolation "
        f"| {guide.nominal(args.latency):.0f} s ({guide.nominal(args.latency) / 60:.1f} min) | | |",
        f"| Speed-up over the guide's schedule (extrapolated from the measured batches; against the nominal) "
        f"| {speedup:.1f}x; {guide.nominal(args.latency) / wall:.1f}x | | |",
        f"| DB time per person-week, client-observed (gather + last hash + store; sample of {len(db.total_ms)}, "
        f"sequential) | mean {db_mean:.2f} ms, p50 {_pct(db.total_ms, 0.5):.2f} ms, p95 {db_p95:.2f} ms "
        f"| < 10 ms | {_verdict(db_mean < 10)} |",
        f"| DB time per person-week, server-side during the run (pg_stat_statements, same statements) "
        f"| {server_ms:.2f} ms | < 10 ms | {_verdict(server_ms < 10)} |",
        f"| Round trips per person-week (fake server: {run.fake['requests']:,} requests / {rt_base:,}"
        f"{'' if run.finished else ', approximate'}) "
        f"| {fake_rt:.3f} | <= 2 | {_verdict(fake_rt <= 2)} |",
        f"| Round trips per person-week (analysis_generations.round_trips) | {gen_rt:.3f} | <= 2 | "
        f"{_verdict(gen_rt <= 2)} |",
        f"| Prompt tokens from the shared prefix (fake server) | {fake_share:.1%} | >= 60% | "
        f"{_verdict(fake_share >= 0.60)} |",
        f"| Prompt tokens from cache (analysis_generations) | {gen_share:.1%} | >= 60% | "
        f"{_verdict(gen_share >= 0.60)} |",
        "",
        "Details:",
        "",
        f"- setup {setup_s:.0f} s: {seed.rows:,} rows by COPY in {seed.seconds:.1f} s "
        f"({seed.rows / seed.seconds:,.0f} rows/s); the profiles time-zone check costs "
        f"{seed.tz_check_ms:.1f} ms a row ("
        + ("kept during the load" if seed.tz_check_kept else "dropped for the load, re-added NOT VALID")
        + ")",
        f"- worker: {_job_slots(args)} job slots, {args.concurrency} request slots, "
        f"{args.processes} process(es)",
        f"- jobs: {run.succeeded:,} succeeded, {run.failed} failed, {run.retried} retried; "
        f"generations stored {run.generations['count']:,}, stories written by the model "
        f"{run.generations['generated_stories']}; people without a story in the sample {db.needing_story}",
        f"- {_pace(run.fake.get('received', []), args.concurrency, args.latency)}",
        f"- fake server: requests by task {run.fake['by_task']}, peak concurrency {run.fake['peak_concurrency']} "
        f"of {args.concurrency}, mean in flight {mean_in_flight:.1f} ({mean_in_flight / args.concurrency:.1%})",
        f"- job duration (analysis_generations.duration_ms, gather to store): p50 {run.durations_ms['p50']:.0f} ms, "
        f"p95 {run.durations_ms['p95']:.0f} ms, max {run.durations_ms['max']:.0f} ms "
        f"(model time alone {ROUND_TRIPS * args.latency * 1000:.0f} ms)",
        f"- DB pass per call (mean / p95 ms): gather {statistics.fmean(db.gather_ms):.2f} / {_pct(db.gather_ms, 0.95):.2f}, "
        f"last hash {statistics.fmean(db.hash_ms):.2f} / {_pct(db.hash_ms, 0.95):.2f}, "
        f"store {statistics.fmean(db.store_ms):.2f} / {_pct(db.store_ms, 0.95):.2f}; "
        f"analytics (CPU, not counted) {statistics.fmean(db.analytics_ms):.2f}",
        "- server-side ms per person-week by statement: "
        + ", ".join(f"{k} {v / stored:.2f}" for k, v in run.db_server_ms.items()),
        f"- CPU during the run ({run.harness_wall_s:.0f} s, {env['cores']} cores): worker "
        f"{run.worker_cpu_s:.0f} s ({run.worker_cpu_s * 1000 / stored:.1f} ms a person-week, of which "
        f"{run.worker_sys_s * 1000 / stored:.1f} ms in the kernel), "
        f"PostgreSQL {run.postgres_cpu_s:.0f} s, fake server {run.fake_cpu_s:.0f} s, other processes on the "
        f"machine {max(0.0, other_cpu):.0f} s; machine busy {run.busy_cores:.2f} of {env['cores']} cores; "
        f"load average before the run {run.load_before}",
        f"- guide batches (s): {', '.join(f'{s:.2f}' for s in guide.batch_seconds)}; pauses (s): "
        f"{', '.join(f'{s:.2f}' for s in guide.pause_seconds) or '-'}; harness-observed wall {run.harness_wall_s:.1f} s",
        "- top statements by total time: "
        + "; ".join(
            f"`{s['query'][:60]}` {s['total_ms'] / 1000:.1f} s / {s['calls']:,} calls"
            for s in run.statements[:5]
        ),
    ]
    return "\n".join(lines)


# -- the whole benchmark ---------------------------------------------------------------------------


class BenchCluster(LocalCluster):
    """The ephemeral cluster, with pg_stat_statements preloaded to read server-side times."""

    def _settings(self) -> dict[str, str]:
        settings = super()._settings()
        preload = [p for p in settings.get("shared_preload_libraries", "").split(",") if p]
        settings["shared_preload_libraries"] = ",".join([*preload, "pg_stat_statements"])
        settings["pg_stat_statements.max"] = "1000"
        return settings


def _sample(user_ids: Sequence[uuid.UUID], size: int) -> list[uuid.UUID]:
    size = min(size, len(user_ids))
    return [user_ids[i * len(user_ids) // size] for i in range(size)]


def run(args: argparse.Namespace) -> int:
    configure_logging("WARNING")
    env = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "command": " ".join(["bench/weekly_run.py", *sys.argv[1:]]),
    }
    timeout = args.timeout or (10 * args.people * ROUND_TRIPS * args.latency / args.concurrency + 300)
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="weekly-run-"))
    cluster = BenchCluster.ephemeral()
    fake: FakeServerProcess | None = None
    fake_log = open(log_dir / "fake.log", "wb")  # noqa: SIM115 - closed in the finally
    try:
        note("starting PostgreSQL")
        cluster.start()
        url = cluster.url()
        assert cluster.pid is not None
        with psycopg.connect(url, autocommit=True) as conn:
            migrate_connection(conn)
            conn.execute("create extension if not exists pg_stat_statements")
            version = conn.execute("show server_version").fetchone()
        env["machine"] = (
            f"{os.cpu_count()} cores ({platform.machine()}), PostgreSQL {version[0] if version else '?'}"
        )
        note(f"loading {args.people:,} people")
        now = dt.datetime.now(dt.UTC)
        seed = seed_people(url, args.people, args.seed, now, keep_tz_check=args.keep_timezone_check)
        guide_requests = args.guide_batches * args.guide_batch_size * args.guide_calls
        fake = FakeServerProcess(
            args.latency, args.concurrency, args.people * 3 + guide_requests + 1000, fake_log, args.answers
        )
        note(f"fake DeepSeek at {fake.url} (separate process {fake.proc.pid})")
        setup_s = time.monotonic() - started

        note(f"database pass over {min(args.db_sample, args.people)} people")
        db, facts = run_loop(db_pass(url, _sample(seed.user_ids, args.db_sample)))
        if not facts:
            raise RuntimeError("the database pass produced no facts")

        note(f"guide schedule: {args.guide_batches} batches of {args.guide_batch_size}")
        settings = AISettings(
            provider="deepseek",
            api_key=BENCH_API_KEY,
            base_url=fake.url,
            model=MODEL,
            max_concurrency=args.concurrency,
        )
        guide = run_loop(guide_simulation(settings, facts, args, args.latency))

        note(
            f"main run: concurrency {args.concurrency}, {args.processes} worker process(es), timeout {timeout:.0f} s"
        )
        main = run_loop(main_run(url, cluster.pid, fake, args, log_dir, timeout))
        print(render(args, env, seed, db, guide, main, setup_s), flush=True)
        ok = main.succeeded == args.people and main.failed == 0
        return 0 if ok else 1
    finally:
        if fake is not None:
            fake.close()
        fake_log.close()
        cluster.stop()
        note(f"done in {time.monotonic() - started:.0f} s (logs in {log_dir})")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=_positive_int, default=10_000, help="people, one job each (10000)")
    parser.add_argument("--latency", type=_positive_float, default=1.0, help="seconds per model answer (1.0)")
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=200,
        help="the fake server's cap, the provider's max_concurrency and the worker's job concurrency (200)",
    )
    parser.add_argument(
        "--processes", type=_positive_int, default=1, help="worker processes; 1 runs in this process"
    )
    parser.add_argument(
        "--job-concurrency",
        type=_positive_int,
        help="the worker's job concurrency when it should differ from --concurrency (one process only)",
    )
    parser.add_argument(
        "--db-sample", type=_positive_int, default=500, help="people in the database pass (500)"
    )
    parser.add_argument(
        "--guide-batches", type=_positive_int, default=3, help="guide batches run for real (3)"
    )
    parser.add_argument(
        "--guide-batch-size", type=_positive_int, default=50, help="people per guide batch (50)"
    )
    parser.add_argument(
        "--guide-calls", type=int, choices=range(2, 9), default=4, help="calls per person (4)"
    )
    parser.add_argument(
        "--target",
        type=float,
        default=1.10,
        help="the wall / ideal ratio to meet (1.10; 1.15 at 30 s / 1000)",
    )
    parser.add_argument("--guide-pause", type=float, default=5.0, help="seconds between guide batches (5)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the synthetic people")
    parser.add_argument(
        "--timeout", type=_positive_float, help="bound on the main run (default 10 x ideal + 300 s)"
    )
    parser.add_argument(
        "--keep-timezone-check",
        action="store_true",
        help="load profiles with profiles_timezone_is_iana in place (about 30 ms a row)",
    )
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="cProfile the in-process worker during the main run by CPU time, save the stats to PATH (slows it down)",
    )
    add_answers_option(parser)
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--max-recorded", type=int, default=10_000, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.serve_fake:
        return serve_fake(args.latency, args.concurrency, args.max_recorded, args.answers)
    if args.processes > args.concurrency:
        raise SystemExit("--processes cannot exceed --concurrency")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
