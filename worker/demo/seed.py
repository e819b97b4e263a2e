"""Three demo people with five weeks of varied, realistic activity.

* Maya Lindqvist (Europe/Berlin): knee pain in three of the previous four weeks and
  none this week (a clear shadow pattern), steady afternoon headaches, regular notes.
* Jonas Okafor (America/New_York): tension headaches rising this week in count and
  severity, with quick scans and a story of his own for the week.
* Aiko Tanaka (Asia/Tokyo): one entry this week and nothing before (thin data).

Days are counted back from the last day of the week the person's scheduled report
covers (``days_back`` 0 is that Sunday): the local week before the latest week whose
report is due (each person's report of week W is due at their Monday 06:00 of W). So
"this week" is always the seven days the demo's weekly analysis reads, whenever it runs.
The app's tables are written as the app writes them: text user ids on scans, symptoms and
deep dives, messages without a user id (they belong to their conversation).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from worker.db.queries import load_queries

DUE_AT = dt.time(6)  # a week's report is due at the person's Monday 06:00


def seed_query(name: str) -> Any:
    return load_queries("worker.demo", "seed.sql")[name]


@dataclass(frozen=True)
class Symptom:
    days_back: int
    name: str
    body_part: str
    severity: int


@dataclass(frozen=True)
class Scan:
    days_back: int
    body_part: str
    urgency: str
    summary: str
    deep_dive: bool = False


@dataclass(frozen=True)
class Story:
    days_back: int
    title: str
    subtitle: str
    text: str
    note: str | None = None


@dataclass(frozen=True)
class Chat:
    days_back: int
    title: str
    messages: int


@dataclass(frozen=True)
class DemoPerson:
    id: UUID
    name: str
    email: str
    timezone: str
    symptoms: list[Symptom] = field(default_factory=list)
    scans: list[Scan] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)
    chats: list[Chat] = field(default_factory=list)

    def due_week(self, now: dt.datetime) -> dt.date:
        """The latest week whose scheduled report is due at ``now`` (as the database computes it)."""
        local = now.astimezone(ZoneInfo(self.timezone))
        monday = local.date() - dt.timedelta(days=local.weekday())
        due = local.weekday() > 0 or local.time() >= DUE_AT
        return monday if due else monday - dt.timedelta(days=7)

    def at(self, now: dt.datetime, days_back: int, hour: int = 12) -> dt.datetime:
        day = self.due_week(now) - dt.timedelta(days=1 + days_back)
        return dt.datetime.combine(day, dt.time(hour), tzinfo=ZoneInfo(self.timezone))


MAYA = DemoPerson(
    id=UUID("00000000-0000-4000-8000-0000000d0001"),
    name="Maya Lindqvist",
    email="maya@demo.proxima.local",
    timezone="Europe/Berlin",
    symptoms=[
        # Knee pain through the previous weeks, none this week: the shadow pattern.
        Symptom(9, "Knee pain", "knee", 6),
        Symptom(11, "Knee pain", "knee", 5),
        Symptom(16, "Knee pain", "knee", 7),
        Symptom(24, "Knee pain", "knee", 6),
        Symptom(26, "Knee pain", "knee", 5),
        # Afternoon headaches at a steady once or twice a week.
        Symptom(1, "Headache", "head", 4),
        Symptom(4, "Headache", "head", 3),
        Symptom(8, "Headache", "head", 4),
        Symptom(13, "Headache", "head", 3),
        Symptom(15, "Headache", "head", 4),
        Symptom(19, "Headache", "head", 3),
        Symptom(23, "Headache", "head", 4),
        Symptom(29, "Headache", "head", 3),
        Symptom(33, "Headache", "head", 4),
    ],
    scans=[
        Scan(10, "knee", "low", "Aching after stairs; no swelling reported."),
        Scan(17, "knee", "low", "Stiffness in the morning that eased by noon."),
        Scan(25, "knee", "medium", "Sharper pain after a long run."),
    ],
    stories=[
        Story(
            14,
            "Back on the trails",
            "A week of running and a grumbling knee",
            "You ran three times this week. Your knee complained after the longest run, and the afternoon "
            "headaches kept their usual rhythm.",
            note="Switched to softer trails on Sunday; the knee felt better.",
        ),
        Story(
            21,
            "Finding a rhythm",
            "Work deadlines and steady habits",
            "Deadlines made the week busy, but you kept your evening walks. Knee stiffness showed up twice.",
            note="Slept badly before the Thursday deadline.",
        ),
    ],
    chats=[Chat(2, "Are my headaches linked to screen time?", 6), Chat(12, "Knee after running", 4)],
)

JONAS = DemoPerson(
    id=UUID("00000000-0000-4000-8000-0000000d0002"),
    name="Jonas Okafor",
    email="jonas@demo.proxima.local",
    timezone="America/New_York",
    symptoms=[
        Symptom(30, "Tension headache", "head", 3),
        Symptom(16, "Tension headache", "head", 4),
        Symptom(9, "Tension headache", "head", 3),
        # This week: more often and harder.
        Symptom(0, "Tension headache", "head", 7),
        Symptom(1, "Tension headache", "head", 6),
        Symptom(2, "Tension headache", "head", 7),
        Symptom(4, "Tension headache", "head", 6),
        Symptom(5, "Tension headache", "head", 5),
        Symptom(3, "Neck stiffness", "neck", 4),
        Symptom(5, "Neck stiffness", "neck", 5),
        Symptom(20, "Lower back pain", "lower back", 4),
    ],
    scans=[
        Scan(1, "head", "medium", "Pressure across the forehead late in the day, worse after long calls."),
        Scan(4, "head", "low", "Band-like tightness that eased with a break outdoors."),
        Scan(3, "neck", "low", "Stiff neck after a long drive.", deep_dive=True),
    ],
    stories=[
        Story(
            1,
            "Long days at the desk",
            "Headaches crept in as the project heated up",
            "A launch week: long calls, late evenings and more coffee than usual. Tension headaches showed up "
            "almost every day from Wednesday on.",
            note="Tried a 10-minute walk at lunch on Friday; the afternoon was easier.",
        )
    ],
    chats=[Chat(2, "Why do my headaches start at 4 pm?", 8), Chat(18, "Lower back after gardening", 3)],
)

AIKO = DemoPerson(
    id=UUID("00000000-0000-4000-8000-0000000d0003"),
    name="Aiko Tanaka",
    email="aiko@demo.proxima.local",
    timezone="Asia/Tokyo",
    symptoms=[Symptom(2, "Fatigue", "whole body", 3)],
)

DEMO_PEOPLE = (MAYA, JONAS, AIKO)


def seed_person(conn: psycopg.Connection[Any], person: DemoPerson, now: dt.datetime) -> None:
    """Insert one person and their five weeks (in the caller's transaction)."""
    conn.execute(seed_query("insert_user"), {"id": person.id, "email": person.email, "name": person.name})
    conn.execute(
        seed_query("insert_profile"),
        {"id": person.id, "name": person.name, "email": person.email, "timezone": person.timezone},
    )
    for symptom in person.symptoms:
        at = person.at(now, symptom.days_back, hour=15)
        conn.execute(
            seed_query("insert_symptom"),
            {
                "user_id": person.id,
                "symptom_name": symptom.name,
                "body_part": symptom.body_part,
                "severity": symptom.severity,
                "day": at.date(),
                "at": at,
            },
        )
    for scan in person.scans:
        at = person.at(now, scan.days_back, hour=18)
        conn.execute(
            seed_query("insert_deep_dive" if scan.deep_dive else "insert_quick_scan"),
            {
                "user_id": person.id,
                "body_part": scan.body_part,
                "urgency": scan.urgency,
                "summary": scan.summary,
                "confidence": 80,
                "at": at,
            },
        )
    for story in person.stories:
        at = person.at(now, story.days_back, hour=9)
        row = conn.execute(
            seed_query("insert_story"),
            {
                "user_id": person.id,
                "title": story.title,
                "subtitle": story.subtitle,
                "story_text": story.text,
                "at": at,
                "date_range": Jsonb({"end": at.date().isoformat()}),
            },
        ).fetchone()
        assert row is not None
        if story.note:
            conn.execute(
                seed_query("insert_note"),
                {"story_id": row[0], "user_id": person.id, "note_text": story.note, "at": at},
            )
    for chat in person.chats:
        at = person.at(now, chat.days_back, hour=20)
        row = conn.execute(
            seed_query("insert_conversation"), {"user_id": person.id, "title": chat.title, "at": at}
        ).fetchone()
        assert row is not None
        for index in range(chat.messages):
            conn.execute(
                seed_query("insert_message"),
                {
                    "conversation_id": row[0],
                    "role": "user" if index % 2 == 0 else "assistant",
                    "content": "(demo message)",
                    "at": at + dt.timedelta(minutes=index),
                },
            )


def seed_demo(conninfo: str, now: dt.datetime | None = None) -> list[DemoPerson]:
    """Insert the three demo people (idempotent for users and profiles)."""
    now = now or dt.datetime.now(dt.UTC)
    with psycopg.connect(conninfo) as conn:
        for person in DEMO_PEOPLE:
            seed_person(conn, person, now)
    return list(DEMO_PEOPLE)
