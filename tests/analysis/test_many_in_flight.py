"""One worker process with many weekly jobs in flight against a slow model server: its
database connections stay at the small fixed pool, because a job holds a connection only to
gather and to store, never across a model call."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import psycopg
from db_support import rows
from fake_deepseek import FakeDeepSeek
from psycopg import AsyncConnection
from share_support import add_person, add_story, monday_of

from worker.config import AISettings
from worker.handlers import default_registry
from worker.runtime.worker import Worker, WorkerSettings

KEY = "sk-test-many-in-flight"
PEOPLE = 120
LATENCY = 1.0
POOL_MAX = 16  # the worker's pool; plus its one LISTEN connection


def _seed(db_url: str) -> None:
    monday = monday_of(dt.datetime.now(dt.UTC))
    friday = dt.datetime.combine(monday - dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for index in range(PEOPLE):
            person = add_person(conn, name=f"Person {index}", timezone="UTC")
            # Friday noon of the last whole week, the week the run reports: two round trips.
            add_story(conn, person, generated=friday)


async def _run(db_url: str, fake_url: str) -> tuple[int, float]:
    settings = AISettings(provider="deepseek", api_key=KEY, base_url=fake_url, max_concurrency=PEOPLE)
    worker = Worker(
        db_url,
        default_registry(settings),
        WorkerSettings(concurrency=PEOPLE, poll_seconds=0.1, lease_seconds=30),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    peak = 0
    try:
        async with await AsyncConnection.connect(db_url, autocommit=True) as conn:

            async def scalar(query: str) -> Any:
                cur = await conn.execute(query)
                row = await cur.fetchone()
                assert row is not None
                return row[0]

            while not await scalar(
                "select count(*) from pg_stat_activity where query ilike 'listen proxima%%'"
            ):
                assert not task.done(), "the worker stopped"
                await asyncio.sleep(0.05)
            started = time.monotonic()
            assert await scalar("select public.enqueue_weekly_analysis()") == PEOPLE
            deadline = started + 60
            while time.monotonic() < deadline:
                peak = max(
                    peak,
                    await scalar(
                        "select count(*) from pg_stat_activity where datname = current_database()"
                        " and backend_type = 'client backend' and pid <> pg_backend_pid()"
                    ),
                )
                done = await scalar(
                    "select count(*) from public.jobs where status in ('succeeded', 'failed')"
                )
                if done >= PEOPLE:
                    break
                assert not task.done(), "the worker stopped"
                await asyncio.sleep(0.02)
            wall = time.monotonic() - started
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    return peak, wall


def test_connections_stay_at_the_pool_size_with_many_jobs_waiting_on_the_model(db_url: str) -> None:
    _seed(db_url)
    with FakeDeepSeek(api_key=KEY, latency=LATENCY, max_concurrency=PEOPLE) as fake:
        peak, wall = asyncio.run(_run(db_url, fake.url))
        in_flight = fake.peak_concurrency
        requests = len(fake.requests)
    assert rows(db_url, "select status, count(*) from public.jobs group by status") == [("succeeded", PEOPLE)]
    assert rows(db_url, "select count(*) from public.analysis_generations where status = 'succeeded'") == [
        (PEOPLE,)
    ]
    assert requests == 2 * PEOPLE, "two round trips a person-week, each person-week once"
    # Many more jobs waited on the model at the same time than there are connections ...
    assert in_flight >= PEOPLE // 2, in_flight
    # ... while the worker held no more connections than its pool and its LISTEN connection.
    assert 1 <= peak <= POOL_MAX + 1
    # Jobs did not queue behind each other for connections: about two model latencies.
    assert wall < 2 * LATENCY * 4
