"""Pattern findings become evidence: from the person's twelve local weeks to the prompt, the
stored report, the local provider's insights and the PDF.

A person in New York logs neck stiffness and a headache together on eight days over ten
weeks (and each alone now and then, with fatigue on other days): the co-occurrence holds
up against chance, and its sentence travels everywhere with its numbers.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
from typing import Any

import psycopg
import pypdf
import pytest
from db_support import rows
from fake_deepseek import FakeDeepSeek
from pipeline_support import due_week, run_person_week

from worker.ai import prompts
from worker.ai.deepseek import DeepSeekProvider
from worker.config import AISettings, StorageSettings
from worker.exporting import request_export, run_export

ZONE = "America/New_York"
NOW = dt.datetime.now(dt.UTC)
KEY = "sk-test-findings"


@pytest.fixture
def person(db_url: str) -> uuid.UUID:
    """Ten weeks ending the Sunday before the due week, on the person's local days."""
    user_id = uuid.uuid4()
    last = due_week(ZONE, NOW) - dt.timedelta(days=1)
    together = [3, 9, 16, 22, 30, 37, 45, 52]
    neck_alone, headache_alone = [60], [12, 41]
    fatigue = [1, 5, 7, 14, 19, 25, 27, 33, 35, 40, 48, 50, 55, 58, 63, 66, 68]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id) values (%s)", (user_id,))
        conn.execute("insert into public.profiles (user_id, timezone) values (%s, %s)", (user_id, ZONE))
        for name, part, days in (
            ("Neck stiffness", "neck", together + neck_alone),
            ("Headache", "head", together + headache_alone),
            ("Fatigue", "whole body", fatigue),
        ):
            for back in days:
                conn.execute(
                    "insert into public.symptom_tracking (user_id, symptom_name, body_part, severity,"
                    " occurrence_date) values (%s, %s, %s, 5, %s)",
                    (str(user_id), name, part, last - dt.timedelta(days=back)),
                )
    return user_id


def findings(url: str, user_id: uuid.UUID) -> list[dict[str, Any]]:
    [(found,)] = rows(
        url,
        "select findings from analysis_generations where user_id = %s and status = 'succeeded'",
        (user_id,),
    )
    return list(found)


def test_a_planted_co_occurrence_is_stored_with_the_generation_and_cited_by_an_insight(
    db_url: str, person: uuid.UUID
) -> None:
    run_person_week(db_url, person, due_week(ZONE, NOW), now=NOW)
    found = findings(db_url, person)
    together = [f for f in found if f["kind"] == "co_occurrence"]
    assert together, found
    sentence = together[0]["sentence"]
    assert "8 of the" in sentence and {"Neck stiffness", "Headache"} == set(together[0]["items"])
    assert together[0]["q_value"] <= 0.05
    cited = rows(
        db_url,
        "select description, metadata from health_insights where user_id = %s and metadata ? 'findings'",
        (person,),
    )
    assert cited, "the local provider words the finding in an insight"
    description, metadata = cited[0]
    assert sentence in description
    assert metadata["findings"][0]["sentence"] == sentence


def test_a_person_with_nothing_planted_gets_no_finding(db_url: str) -> None:
    user_id = uuid.uuid4()
    last = due_week("UTC", NOW) - dt.timedelta(days=1)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id) values (%s)", (user_id,))
        conn.execute(
            "insert into public.symptom_tracking (user_id, symptom_name, body_part, severity, occurrence_date)"
            " values (%s, 'Headache', 'head', 4, %s)",
            (str(user_id), last),
        )
    run_person_week(db_url, user_id, due_week("UTC", NOW), now=NOW)
    assert findings(db_url, user_id) == []


def test_the_findings_reach_the_model_as_facts(db_url: str, person: uuid.UUID) -> None:
    with FakeDeepSeek(api_key=KEY) as fake:
        provider = DeepSeekProvider(AISettings(provider="deepseek", api_key=KEY, base_url=fake.url))
        run_person_week(db_url, person, due_week(ZONE, NOW), provider, now=NOW, close_provider=True)
        analysis = next(r for r in fake.requests if r.task == "analysis")
    body = analysis.messages[-1]["content"]
    start = body.index(prompts.WEEK_OPEN) + len(prompts.WEEK_OPEN)
    facts, _ = json.JSONDecoder().raw_decode(body, start)
    assert [f["kind"] for f in facts["findings"]][:1] == ["co_occurrence"]
    assert "tested against chance" in prompts.SYSTEM_PROMPT


def test_the_pdf_prints_the_findings_in_plain_words(db_url: str, person: uuid.UUID, tmp_path: Any) -> None:
    run_person_week(db_url, person, due_week(ZONE, NOW), now=NOW)
    [sentence] = [f["sentence"] for f in findings(db_url, person) if f["kind"] == "co_occurrence"][:1]
    story_ids = [r[0] for r in rows(db_url, "select id from health_stories where user_id = %s", (person,))]
    export_id = request_export(db_url, person, story_ids, include_analysis=True, include_notes=True)
    storage = StorageSettings(local_dir=tmp_path)
    result = run_export(db_url, export_id, AISettings(), storage)
    pdf = pypdf.PdfReader(io.BytesIO((tmp_path / result.storage_path).read_bytes()))
    text = " ".join(" ".join((page.extract_text() or "") for page in pdf.pages).split())
    assert "Patterns in your history" in text
    assert " ".join(sentence.split()) in text
