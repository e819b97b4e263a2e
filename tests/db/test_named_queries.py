"""Named queries are sent without their comments and extra blank space (worker/db/queries.py).

What is inside literals, quoted names and dollar-quoted bodies is kept byte for byte,
shown by running the original and the compacted text in PostgreSQL and comparing what
they return; and every named query fits under psycopg's limit for caching its parse.
"""

from __future__ import annotations

from importlib import resources

import psycopg
import pytest
from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH
from psycopg.rows import tuple_row

from worker.db.queries import compact, load_queries, parse_queries

SQL_FILES = [
    ("worker.queue", "queries.sql"),
    ("worker.analysis", "queries.sql"),
    ("worker.export", "queries.sql"),
    ("worker.share", "queries.sql"),
    ("worker.ops", "queries.sql"),
    ("worker.demo", "seed.sql"),
    ("worker.demo", "share.sql"),
    ("worker.db", "sql/migrations.sql"),
]

# Each returns values whose text holds what a careless stripper would cut or squeeze.
HOSTILE = [
    "select 'a -- not a comment' as x",
    "select 'two  spaces\n  and a line' as x",
    "select 'it''s -- still a string' as x",
    "select E'it\\'s -- escaped', E'back\\\\slash' as x",
    "select e'tab\\there /* no */' as x",
    "select $$ dollar -- body /* x */ $$ as x",
    "select $tag$ inner $$ not the end -- $tag$ as x",
    'select 1 as "col -- name", 2 as "quote "" inside"',
    "select /* outer /* nested */ still comment */ 'kept' as x",
    "select 1 -- trailing comment\n + 2 as x",
    "select 1/*glued*/+/*glued*/2 as x",
    "select 3 - -1 as x",
    "select '{\"a\": \"-- b\"}'::jsonb ->> 'a' as x",
    "select U&'d\\0061t\\+000061 -- x' as x",
    "select array['--', '/*', '*/', '$$'] as x",
    "select 'line one\n-- line two' as x",
    "select 1 as a, -- the first\n       2 as b /* the second */",
    "select 'unterminated dollar $ sign -- x' as x",
    "select 'x$y$z -- w' as x",
]


@pytest.mark.parametrize("statement", HOSTILE)
def test_compacting_keeps_every_value(db_url: str, statement: str) -> None:
    with psycopg.connect(db_url, autocommit=True, row_factory=tuple_row) as conn:
        original = conn.execute(statement.encode()).fetchall()
        compacted_text = compact(statement)
        compacted = conn.execute(compacted_text.encode()).fetchall()
    assert compacted == original, (statement, compacted_text)
    assert len(compacted_text) <= len(statement)


def test_comments_and_blank_space_go() -> None:
    text = "-- a heading\nselect  a,\n\n   b -- why b\n  from /* the table */ t\n"
    assert compact(text) == "select a,\nb\nfrom t"


@pytest.mark.parametrize(("package", "filename"), SQL_FILES)
def test_every_named_query_is_cached_by_psycopg(package: str, filename: str) -> None:
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    loaded = load_queries(package, filename)
    assert set(loaded) == set(parse_queries(text))
    for name, query in loaded.items():
        sent = query.as_string(None)
        assert len(sent) <= MAX_CACHED_STATEMENT_LENGTH, (name, len(sent))
        assert compact(sent) == sent, name
        assert not any(line.lstrip().startswith("--") for line in sent.splitlines()), name
