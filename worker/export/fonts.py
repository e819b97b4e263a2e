"""The faces a report is printed in: one per script, chosen for each character.

Guarantees:

* Every character is assigned a face: the face that claims its script (Noto Sans Arabic,
  Hebrew, Devanagari and Thai, Nanum Gothic for Hangul, Droid Sans Fallback for Chinese
  and Japanese, Symbola for emoji), else the main face (DejaVu Sans: Latin, Greek,
  Cyrillic and many symbols), else the first fallback that has a glyph for it. A character
  no installed face covers is assigned the main face and marked missing; it prints as the
  font's box and still extracts as itself (see ``worker.export.text``).
* Only TrueType-outline fonts are used: ReportLab cannot embed CFF (``.otf``/``.ttc``
  PostScript) outlines, which is why Noto Sans CJK, installed beside them, is not one of
  these faces. ``scripts/setup.sh`` installs the Debian packages named in ``PACKAGES``.
* Faces are parsed on first use, once per process, under a lock: a report in Latin script
  only loads DejaVu Sans and its bold. When no DejaVu Sans is installed, the main face is
  the Bitstream Vera that ReportLab ships, so a report always renders.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import reportlab
import uharfbuzz
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from worker.log import get_logger

log = get_logger("worker.export.fonts")

# The Debian packages these faces come from (scripts/setup.sh installs them).
PACKAGES = (
    "fonts-dejavu-core",
    "fonts-noto-core",
    "fonts-nanum",
    "fonts-droid-fallback",
    "fonts-symbola",
)

_FONT_ROOTS = (
    Path("/usr/share/fonts/truetype"),
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
    Path(reportlab.__file__).parent / "fonts",
)

Ranges = tuple[tuple[int, int], ...]

ARABIC: Ranges = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x0870, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
HEBREW: Ranges = ((0x0590, 0x05FF), (0xFB1D, 0xFB4F))
DEVANAGARI: Ranges = ((0x0900, 0x097F), (0xA8E0, 0xA8FF), (0x1CD0, 0x1CFF))
THAI: Ranges = ((0x0E00, 0x0E7F),)
HANGUL: Ranges = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7FF))
CJK: Ranges = (
    (0x2E80, 0x2FDF),
    (0x3000, 0x30FF),
    (0x3190, 0x33FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFE30, 0xFE4F),
    (0xFF00, 0xFFEF),
    (0x20000, 0x2FA1F),
)
EMOJI: Ranges = ((0x1F000, 0x1FAFF),)


@dataclass(frozen=True)
class FaceSpec:
    """One face of the chain: its name, candidate files (first found wins) and the
    code point ranges it takes before the main face."""

    name: str
    files: tuple[str, ...]
    claims: Ranges = ()


_REGULAR = (
    FaceSpec("ProximaSans", ("dejavu/DejaVuSans.ttf", "noto/NotoSans-Regular.ttf", "Vera.ttf")),
    FaceSpec(
        "ProximaArabic", ("noto/NotoSansArabic-Regular.ttf", "noto/NotoNaskhArabic-Regular.ttf"), ARABIC
    ),
    FaceSpec("ProximaHebrew", ("noto/NotoSansHebrew-Regular.ttf",), HEBREW),
    FaceSpec("ProximaDevanagari", ("noto/NotoSansDevanagari-Regular.ttf",), DEVANAGARI),
    FaceSpec("ProximaThai", ("noto/NotoSansThai-Regular.ttf",), THAI),
    FaceSpec("ProximaHangul", ("nanum/NanumGothic.ttf", "nanum/NanumBarunGothic.ttf"), HANGUL),
    FaceSpec("ProximaCJK", ("droid/DroidSansFallbackFull.ttf", "droid/DroidSansFallback.ttf"), CJK),
    FaceSpec("ProximaLatin", ("noto/NotoSans-Regular.ttf",)),
    FaceSpec("ProximaSymbols", ("noto/NotoSansSymbols-Regular.ttf",)),
    FaceSpec("ProximaSymbols2", ("noto/NotoSansSymbols2-Regular.ttf",)),
    FaceSpec(
        "ProximaEmoji",
        ("ancient-scripts/Symbola_hint.ttf", "truetype/ancient-scripts/Symbola_hint.ttf"),
        EMOJI,
    ),
)
# Bold where the family has one; faces without a bold print in their regular.
_BOLD = {
    "ProximaSans": ("dejavu/DejaVuSans-Bold.ttf", "noto/NotoSans-Bold.ttf", "VeraBd.ttf"),
    "ProximaArabic": ("noto/NotoSansArabic-Bold.ttf", "noto/NotoNaskhArabic-Bold.ttf"),
    "ProximaHebrew": ("noto/NotoSansHebrew-Bold.ttf",),
    "ProximaDevanagari": ("noto/NotoSansDevanagari-Bold.ttf",),
    "ProximaThai": ("noto/NotoSansThai-Bold.ttf",),
    "ProximaHangul": ("nanum/NanumGothicBold.ttf", "nanum/NanumBarunGothicBold.ttf"),
    "ProximaLatin": ("noto/NotoSans-Bold.ttf",),
    "ProximaSymbols": ("noto/NotoSansSymbols-Bold.ttf",),
}


def find_font(relative: str) -> Path | None:
    """The installed file for a path like ``dejavu/DejaVuSans.ttf`` (or a bare file name)."""
    for root in _FONT_ROOTS:
        for candidate in (root / relative, root / Path(relative).name):
            if candidate.is_file():
                return candidate
    return None


@dataclass(eq=False)
class Face:
    """A registered TrueType face: its ReportLab font, coverage and harfbuzz font.

    ``coverage`` is the font's own character map as loaded; shaping later adds private
    code points to ReportLab's copy (``worker.export.text``), never to this set.
    """

    name: str
    path: Path
    font: TTFont
    coverage: frozenset[int]
    upem: int
    _hb: Any = field(default=None, repr=False)

    @property
    def hb(self) -> Any:
        """The harfbuzz font (built on first use: only shaped text needs it)."""
        if self._hb is None:
            with _LOCK:
                if self._hb is None:
                    face = uharfbuzz.Face(uharfbuzz.Blob.from_file_path(str(self.path)))
                    self._hb = uharfbuzz.Font(face)
        return self._hb


_LOCK = threading.RLock()
_LOADED: dict[Path, Face] = {}


def _load(name: str, path: Path) -> Face | None:
    with _LOCK:
        face = _LOADED.get(path)
        if face is not None:
            return face
        try:
            font = TTFont(name, str(path))
        except Exception as error:  # an unreadable or PostScript-outline font: do without it
            log.warning("font not usable", font=name, path=str(path), error=type(error).__name__)
            return None
        pdfmetrics.registerFont(font)
        coverage = frozenset(font.face.charToGlyph)
        upem = int(getattr(font.face, "unitsPerEm", 1000) or 1000)
        face = Face(name, path, font, coverage, upem)
        _LOADED[path] = face
        return face


@dataclass(eq=False)
class _Slot:
    spec: FaceSpec
    path: Path | None
    face: Face | None = None
    tried: bool = False

    def get(self) -> Face | None:
        if not self.tried:
            with _LOCK:
                if not self.tried and self.path is not None:
                    self.face = _load(self.spec.name, self.path)
                self.tried = True
        return self.face

    def claims(self, code: int) -> bool:
        return any(low <= code <= high for low, high in self.spec.claims)


class FaceChain:
    """The faces of one weight, and the choice of a face for each character."""

    def __init__(self, specs: Sequence[FaceSpec]) -> None:
        self._slots = [_Slot(spec, _first(spec.files)) for spec in specs]
        self._claiming = [slot for slot in self._slots[1:] if slot.spec.claims and slot.path is not None]
        main = self._slots[0].get()
        if main is None:
            raise RuntimeError("no usable main font, not even ReportLab's own Vera")
        self.main = main
        self._choice: dict[int, Face | None] = {}

    def missing(self) -> list[str]:
        """The faces of this chain that are not installed."""
        return [slot.spec.name for slot in self._slots if slot.path is None]

    def face_for(self, code: int) -> Face | None:
        """The face that prints ``code``, or None when no installed face has a glyph for it."""
        try:
            return self._choice[code]
        except KeyError:
            pass
        chosen: Face | None = None
        for slot in self._claiming:
            if slot.claims(code):
                face = slot.get()
                if face is not None and code in face.coverage:
                    chosen = face
                break
        if chosen is None:
            if code in self.main.coverage:
                chosen = self.main
            else:
                for slot in self._slots[1:]:
                    face = slot.get()
                    if face is not None and code in face.coverage:
                        chosen = face
                        break
        with _LOCK:
            self._choice[code] = chosen
        return chosen


def _first(files: Sequence[str]) -> Path | None:
    for relative in files:
        path = find_font(relative)
        if path is not None:
            return path
    return None


@dataclass(frozen=True)
class Fonts:
    regular: FaceChain
    bold: FaceChain

    def chain(self, bold: bool) -> FaceChain:
        return self.bold if bold else self.regular


_FONTS: Fonts | None = None


def fonts() -> Fonts:
    """The two face chains, built once per process (the main faces are parsed now, the
    others when a character first needs them)."""
    global _FONTS  # noqa: PLW0603 - one registry of parsed fonts per process
    if _FONTS is None:
        with _LOCK:
            if _FONTS is None:
                regular = FaceChain(_REGULAR)
                bold_specs = [
                    FaceSpec(spec.name + "-Bold", _BOLD[spec.name], spec.claims)
                    if spec.name in _BOLD and _first(_BOLD[spec.name]) is not None
                    else spec
                    for spec in _REGULAR
                ]
                bold = FaceChain(bold_specs)
                missing = regular.missing()
                if missing:
                    log.warning(
                        "fonts missing; their scripts print as boxes (run scripts/setup.sh)",
                        faces=",".join(missing),
                    )
                _FONTS = Fonts(regular, bold)
    return _FONTS
