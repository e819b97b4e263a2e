"""Named SQL queries kept in ``.sql`` files beside the code that runs them.

A file holds blocks that each start with a ``-- name: <query_name>`` line; the text up
to the next such line is the query. Python code asks for queries by name and never
builds SQL strings of its own.

The files are written for readers, with comments and indentation; what is sent is the
same query without them (:func:`compact`). Besides sending fewer bytes, this keeps the
long statements under psycopg's 4,096-character limit for caching a query's parse
(``psycopg._queries.MAX_CACHED_STATEMENT_LENGTH``): a longer one is split into its
placeholders again on every call, about 0.3 ms of CPU for the weekly store.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from psycopg import sql

_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_$]")


def _literal_end(text: str, start: int) -> int:
    """The index just past the quoted literal, identifier or dollar-quoted body at ``start``."""
    opening = text[start]
    if opening == "$":
        tag = _DOLLAR_TAG.match(text, start)
        assert tag is not None
        end = text.find(tag.group(), tag.end())
        return len(text) if end < 0 else end + len(tag.group())
    escapes = (
        opening == "'"
        and start > 0
        and text[start - 1] in "Ee"
        and (start == 1 or not _WORD_CHAR.match(text[start - 2]))
    )
    index = start + 1
    while index < len(text):
        char = text[index]
        if escapes and char == "\\":
            index += 2
            continue
        if char == opening:
            if index + 1 < len(text) and text[index + 1] == opening:
                index += 2  # a doubled quote stands for itself
                continue
            return index + 1
        index += 1
    return len(text)


def compact(query: str) -> str:
    """``query`` without its comments and with each run of blank space made one space or
    one line break; string literals, quoted names and dollar-quoted bodies are kept as
    they are."""
    out: list[str] = []
    pending = ""  # blank space seen since the last token: "", " " or "\n"
    index = 0
    length = len(query)
    while index < length:
        char = query[index]
        if char.isspace():
            pending = "\n" if char == "\n" or pending == "\n" else " "
            index += 1
            continue
        if query.startswith("--", index):
            end = query.find("\n", index)
            index = length if end < 0 else end
            pending = pending or " "
            continue
        if query.startswith("/*", index):
            depth = 0
            while index < length:  # block comments nest in PostgreSQL
                if query.startswith("/*", index):
                    depth += 1
                    index += 2
                elif query.startswith("*/", index):
                    depth -= 1
                    index += 2
                    if depth == 0:
                        break
                else:
                    index += 1
            pending = pending or " "
            continue
        if out and pending:
            out.append(pending)
        pending = ""
        if char in "'\"" or (
            char == "$"
            and _DOLLAR_TAG.match(query, index)
            and (index == 0 or not _WORD_CHAR.match(query[index - 1]))
        ):
            end = _literal_end(query, index)
            out.append(query[index:end])
            index = end
            continue
        out.append(char)
        index += 1
    return "".join(out)


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
    return {name: sql.SQL(compact(body)) for name, body in parse_queries(text).items()}  # type: ignore[arg-type]
