"""The cost report: people, round trips, tokens and dollars per week, from the generations."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from worker.config import Prices, prices_from_env
from worker.errors import ConfigError
from worker.ops.costs import WeekCost, render, weekly_costs

ROOT = Path(__file__).resolve().parents[1]
WEEK = dt.date(2026, 11, 23)
PRICES = Prices(input_cache_hit=0.14, input_cache_miss=0.55, output=2.19)


def _generation(
    conn: psycopg.Connection[Any],
    user: uuid.UUID,
    week: dt.date,
    status: str,
    tokens: tuple[int, int, int],
    trips: int,
) -> None:
    prompt, cached, completion = tokens
    conn.execute(
        "insert into public.analysis_generations (user_id, week_of, status, prompt_tokens, cache_hit_tokens,"
        " completion_tokens, round_trips) values (%s, %s, %s, %s, %s, %s, %s)",
        (user, week, status, prompt, cached, completion, trips),
    )


@pytest.fixture
def seeded(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    people = [uuid.uuid4() for _ in range(3)]
    for person in people:
        conn.execute("insert into auth.users (id) values (%s)", (person,))
    # This week: three people analysed, one of them refreshed once, one failed attempt.
    for person in people:
        _generation(conn, person, WEEK, "succeeded", (10_000, 7_000, 2_000), 2)
    _generation(conn, people[0], WEEK, "succeeded", (10_000, 7_000, 2_000), 2)
    _generation(conn, people[1], WEEK, "failed", (4_000, 3_000, 0), 1)
    # Three weeks before: one person.
    _generation(conn, people[2], WEEK - dt.timedelta(weeks=3), "succeeded", (1_000_000, 0, 1_000_000), 2)
    # Outside the window: never counted.
    _generation(conn, people[2], WEEK + dt.timedelta(weeks=1), "succeeded", (5, 0, 5), 2)
    return conn


def test_a_week_adds_up_every_generation(seeded: psycopg.Connection[Any]) -> None:
    weeks = weekly_costs(seeded, WEEK, 12)
    assert [w.week_of for w in weeks] == [WEEK - dt.timedelta(weeks=11 - i) for i in range(12)]
    week = weeks[-1]
    assert (week.people, week.generations, week.failed, week.round_trips) == (3, 5, 1, 9)
    assert (week.prompt_tokens, week.cached_tokens, week.completion_tokens) == (44_000, 31_000, 8_000)
    assert week.uncached_tokens == 13_000
    cached, uncached, output = week.cost(PRICES)
    assert cached == pytest.approx(31_000 * 0.14 / 1e6)
    assert uncached == pytest.approx(13_000 * 0.55 / 1e6)
    assert output == pytest.approx(8_000 * 2.19 / 1e6)
    older = weeks[-4]
    assert older.total(PRICES) == pytest.approx(0.55 + 2.19)
    assert [w.generations for w in weeks].count(0) == 10, "weeks without generations are zeros"


def test_the_report_prints_the_figures_and_a_bar_per_week(seeded: psycopg.Connection[Any]) -> None:
    text = render(weekly_costs(seeded, WEEK, 12), PRICES)
    assert "week of 2026-11-23 (Monday)" in text
    assert "3 people" not in text.splitlines()[1]
    assert "(70.5%)" in text, "31,000 of 44,000 prompt tokens came from the cache"
    total = 31_000 * 0.14 / 1e6 + 13_000 * 0.55 / 1e6 + 8_000 * 2.19 / 1e6
    assert f"${total:,.2f}" in text
    chart = text.split("the last 12 weeks\n", 1)[1].splitlines()
    assert len(chart) == 12
    assert chart[-4].rstrip().endswith("█" * 40), "the most expensive week is the full bar"
    assert chart[-1].rstrip()[-1] in "█▏▎▍▌▋▊▉"


def test_an_empty_week_renders_without_dividing_by_zero() -> None:
    text = render([WeekCost(WEEK)], PRICES)
    assert "  cost per person                 n/a\n" in text
    assert all(line == line.rstrip() for line in text.splitlines())


@pytest.mark.parametrize("raw", ["cheap", "-1", "nan", "5000"])
def test_a_bad_price_names_its_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"^PROXIMA_PRICE_OUTPUT "):
        prices_from_env({"PROXIMA_PRICE_OUTPUT": raw})


def _cli(db_url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PROXIMA_", "DEEPSEEK_"))}
    return subprocess.run(
        [sys.executable, "-m", "worker", "costs", *args],
        cwd=ROOT,
        env=base | {"DATABASE_URL": db_url} | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_reads_the_latest_week_and_the_prices(
    seeded: psycopg.Connection[Any], db_url: str
) -> None:
    seeded.commit()
    result = _cli(db_url, "--week", "2026-11-23", "--weeks", "4", env={"PROXIMA_PRICE_OUTPUT": "0"})
    assert result.returncode == 0, result.stderr
    assert "week of 2026-11-23" in result.stdout
    assert "output $0 (PROXIMA_PRICE_*)" in result.stdout
    assert "the last 4 weeks" in result.stdout
    latest = _cli(db_url)
    assert latest.returncode == 0, latest.stderr
    assert "week of 2026-11-30" in latest.stdout, "the latest analysed week by default"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--week", "2026-11-25"], {}, "is a Wednesday"),
        (["--weeks", "0"], {}, "must be at least 1"),
        (["--weeks", "500"], {}, "at most 104 weeks"),
        ([], {"PROXIMA_PRICE_INPUT_CACHE_HIT": "free"}, "PROXIMA_PRICE_INPUT_CACHE_HIT must be a price"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    db_url: str, args: list[str], env: dict[str, str], message: str
) -> None:
    result = _cli(db_url, *args, env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
