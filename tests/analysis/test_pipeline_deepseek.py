"""The weekly pipeline with the deepseek provider, against a chat-completions server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from db_support import rows
from fake_deepseek import FakeDeepSeek
from pipeline_support import due_week, run_person_week

from worker.ai.deepseek import DeepSeekProvider
from worker.config import AISettings
from worker.demo.seed import JONAS, MAYA, seed_demo

PROJECT = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.UTC)
KEY = "sk-test-pipeline"


def test_a_person_week_takes_two_round_trips_and_records_tokens_and_cache_hits(db_url: str) -> None:
    seed_demo(db_url, now=NOW)
    with FakeDeepSeek(api_key=KEY) as fake:
        settings = AISettings(provider="deepseek", api_key=KEY, base_url=fake.url)
        # Jonas has a story this week: two round trips. Maya has none: a third for hers.
        jonas, _ = run_person_week(
            db_url,
            JONAS.id,
            due_week(JONAS.timezone, NOW),
            DeepSeekProvider(settings),
            now=NOW,
            close_provider=True,
        )
        maya, _ = run_person_week(
            db_url,
            MAYA.id,
            due_week(MAYA.timezone, NOW),
            DeepSeekProvider(settings),
            now=NOW,
            close_provider=True,
        )
        tasks = [request.task for request in fake.requests]
    assert jonas.usage.round_trips == 2
    assert maya.usage.round_trips == 3
    assert tasks == ["analysis", "moves", "story", "analysis", "moves"]
    generations = rows(
        db_url,
        "select provider, model, round_trips, prompt_tokens, completion_tokens, cache_hit_tokens "
        "from analysis_generations order by created_at",
    )
    assert [g[:3] for g in generations] == [
        ("deepseek", "deepseek-reasoner", 2),
        ("deepseek", "deepseek-reasoner", 3),
    ]
    assert all(g[3] > 0 and g[4] > 0 for g in generations)
    assert generations[1][5] > 0, "the shared prefix was served from the cache"
    counts = rows(db_url, "select count(*) from health_insights where user_id = %s", (JONAS.id,))
    assert 3 <= counts[0][0] <= 5


def test_the_demo_uses_deepseek_when_a_key_is_set(tmp_path: Path) -> None:
    with FakeDeepSeek(api_key=KEY) as fake:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(
            {
                "DEEPSEEK_API_KEY": KEY,
                "DEEPSEEK_BASE_URL": fake.url,
                "PROXIMA_EXPORT_DIR": str(tmp_path / "exports"),
            }
        )
        result = subprocess.run(
            [sys.executable, "-m", "worker", "demo"],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        requests = len(fake.requests)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "with the deepseek AI provider" in result.stdout
    assert "written by deepseek/deepseek-reasoner" in result.stdout
    assert requests == 2 * 3 + 2, "two round trips per person, plus a story for the two without one"
    assert KEY not in result.stdout + result.stderr
