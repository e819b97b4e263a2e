"""A doctor share's PDF (supabase/migrations/20261202110000_share_pdf.sql, worker/handlers/share_pdf.py).

Every share enqueues a share_pdf job; the worker renders the shared stories, their notes
and the analysis of their weeks, stores the file in the person's folder and records its
path on the share; get_shared_report_file (the share page's role only) refuses what
get_shared_report refuses, counts and logs the view, and answers the path (null until the
file is made). A share revoked or expired before the job gets no file; a story deleted
since fails the job without naming its content.
"""

from __future__ import annotations

import functools
import io
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pypdf
import pytest
from share_support import (
    SHARE_READER,
    add_note,
    add_person,
    add_story,
    add_week_analysis,
    count,
    create_share,
    monday_of,
    revoke_share,
    sqlstate_of,
    token_of,
)

from worker.config import AISettings, StorageSettings
from worker.db.migrate import discover
from worker.handlers import default_registry
from worker.runtime.oneshot import run_until

STORY = "Walked every evening; the knee was quiet."
NOTE = "Ask about the knee brace"


def _file(conn: psycopg.Connection[Any], token: str, *, role: str = SHARE_READER) -> dict[str, Any]:
    with conn.transaction():
        conn.execute(psycopg.sql.SQL("set local role {}").format(psycopg.sql.Identifier(role)))
        row = conn.execute("select public.get_shared_report_file(%s, %s)", (token, "Doctor/1.0")).fetchone()
    assert row is not None
    result: dict[str, Any] = row[0]
    return result


def _run(db_url: str, folder: Path, until: str = "succeeded") -> None:
    registry = default_registry(AISettings(), StorageSettings(local_dir=folder))

    def done() -> bool:
        with psycopg.connect(db_url) as c:
            statuses = [
                r[0] for r in c.execute("select status from public.jobs where kind = 'share_pdf'").fetchall()
            ]
        return bool(statuses) and all(s == until for s in statuses)

    assert run_until(db_url, registry, done, kinds=("share_pdf",), timeout=60)


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())


@pytest.fixture
def maya(conn: psycopg.Connection[Any]) -> uuid.UUID:
    return add_person(conn, name="Maya Lind")


def test_a_share_gets_its_pdf_and_the_page_finds_it_counting_the_view(
    conn: psycopg.Connection[Any], db_url: str, tmp_path: Path, maya: uuid.UUID
) -> None:
    story = add_story(conn, maya, title="Knee week", text=STORY)
    add_note(conn, maya, story, NOTE)
    generated = conn.execute("select generated_date from public.health_stories").fetchone()
    assert generated is not None
    week = monday_of(generated[0])
    add_week_analysis(conn, maya, story, week, "of the knee")
    share = create_share(conn, maya, [story])
    token = token_of(share["share_link"])

    assert _file(conn, token) == {"path": None}  # the job has not run yet: the view still counts
    _run(db_url, tmp_path)

    path = f"{maya}/shares/{share['share_id']}/report.pdf"
    assert _file(conn, token) == {"path": path}
    pdf = (tmp_path / path).read_bytes()
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    for expected in ("Knee week", STORY, NOTE, "Insight of the knee", "Maya Lind"):
        assert expected in text
    size = conn.execute(
        "select file_size_bytes, access_count from public.export_history where id = %s", (share["share_id"],)
    ).fetchone()
    assert size == (len(pdf), 2)
    assert count(conn, "select count(*) from public.share_access_log") == 2


def test_unknown_expired_and_revoked_links_get_no_file(
    conn: psycopg.Connection[Any], db_url: str, tmp_path: Path, maya: uuid.UUID
) -> None:
    story = add_story(conn, maya)
    revoked = create_share(conn, maya, [story])
    revoke_share(conn, maya, revoked["share_id"])
    expired = create_share(conn, maya, [story])
    conn.execute(
        "update public.export_history set expires_at = now() - interval '1 second' where id = %s",
        (expired["share_id"],),
    )
    _run(db_url, tmp_path)  # both jobs succeed without a file

    assert list(tmp_path.rglob("*.pdf")) == []
    paths = conn.execute("select storage_path from public.export_history").fetchall()
    assert paths == [(None,), (None,)]
    assert sqlstate_of(lambda: _file(conn, token_of(revoked["share_link"]))) == "PT410"
    assert sqlstate_of(lambda: _file(conn, token_of(expired["share_link"]))) == "PT410"
    assert sqlstate_of(lambda: _file(conn, "A" * 43)) == "PT404"
    assert sqlstate_of(lambda: _file(conn, "\x01")) == "PT404"


