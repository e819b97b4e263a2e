"""Named SQL queries kept in ``.sql`` files beside the code that runs them.

A file holds blocks that each start with a ``-- name: <query_name>`` line; the text up
to the next such line is the query. Python code asks for queries by name and never
builds SQL strings of its own.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from psycopg import sql

_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split the text of a ``.sql`` file into its named queries."""
    marks = list(_NAME_LINE.finditer(text))
    queries: dict[str, str] = {}
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(text)
        name = mark.group(1)
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        body = text[mark.end() : end].strip()
        if not body:
            raise ValueError(f"query {name!r} is empty")
        queries[name] = body
    return queries


@cache
def load_queries(package: str, filename: str) -> dict[str, sql.SQL]:
    """The named queries of ``<package>/<filename>``, loaded once."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    return {name: sql.SQL(body) for name, body in parse_queries(text).items()}  # type: ignore[arg-type]
