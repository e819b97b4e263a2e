"""Flowables that keep a page readable and never refuse to be laid out.

* ``Row`` is one row of a table whose cells are stacks of flowables; a row taller than
  the space left splits between lines of its cells, so no content is ever too large for
  a page (ReportLab's Table raises LayoutError for a row taller than the frame).
* ``Keep`` keeps headings on the page of the first lines of what follows them, without
  moving a long first paragraph to a new page whole (ReportLab's keepWithNext does, and
  leaves a near-blank page).
* ``KeepWithPrevious`` puts the last lines of one flowable on the page of what follows
  it, so a closing paragraph is never alone on a page.

Every split returns ``[]`` (try on the next page) only when the frame is not already
fresh; on a fresh page each of them places what it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.platypus import Flowable

_BIG = 1e9


def _at_top(flowable: Flowable) -> bool:
    frame = getattr(flowable, "_frame", None)
    return bool(getattr(frame, "_atTop", False))


def _stack_height(items: Sequence[Flowable], width: float) -> float:
    height = 0.0
    for index, item in enumerate(items):
        _, h = item.wrap(width, _BIG)
        height += h + (item.getSpaceBefore() if index else 0.0) + item.getSpaceAfter()
    return height


def _split_stack(
    items: Sequence[Flowable], width: float, avail: float
) -> tuple[list[Flowable], list[Flowable]]:
    """The items that fit in ``avail`` (the one that straddles split between lines), and the rest."""
    taken: list[Flowable] = []
    used = 0.0
    for index, item in enumerate(items):
        before = item.getSpaceBefore() if taken else 0.0
        _, h = item.wrap(width, _BIG)
        if used + before + h + item.getSpaceAfter() <= avail + 1e-6:
            taken.append(item)
            used += before + h + item.getSpaceAfter()
            continue
        parts = item.split(width, avail - used - before) if avail - used - before > 0 else []
        if parts and len(parts) > 1:
            return [*taken, parts[0]], [*parts[1:], *items[index + 1 :]]
        return taken, list(items[index:])
    return taken, []


def _draw_stack(items: Sequence[Flowable], canv: object, x: float, top: float, width: float) -> None:
    y = top
    for index, item in enumerate(items):
        if index:
            y -= item.getSpaceBefore()
        _, h = item.wrap(width, _BIG)
        y -= h
        item.drawOn(canv, x, y)
        y -= item.getSpaceAfter()


@dataclass(frozen=True)
class RowStyle:
    pad_x: float = 4
    pad_top: float = 4
    pad_bottom: float = 5
    rule: colors.Color | None = None
    rule_width: float = 0.3
    background: colors.Color | None = None


class Row(Flowable):
    """Cells side by side, each a stack of flowables, with a rule below."""

    def __init__(
        self,
        cells: Sequence[Sequence[Flowable]],
        widths: Sequence[float],
        style: RowStyle,
        *,
        min_split: float = 40,
    ) -> None:
        super().__init__()
        self.cells = [list(cell) for cell in cells]
        self.widths = list(widths)
        self.style = style
        self.min_split = min_split

    def _inner(self, index: int) -> float:
        return max(self.widths[index] - 2 * self.style.pad_x, 1.0)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        content = max((_stack_height(cell, self._inner(i)) for i, cell in enumerate(self.cells)), default=0.0)
        self.width = sum(self.widths)
        self.height = content + self.style.pad_top + self.style.pad_bottom
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        if availHeight < self.min_split and not _at_top(self):
            return []
        avail = availHeight - self.style.pad_top - self.style.pad_bottom
        firsts: list[list[Flowable]] = []
        rests: list[list[Flowable]] = []
        for index, cell in enumerate(self.cells):
            first, rest = _split_stack(cell, self._inner(index), avail)
            firsts.append(first)
            rests.append(rest)
        if not any(rests):
            return [self]
        if not any(firsts):
            return []
        head_style = RowStyle(self.style.pad_x, self.style.pad_top, 2, None, 0, self.style.background)
        tail_style = RowStyle(
            self.style.pad_x,
            2,
            self.style.pad_bottom,
            self.style.rule,
            self.style.rule_width,
            self.style.background,
        )
        return [
            Row(firsts, self.widths, head_style),
            Row(rests, self.widths, tail_style, min_split=self.min_split),
        ]

    def draw(self) -> None:
        canv = self.canv
        style = self.style
        if style.background is not None:
            canv.setFillColor(style.background)
            canv.rect(0, 0, self.width, self.height, stroke=0, fill=1)
        x = 0.0
        for index, cell in enumerate(self.cells):
            _draw_stack(cell, canv, x + style.pad_x, self.height - style.pad_top, self._inner(index))
            x += self.widths[index]
        if style.rule is not None and style.rule_width > 0:
            canv.setStrokeColor(style.rule)
            canv.setLineWidth(style.rule_width)
            canv.line(0, 0, self.width, 0)


class Keep(Flowable):
    """``head`` stays on the page where ``follow`` starts; ``follow`` may split."""

    def __init__(self, head: Sequence[Flowable], follow: Flowable) -> None:
        super().__init__()
        self.head = list(head)
        self.follow = follow
        self.spaceBefore = self.head[0].getSpaceBefore() if self.head else follow.getSpaceBefore()
        self.spaceAfter = follow.getSpaceAfter()

    def _items(self) -> list[Flowable]:
        return [*self.head, self.follow]

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        self.width = availWidth
        items = self._items()
        self.height = _stack_height(items, availWidth) - items[-1].getSpaceAfter()
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        head_height = _stack_height(self.head, availWidth) if self.head else 0.0
        room = availHeight - head_height - (self.follow.getSpaceBefore() if self.head else 0.0)
        parts = self.follow.split(availWidth, room) if room > 0 else []
        if parts:
            return [*self.head, *parts]
        if _at_top(self):
            return [*self.head, self.follow]
        return []

    def draw(self) -> None:
        _draw_stack(self._items(), self.canv, 0, self.height, self.width)


class KeepWithPrevious(Flowable):
    """``after`` goes on the page with the last lines of ``before``."""

    def __init__(self, before: Flowable, after: Sequence[Flowable]) -> None:
        super().__init__()
        self.before = before
        self.after = list(after)
        self.spaceBefore = before.getSpaceBefore()
        self.spaceAfter = self.after[-1].getSpaceAfter() if self.after else before.getSpaceAfter()

    def _items(self) -> list[Flowable]:
        return [self.before, *self.after]

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        self.width = availWidth
        items = self._items()
        self.height = _stack_height(items, availWidth) - items[-1].getSpaceAfter()
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        _, before_height = self.before.wrap(availWidth, availHeight)
        # Split where the page ends, or, if all of `before` fits, just before its end.
        parts = self.before.split(availWidth, min(availHeight, before_height - 1))
        if len(parts) > 1:
            return [*parts[:-1], KeepWithPrevious(parts[-1], self.after)]
        if _at_top(self):
            return self._items()
        return []

    def draw(self) -> None:
        _draw_stack(self._items(), self.canv, 0, self.height, self.width)