def test_only_the_share_pages_role_may_ask_for_the_file(
    conn: psycopg.Connection[Any], maya: uuid.UUID
) -> None:
    share = create_share(conn, maya, [add_story(conn, maya)])
    for role in ("anon", "authenticated", "service_role"):
        ask = functools.partial(_file, conn, token_of(share["share_link"]), role=role)
        assert sqlstate_of(ask) == "42501", role


def test_a_story_deleted_since_the_share_fails_the_job_without_its_content(
    conn: psycopg.Connection[Any], db_url: str, tmp_path: Path, maya: uuid.UUID
) -> None:
    kept = add_story(conn, maya, title="Kept")
    gone = add_story(conn, maya, title="Secret title", text="Secret story text")
    create_share(conn, maya, [kept, gone])
    conn.execute("delete from public.health_stories where id = %s", (gone,))
    _run(db_url, tmp_path, until="failed")
    row = conn.execute("select attempts, last_error from public.jobs where kind = 'share_pdf'").fetchone()
    assert row is not None
    assert row[0] == 1  # permanent: not retried
    assert "no longer exist" in row[1]
    assert "Secret" not in row[1]
    assert list(tmp_path.rglob("*.pdf")) == []


def test_the_migration_gives_the_shares_made_before_it_their_jobs(
    conn: psycopg.Connection[Any], maya: uuid.UUID
) -> None:
    story = add_story(conn, maya)
    live = create_share(conn, maya, [story])
    revoked = create_share(conn, maya, [story])
    revoke_share(conn, maya, revoked["share_id"])
    done = create_share(conn, maya, [story])
    conn.execute(
        "update public.export_history set storage_path = 'x/y.pdf' where id = %s", (done["share_id"],)
    )
    conn.execute("delete from public.jobs")  # as if made before the migration
    [migration] = [m for m in discover() if m.filename == "20261202110000_share_pdf.sql"]
    conn.execute(migration.path.read_text())  # its backfill, run again (the rest is idempotent)
    conn.execute(migration.path.read_text())
    jobs = conn.execute("select payload ->> 'share_id' from public.jobs where kind = 'share_pdf'").fetchall()
    assert jobs == [(live["share_id"],)]


def test_the_file_goes_when_its_share_is_purged_and_stays_while_the_share_does(
    conn: psycopg.Connection[Any], db_url: str, tmp_path: Path, maya: uuid.UUID
) -> None:
    story = add_story(conn, maya)
    purged = create_share(conn, maya, [story])
    kept = create_share(conn, maya, [story])
    _run(db_url, tmp_path)
    assert len(list(tmp_path.rglob("report.pdf"))) == 2
    # The nightly purge deletes a share's row (expired or revoked thirty days before).
    conn.execute("delete from public.export_history where id = %s", (purged["share_id"],))
    job = conn.execute(
        "select user_id, payload, priority from public.jobs where kind = 'delete_share_pdf'"
    ).fetchone()
    assert job == (None, {"user_id": str(maya), "share_id": purged["share_id"]}, -10)
    # A deletion job naming a share that still exists (by hand, say) keeps the file.
    conn.execute(
        "insert into public.jobs (kind, payload) values ('delete_share_pdf', %s)",
        (psycopg.types.json.Jsonb({"user_id": str(maya), "share_id": kept["share_id"]}),),
    )
    registry = default_registry(AISettings(), StorageSettings(local_dir=tmp_path))

    def done() -> bool:
        with psycopg.connect(db_url) as c:
            rows = c.execute("select status from public.jobs where kind = 'delete_share_pdf'").fetchall()
        return sorted(r[0] for r in rows) == ["failed", "succeeded"]

    assert run_until(db_url, registry, done, kinds=("delete_share_pdf",), timeout=60)
    left = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("report.pdf")]
    assert left == [f"{maya}/shares/{kept['share_id']}/report.pdf"]
    assert not (tmp_path / str(maya) / "shares" / purged["share_id"]).exists()
    error = conn.execute(
        "select last_error from public.jobs where kind = 'delete_share_pdf' and status = 'failed'"
    ).fetchone()
    assert error is not None and "the share still exists" in error[0]


def test_a_share_without_a_file_leaves_no_deletion_job(
    conn: psycopg.Connection[Any], maya: uuid.UUID
) -> None:
    share = create_share(conn, maya, [add_story(conn, maya)])
    conn.execute("delete from public.export_history where id = %s", (share["share_id"],))
    assert count(conn, "select count(*) from public.jobs where kind = 'delete_share_pdf'") == 0
