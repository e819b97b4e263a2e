"""Text in any script, laid out and drawn by us on ReportLab's canvas.

ReportLab's Paragraph draws one font per fragment, left to right, character by
character: Arabic prints unjoined and backwards, Devanagari and Thai unshaped, and a
non-BMP character (an emoji) is written to the PDF's text layer wrongly. This module
replaces it for every text of the report.

How a text becomes a PDF:

1. Itemise (once per text): each hard line is a paragraph; its direction is the first
   strong character's (Unicode bidi P2/P3); each character gets a bidi embedding level
   (python-bidi's implementation of the Unicode Bidirectional Algorithm, rules X1 to I2)
   and a face (``worker.export.fonts``: per character, so "Zoë 温暖 مرحبا 😀" is four
   faces in one line). Line-break opportunities are spaces and, in Chinese and Japanese,
   the places between characters (not before closing or after opening punctuation).
2. Shape: a run of one face and one level is shaped with harfbuzz (``uharfbuzz``) when it
   needs it: right-to-left, a complex script (Arabic joining, Devanagari conjuncts and
   reordering, Thai marks), combining marks, emoji sequences, or a character no face
   has. Other runs (most Latin, Cyrillic, Greek, CJK text) are measured with ReportLab's
   C-accelerated widths and drawn as plain strings. Shaping results are cached.
3. Break lines greedily; a word wider than the line is broken between grapheme clusters.
4. Order each line visually (Unicode bidi rule L2: reverse runs from the highest level
   down to the lowest odd level); right-to-left paragraphs align right.
5. Draw with raw PDF text operators (``Tm``/``Tf``/``Tj``), glyph by glyph where harfbuzz
   moved a glyph, in ReportLab's font subsets.

Why harfbuzz plus python-bidi, and not ReportLab's own shaping: ReportLab can shape with
uharfbuzz, but orders bidirectional text only through ``rlbidi``, which is not available
from PyPI here, and maps every shaped glyph without a character of its own (an Arabic
medial form, a conjunct) to a private-use character in the text layer, so copying or
``pdftotext`` gives garbage. python-bidi's Rust entry point returns only the reordered
string, not the levels, so its pure-Python ``bidi.algorithm`` (same package) gives the
levels; only paragraphs that contain right-to-left characters pay for it.

The text layer (what ``pdftotext`` and screen readers read) is made exact by the
ToUnicode map: every drawn glyph is written as a character code whose map entry is the
text it stands for. A glyph harfbuzz produced for a cluster (a ligature, a conjunct, a
contextual form) gets a private code point in ReportLab's copy of the font's character
map, and the map entry carries the cluster's characters; zero-width glyphs (marks) carry
nothing, their characters travel with their base. Right-to-left clusters carry their
characters reversed, because extractors read a right-to-left line from its visual order
and reverse it. ReportLab's own ToUnicode writer is replaced (``_to_unicode_cmap``): it
writes code points above U+FFFF as five hex digits, so 😀 extracted as U+1F60.

Known limits: Zero-width joiner emoji sequences and flags print as their parts (the
monochrome emoji font has no such ligatures) but extract exactly. With ``pdftotext``, a
vowel mark on the visually first letter of a right-to-left run in a mostly left-to-right
page extracts before the run (poppler treats marks as neutral when it reverses runs).
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import uharfbuzz
from bidi import algorithm as bidi_algorithm
from reportlab.lib import colors
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import ttfonts
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from worker.export.fonts import Face, fonts

# -- the text layer ---------------------------------------------------------------------------

_ACTUAL: dict[int, str] = {}  # private code point -> the text its glyph stands for
_PRIVATE_RANGES = ((0xF0000, 0xFFFFD), (0x100000, 0x10FFFD))
_private_next = [0xF0000]
_LOCK = threading.Lock()


def _utf16_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
    """ReportLab's ToUnicode CMap, with UTF-16 (surrogate pairs above U+FFFF) and the
    cluster text of shaped glyphs."""
    entries = [f"<{i:02X}> <{_utf16_hex(_ACTUAL.get(code, chr(code)))}>" for i, code in enumerate(subset)]
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo",
            f"<< /Registry ({fontname})",
            f"/Ordering ({fontname})",
            "/Supplement 0",
            ">> def",
            f"/CMapName /{fontname} def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            f"<00> <{len(subset) - 1:02X}>",
            "endcodespacerange",
            f"{len(subset)} beginbfchar",
            *entries,
            "endbfchar",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )


# ReportLab calls the module-level function by name when it writes each font subset.
ttfonts.makeToUnicodeCMap = _to_unicode_cmap

_CODES: dict[tuple[int, int, str], int] = {}  # (face id, glyph, text) -> code point drawn


def _next_private() -> int | None:
    code = _private_next[0]
    for low, high in _PRIVATE_RANGES:
        code = max(code, low)
        if code <= high:
            _private_next[0] = code + 1
            return code
    return None


def _code_for(face: Face, gid: int, text: str, advance: float) -> int:
    """The character code that draws glyph ``gid`` of ``face`` and extracts as ``text``."""
    key = (id(face), gid, text)
    code = _CODES.get(key)
    if code is not None:
        return code
    with _LOCK:
        code = _CODES.get(key)
        if code is not None:
            return code
        cmap = face.font.face.charToGlyph
        if len(text) == 1 and ord(text) in face.coverage and cmap.get(ord(text)) == gid:
            code = ord(text)
        else:
            fresh = _next_private()
            if fresh is None:  # a few hundred thousand distinct glyph-texts: draw right, extract roughly
                code = next((c for (f, g, _), c in _CODES.items() if f == id(face) and g == gid), 0)
            else:
                code = fresh
                cmap[code] = gid
                face.font.face.charWidths[code] = advance
                _ACTUAL[code] = text
        _CODES[key] = code
        return code


# -- character classes --------------------------------------------------------------------------

_RTL = re.compile(
    "[\u0590-\u08ff\u200f\u061c\ufb1d-\ufdff\ufe70-\ufefe\U00010800-\U00010fff\U0001e800-\U0001efff]"
)
# Runs containing one of these are shaped: scripts that need it, combining marks, joiners,
# variation selectors, and everything above U+FFFF (emoji and their sequences).
_COMPLEX = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u0590-\u08ff\u0900-\u0dff\u0e00-\u0eff\u0f00-\u0fff"
    "\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u1a00-\u1b7f\u1dc0-\u1dff\u200b-\u200f"
    "\u2060-\u206f\u20d0-\u20ff\ua8e0-\ua8ff\ua960-\ua97f\ud7b0-\ud7ff\ufb1d-\ufdff"
    "\ufe00-\ufe0f\ufe20-\ufe2f\ufe70-\ufeff\U00010000-\U0010ffff]"
)
# Chinese and Japanese: a line may break between two of these.
_WIDE = re.compile(
    "[\u2e80-\u2fdf\u3001-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\ufe30-\ufe4f\uff01-\uff60\uffe0-\uffe6\U00020000-\U0003fffd]"
)
_NO_BREAK_BEFORE = frozenset(
    "、。，．：；？！）」』】〕〉》〙〗〟ー々〻…‥ゝゞヽヾぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ"
    ")]}.,;:!?%\u00bb\u2019\u201d"
)
_NO_BREAK_AFTER = frozenset("（「『【〔〈《〘〖〝([{\u00ab\u2018\u201c")
_UNIT = re.compile(r"[^ \u3000]+[ \u3000]*|[ \u3000]+")
_SIMPLE_UNIT = re.compile(r"([^ ]*) *")
_SPACES = " \u3000"


def _continues(ch: str, prev: str) -> bool:
    """Whether ``ch`` belongs to the grapheme cluster of the character before it."""
    code = ord(ch)
    return (
        unicodedata.category(ch)[0] == "M"
        or code in (0x200C, 0x200D)
        or 0xFE00 <= code <= 0xFE0F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
        or 0xE0100 <= code <= 0xE01EF
        or prev == "\u200d"
    )


def _ignorable(code: int) -> bool:
    return code in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD) or 0xFE00 <= code <= 0xFE0F


def grapheme_starts(text: str) -> list[int]:
    """Indices where a grapheme cluster starts (an approximation of UAX #29 that keeps
    marks, joiner sequences, skin tones and flag pairs with their base)."""
    starts: list[int] = []
    regional = 0
    prev = ""
    for index, ch in enumerate(text):
        code = ord(ch)
        if 0x1F1E6 <= code <= 0x1F1FF:
            regional += 1
            joined = regional % 2 == 0
        else:
            regional = 0
            joined = index > 0 and _continues(ch, prev)
        if not joined:
            starts.append(index)
        prev = ch
    return starts


# -- shaping -------------------------------------------------------------------------------------


class Glyphs(NamedTuple):
    """A shaped run in visual order; lengths in thousandths of the font size."""

    codes: str  # one character code per glyph (see _code_for)
    advances: tuple[float, ...]
    x_offsets: tuple[float, ...]
    y_offsets: tuple[float, ...]
    widths: tuple[float, ...]  # each glyph's own advance, as the PDF's width array has it
    clusters: tuple[int, ...]  # the first character (index into the text) of each glyph's cluster
    width: float


@lru_cache(maxsize=16384)
def shape(face: Face, text: str, rtl: bool) -> Glyphs:
    """``text`` shaped by harfbuzz in ``face``, each glyph mapped to the text it stands for."""
    font = face.hb
    buffer = uharfbuzz.Buffer()
    buffer.add_codepoints([ord(ch) for ch in text])
    buffer.guess_segment_properties()
    buffer.direction = "rtl" if rtl else "ltr"
    buffer.cluster_level = uharfbuzz.BufferClusterLevel.MONOTONE_GRAPHEMES
    uharfbuzz.shape(font, buffer, {})
    infos = buffer.glyph_infos
    positions = buffer.glyph_positions
    scale = 1000 / face.upem
    starts = sorted({info.cluster for info in infos})
    ends = dict(zip(starts, [*starts[1:], len(text)], strict=True))
    carried = [""] * len(infos)
    index = 0
    while index < len(infos):
        cluster = infos[index].cluster
        stop = index
        while stop < len(infos) and infos[stop].cluster == cluster:
            stop += 1
        chars = text[cluster : ends[cluster]]
        if rtl:
            chars = chars[::-1]
        carriers = [i for i in range(index, stop) if positions[i].x_advance > 0] or [index]
        for order, glyph in enumerate(carriers):
            carried[glyph] = chars[order : order + 1] if order < len(carriers) - 1 else chars[order:]
        index = stop
    codes: list[str] = []
    widths: list[float] = []
    for info, text_of_glyph in zip(infos, carried, strict=True):
        own = font.get_glyph_h_advance(info.codepoint) * scale
        codes.append(chr(_code_for(face, info.codepoint, text_of_glyph, own)))
        widths.append(own)
    advances = tuple(p.x_advance * scale for p in positions)
    return Glyphs(
        "".join(codes),
        advances,
        tuple(p.x_offset * scale for p in positions),
        tuple(p.y_offset * scale for p in positions),
        tuple(widths),
        tuple(info.cluster for info in infos),
        sum(advances),
    )


def bidi_levels(text: str, base: int) -> list[int]:
    """The resolved embedding level of each character (Unicode bidi X1 to I2; L1 for the
    paragraph's trailing spaces)."""
    storage: dict[str, Any] = bidi_algorithm.get_empty_storage()
    storage["base_level"] = base
    storage["base_dir"] = "LR"[base]
    bidi_algorithm.get_embedding_levels(text, storage)
    for index, char in enumerate(storage["chars"]):
        char["index"] = index
        if char["type"] in ("LRI", "RLI", "FSI", "PDI"):  # isolates are older than this implementation
            char["type"] = char["orig"] = "ON"
    levels = [-1] * len(text)
    try:
        bidi_algorithm.explicit_embed_and_overrides(storage)
        bidi_algorithm.resolve_weak_types(storage)
        bidi_algorithm.resolve_neutral_types(storage, False)
        bidi_algorithm.resolve_implicit_levels(storage, False)
        for char in storage["chars"]:
            levels[char["index"]] = char["level"]
    except (AssertionError, KeyError, IndexError):  # never fail a report on ordering: strong types only
        for index, ch in enumerate(text):
            kind = unicodedata.bidirectional(ch)
            levels[index] = 1 if kind in ("R", "AL") else (2 if base and kind in ("L", "EN", "AN") else base)
    previous = base
    for index, level in enumerate(levels):
        if level < 0:  # removed by X9 (joiners, embeddings): keep with what precedes
            levels[index] = previous
        previous = levels[index]
    index = len(text) - 1
    while index >= 0 and text[index] in _SPACES:
        levels[index] = base
        index -= 1
    return levels


# -- itemised paragraphs ---------------------------------------------------------------------------


class Run(NamedTuple):
    face: Face
    level: int
    text: str
    width: float  # points
    glyphs: Glyphs | None  # None: drawn as the plain string


class Piece(NamedTuple):
    """A unit between line-break opportunities: text[start:end] and its spaces up to stop."""

    start: int
    end: int
    stop: int
    runs: tuple[Run, ...]
    width: float  # with the trailing spaces
    trail: float  # the trailing spaces alone


@dataclass(frozen=True)
class Para:
    """One hard line of a text, itemised (independent of the line width)."""

    text: str
    base: int
    size: float
    bold: bool
    faces: tuple[Face, ...] | None  # None: every character in the main face
    levels: tuple[int, ...] | None  # None: every character at level 0
    pieces: tuple[Piece, ...]


def _run(face: Face, level: int, text: str, size: float, plain: bool) -> Run:
    if plain or not (level % 2 or _COMPLEX.search(text) or not face.coverage.issuperset(map(ord, text))):
        return Run(face, level, text, face.font.stringWidth(text, size), None)
    glyphs = shape(face, text, bool(level % 2))
    return Run(face, level, text, glyphs.width * size / 1000, glyphs)


def _runs(
    para_text: str,
    faces: Sequence[Face] | None,
    levels: Sequence[int] | None,
    main: Face,
    size: float,
    start: int,
    stop: int,
) -> tuple[Run, ...]:
    if faces is None:
        return (_run(main, 0, para_text[start:stop], size, True),)
    runs: list[Run] = []
    run_start = start
    for index in range(start + 1, stop + 1):
        if (
            index == stop
            or faces[index] is not faces[run_start]
            or (levels is not None and levels[index] != levels[run_start])
        ):
            level = levels[run_start] if levels is not None else 0
            runs.append(_run(faces[run_start], level, para_text[run_start:index], size, False))
            run_start = index
    return tuple(runs)


def _piece(para: Para, start: int, end: int, stop: int, main: Face) -> Piece:
    runs = _runs(para.text, para.faces, para.levels, main, para.size, start, stop)
    width = sum(run.width for run in runs)
    trail = 0.0
    if stop > end:
        if para.faces is None:
            trail = main.font.stringWidth(para.text[end:stop], para.size)
        else:
            content = sum(
                r.width for r in _runs(para.text, para.faces, para.levels, main, para.size, start, end)
            )
            trail = width - content
    return Piece(start, end, stop, runs, width, trail)


def _units(text: str, general: bool) -> list[tuple[int, int, int]]:
    """(start, end, stop) of each unit between break opportunities."""
    units: list[tuple[int, int, int]] = []
    for match in _UNIT.finditer(text):
        start, stop = match.span()
        end = stop
        while end > start and text[end - 1] in _SPACES:
            end -= 1
        if general and end > start and _WIDE.search(text, start, end):
            cut = start
            for index in range(start + 1, end):
                before, ch = text[index - 1], text[index]
                if (
                    (_WIDE.match(ch) or _WIDE.match(before))
                    and ch not in _NO_BREAK_BEFORE
                    and before not in _NO_BREAK_AFTER
                    and not _continues(ch, before)
                ):
                    units.append((cut, index, index))
                    cut = index
            units.append((cut, end, stop))
        else:
            units.append((start, end, stop))
    return units


def itemise(text: str, size: float, bold: bool) -> list[Para]:
    """Each hard line of ``text`` as a paragraph of pieces."""
    chain = fonts().chain(bold)
    main = chain.main
    paras: list[Para] = []
    for line in text.split("\n"):
        simple = line.isascii() or not (
            _RTL.search(line) or _COMPLEX.search(line) or not main.coverage.issuperset(map(ord, line))
        )
        if simple:
            para = Para(line, 0, size, bold, None, None, ())
        else:
            base = 1 if bidi_algorithm.get_base_level(line) else 0
            levels = tuple(bidi_levels(line, base)) if _RTL.search(line) else None
            faces: list[Face] = []
            prev_face: Face | None = None
            prev = ""
            for ch in line:
                code = ord(ch)
                if prev_face is not None and (
                    (ch in _SPACES and code in prev_face.coverage)
                    or (_continues(ch, prev) and (code in prev_face.coverage or _ignorable(code)))
                ):
                    face = prev_face
                else:
                    face = chain.face_for(code) or main
                faces.append(face)
                prev_face, prev = face, ch
            para = Para(line, base, size, bold, tuple(faces), levels, ())
        if simple:
            pieces = _simple_pieces(line, main, size)
        else:
            pieces = tuple(_piece(para, *unit, main) for unit in _units(line, True))
        paras.append(Para(para.text, para.base, size, bold, para.faces, para.levels, pieces))
    return paras


_WIDTHS: dict[tuple[int, float], dict[str, float]] = {}


def _simple_pieces(line: str, main: Face, size: float) -> tuple[Piece, ...]:
    """Pieces of a line in the main face only: no runs (drawn as slices of the line)."""
    widths = _WIDTHS.get((id(main), size))
    if widths is None or len(widths) > 50_000:
        widths = _WIDTHS[(id(main), size)] = {}
    measure = main.font.stringWidth
    space = widths.get(" ")
    if space is None:
        space = widths[" "] = measure(" ", size)
    pieces = []
    make = tuple.__new__
    for match in _SIMPLE_UNIT.finditer(line):
        start, end = match.span(1)
        stop = match.end()
        if stop == start:
            continue
        word = match.group(1)
        width = widths.get(word)
        if width is None:
            width = widths[word] = measure(word, size)
        trail = (stop - end) * space
        pieces.append(make(Piece, (start, end, stop, (), width + trail, trail)))
    return tuple(pieces)


def _split_wide(para: Para, piece: Piece, avail: float, main: Face) -> list[Piece]:
    """A unit wider than the line, broken between grapheme clusters into pieces that fit."""
    advance = [0.0] * (piece.end - piece.start)
    offset = piece.start
    for run in _runs(para.text, para.faces, para.levels, main, para.size, piece.start, piece.end):
        if run.glyphs is None:
            for index, ch in enumerate(run.text):
                advance[offset + index - piece.start] = run.face.font.stringWidth(ch, para.size)
        else:
            for cluster, value in zip(run.glyphs.clusters, run.glyphs.advances, strict=True):
                advance[offset + cluster - piece.start] += value * para.size / 1000
        offset += len(run.text)
    starts = [piece.start + i for i in grapheme_starts(para.text[piece.start : piece.end])] + [piece.end]
    pieces: list[Piece] = []
    cut = piece.start
    width = 0.0
    for here, after in itertools.pairwise(starts):
        cluster_width = sum(advance[here - piece.start : after - piece.start])
        if here > cut and width + cluster_width > avail:
            pieces.append(_piece(para, cut, here, here, main))
            cut, width = here, 0.0
        width += cluster_width
    pieces.append(_piece(para, cut, piece.end, piece.stop, main))
    return pieces


# -- lines ----------------------------------------------------------------------------------------


class Line(NamedTuple):
    para: Para
    pieces: tuple[Piece, ...]
    width: float  # without the trailing spaces


def break_lines(paras: Iterable[Para], avail: float) -> list[Line]:
    """Greedy line breaking of each paragraph at ``avail`` points."""
    lines: list[Line] = []
    for para in paras:
        face_main = fonts().chain(para.bold).main
        if not para.pieces:
            lines.append(Line(para, (), 0.0))
            continue
        current: list[Piece] = []
        used = 0.0
        queue = list(para.pieces)
        index = 0
        while index < len(queue):
            piece = queue[index]
            content = piece.width - piece.trail
            if current and used + content > avail:
                last = current[-1]
                lines.append(Line(para, tuple(current), used - last.trail))
                current, used = [], 0.0
            if not current and content > avail and piece.end - piece.start > 1:
                parts = _split_wide(para, piece, avail, face_main)
                if len(parts) > 1:
                    queue[index : index + 1] = parts
                    continue
            current.append(piece)
            used += piece.width
            index += 1
        if current:
            lines.append(Line(para, tuple(current), used - current[-1].trail))
    return lines


def _visual_runs(line: Line) -> list[Run]:
    """The line's runs left to right, trailing spaces dropped, adjacent plain runs merged."""
    para = line.para
    pieces = line.pieces
    if not pieces:
        return []
    if para.faces is None:
        main = fonts().chain(para.bold).main
        return [Run(main, 0, para.text[pieces[0].start : pieces[-1].end], line.width, None)]
    runs: list[Run] = []
    for piece in pieces[:-1]:
        runs.extend(piece.runs)
    last = pieces[-1]
    if last.stop > last.end:
        main = fonts().chain(para.bold).main
        runs.extend(_runs(para.text, para.faces, para.levels, main, para.size, last.start, last.end))
    else:
        runs.extend(last.runs)
    merged: list[Run] = []
    for run in runs:
        if not run.text:
            continue
        if merged:
            prev = merged[-1]
            if (
                prev.glyphs is None
                and run.glyphs is None
                and prev.face is run.face
                and prev.level == run.level
            ):
                merged[-1] = Run(prev.face, prev.level, prev.text + run.text, prev.width + run.width, None)
                continue
        merged.append(run)
    if para.levels is not None:
        levels = [run.level for run in merged]
        top = max(levels, default=0)
        lowest_odd = min((lvl for lvl in levels if lvl % 2), default=top + 1)
        for level in range(top, lowest_odd - 1, -1):
            index = 0
            while index < len(merged):
                if merged[index].level >= level:
                    stop = index
                    while stop < len(merged) and merged[stop].level >= level:
                        stop += 1
                    merged[index:stop] = merged[index:stop][::-1]
                    index = stop
                else:
                    index += 1
    return merged


# -- drawing ---------------------------------------------------------------------------------------


class _Emitter:
    """PDF text operators for runs, inside one BT ... ET."""

    def __init__(self, canv: Canvas) -> None:
        self.canv = canv
        self.doc = canv._doc
        self.escape = canv._escape
        self.out: list[str] = ["BT"]
        self.font: tuple[str, float] | None = None

    def _font(self, face: Face, subset: int, size: float) -> None:
        name = face.font.getSubsetInternalName(subset, self.doc)
        if self.font != (name, size):
            self.out.append(f"{name} {fp_str(size)} Tf")
            self.font = (name, size)

    def run(self, run: Run, x: float, y: float, size: float) -> None:
        out = self.out
        font = run.face.font
        if run.glyphs is None:
            out.append(f"1 0 0 1 {fp_str(x)} {fp_str(y)} Tm")
            for subset, chunk in font.splitString(run.text, self.doc):
                self._font(run.face, subset, size)
                out.append(f"({self.escape(chunk)}) Tj")
            return
        glyphs = run.glyphs
        scale = size / 1000
        pen = x
        cursor_x = cursor_y = None
        group = bytearray()
        index = 0
        for subset, chunk in font.splitString(glyphs.codes, self.doc):
            if group:
                out.append(f"({self.escape(bytes(group))}) Tj")
                group.clear()
            self._font(run.face, subset, size)
            for byte in chunk:
                gx = pen + glyphs.x_offsets[index] * scale
                gy = y + glyphs.y_offsets[index] * scale
                if (
                    cursor_x is None
                    or cursor_y is None
                    or abs(cursor_x - gx) > 0.01
                    or abs(cursor_y - gy) > 0.01
                ):
                    if group:
                        out.append(f"({self.escape(bytes(group))}) Tj")
                        group.clear()
                    out.append(f"1 0 0 1 {fp_str(gx)} {fp_str(gy)} Tm")
                group.append(byte)
                cursor_x, cursor_y = gx + glyphs.widths[index] * scale, gy
                pen += glyphs.advances[index] * scale
                index += 1
        if group:
            out.append(f"({self.escape(bytes(group))}) Tj")

    def finish(self) -> None:
        self.out.append("ET")
        self.canv.addLiteral(" ".join(self.out))


def draw_lines(
    canv: Canvas,
    lines: Sequence[Line],
    x: float,
    top: float,
    width: float,
    leading: float,
    size: float,
    align: str = "start",
) -> None:
    """Draw ``lines`` with the first baseline ``size`` below ``top`` (plus half the extra leading)."""
    emitter = _Emitter(canv)
    y = top - (leading - size) / 2 - size * 0.8
    for line in lines:
        runs = _visual_runs(line)
        used = sum(run.width for run in runs)
        if align == "center":
            pen = x + (width - used) / 2
        elif (align == "end") != bool(line.para.base):
            pen = x + width - used
        else:
            pen = x
        for run in runs:
            emitter.run(run, pen, y, size)
            pen += run.width
        y -= leading
    emitter.finish()


@lru_cache(maxsize=2048)
def _single(text: str, size: float, bold: bool) -> tuple[Line, ...]:
    return tuple(break_lines(itemise(text, size, bold), float("inf")))


def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width of ``text`` on one line (hard line breaks count as spaces)."""
    return max((line.width for line in _single(" ".join(text.split("\n")), size, bold)), default=0.0)


def draw_text(
    canv: Canvas,
    text: str,
    x: float,
    y: float,
    size: float,
    *,
    bold: bool = False,
    colour: colors.Color | None = None,
    anchor: str = "start",
) -> float:
    """One line of ``text`` with its baseline at ``y``; ``anchor`` is where ``x`` is
    ("start", "middle" or "end"). Returns the width drawn."""
    lines = _single(" ".join(text.split("\n")), size, bold)
    if not lines:
        return 0.0
    line = lines[0]
    width = line.width
    left = x - width if anchor == "end" else x - width / 2 if anchor == "middle" else x
    if colour is not None:
        canv.setFillColor(colour)
    top = y + size * 0.8 + 0.0
    draw_lines(canv, [line], left, top, width, size, size, "start")
    return width


def truncate(text: str, size: float, width: float, bold: bool = False) -> str:
    """``text`` shortened at a grapheme boundary, with an ellipsis, to fit ``width``."""
    flat = " ".join(text.split())
    if text_width(flat, size, bold) <= width:
        return flat
    starts = grapheme_starts(flat)
    low, high = 0, len(starts) - 1
    while low < high:  # the most graphemes that fit with the ellipsis
        middle = (low + high + 1) // 2
        if text_width(flat[: starts[middle]].rstrip() + "…", size, bold) <= width:
            low = middle
        else:
            high = middle - 1
    return flat[: starts[low]].rstrip() + "…" if low else "…"


# -- the flowable ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextStyle:
    size: float = 10
    leading: float = 14
    bold: bool = False
    colour: colors.Color = colors.black
    space_before: float = 0
    space_after: float = 0
    indent: float = 0
    align: str = "start"  # "start" (the paragraph's own direction), "center" or "end"
    background: colors.Color | None = None
    padding: float = 0


class Text(Flowable):
    """A text in any script that wraps, and splits across pages between lines (never
    leaving one line of a paragraph alone at the foot or the head of a page when it has
    four or more)."""

    def __init__(
        self,
        text: str,
        style: TextStyle,
        *,
        paras: Sequence[Para] | None = None,
        first: bool = True,
        last: bool = True,
    ) -> None:
        super().__init__()
        self.style = style
        self._paras = list(paras) if paras is not None else itemise(text, style.size, style.bold)
        self._first, self._last = first, last
        self.spaceBefore = style.space_before if first else 0
        self.spaceAfter = style.space_after if last else 0
        self._layout: tuple[float, list[Line]] | None = None

    def lines(self, width: float) -> list[Line]:
        if self._layout is None or self._layout[0] != width:
            avail = max(width - self.style.indent - 2 * self.style.padding, 1.0)
            self._layout = (width, break_lines(self._paras, avail))
        return self._layout[1]

    def _pad(self) -> tuple[float, float]:
        padding = self.style.padding
        return (padding if self._first else 0.0, padding if self._last else 0.0)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        top, bottom = self._pad()
        self.width = availWidth
        self.height = len(self.lines(availWidth)) * self.style.leading + top + bottom
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        lines = self.lines(availWidth)
        top, _ = self._pad()
        fit = int((availHeight - top - self.style.padding + 1e-6) // self.style.leading)
        total = len(lines)
        if fit >= total:
            return [self]
        fit = min(fit, total - 2)
        if fit < 2:  # a paragraph of three lines or fewer moves whole, as does one with room for one
            return []
        return [self._part(lines[:fit], availWidth, True), self._part(lines[fit:], availWidth, False)]

    def _part(self, lines: Sequence[Line], width: float, head: bool) -> Text:
        paras: list[Para] = []
        previous: Para | None = None
        for line in lines:
            para = line.para
            if previous is para and paras:
                last = paras[-1]
                paras[-1] = Para(
                    last.text,
                    last.base,
                    last.size,
                    last.bold,
                    last.faces,
                    last.levels,
                    last.pieces + line.pieces,
                )
            else:
                paras.append(
                    Para(para.text, para.base, para.size, para.bold, para.faces, para.levels, line.pieces)
                )
            previous = para
        part = Text("", self.style, paras=paras, first=self._first and head, last=self._last and not head)
        part._layout = (width, list(lines))
        return part

    def draw(self) -> None:
        style = self.style
        lines = self.lines(self.width)
        top, _ = self._pad()
        canv = self.canv
        if style.background is not None:
            canv.setFillColor(style.background)
            canv.rect(style.indent, 0, self.width - style.indent, self.height, stroke=0, fill=1)
        canv.setFillColor(style.colour)
        draw_lines(
            canv,
            lines,
            style.indent + style.padding,
            self.height - top,
            self.width - style.indent - 2 * style.padding,
            style.leading,
            style.size,
            style.align,
        )
