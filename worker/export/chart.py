"""The symptom chart: entries per week (stacked bars) and average severity (lines).

Readable for any data the document can hold:

* at most 8 series (the document already keeps the most frequent symptoms and sums the
  rest as "other"), in the Okabe-Ito palette (distinguishable with the common forms of
  colour blindness), "other" in grey, and a different marker shape per series;
* the legend in its own block above the plot, wrapping within the page, names in any
  script (each drawn with per-character font fallback and shaping);
* stacked bars, so a week is one bar however many symptoms there are, and markers on
  every severity point, so a single week still shows;
* week labels thinned to the space they have (a year of weeks keeps about a dozen),
  axis titles on both panels.

Drawn directly on the canvas: ReportLab's chart classes cost a third of a one-story
render and have a legend at a fixed offset.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence

from reportlab.lib import colors
from reportlab.platypus import Flowable

from worker.export.text import draw_text, text_width, truncate
from worker.report import SymptomSeries, short_date

PALETTE = tuple(
    colors.HexColor(c)
    for c in ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
)
OTHER = colors.HexColor("#8C8C8C")
AXIS = colors.HexColor("#616e7c")
GRID = colors.HexColor("#e4e7eb")
INK = colors.HexColor("#1f2933")
MARKERS = ("circle", "square", "triangle", "diamond", "down", "circle", "square", "triangle")

LABEL_SIZE = 7
LEGEND_SIZE = 8
TITLE_SIZE = 8.5
_LEFT = 34  # room for the value labels and the rotated axis title
_BAR_PANEL = 118
_LINE_PANEL = 108
_GAP = 30  # between a panel and the next title: room for week labels


def series_colour(index: int, series: SymptomSeries) -> colors.Color:
    return OTHER if series.other_symptoms else PALETTE[index % len(PALETTE)]


def series_label(series: SymptomSeries) -> str:
    if series.other_symptoms:
        return f"Other ({series.other_symptoms} symptoms)"
    return series.symptom_name


def _nice_step(peak: float, ticks: int = 5) -> int:
    raw = max(peak / ticks, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return int(factor * magnitude)
    return int(10 * magnitude)


class SymptomChart(Flowable):
    """The chart of ``series`` (one value per week of ``weeks``) at the frame's width."""

    def __init__(self, weeks: Sequence[dt.date], series: Sequence[SymptomSeries]) -> None:
        super().__init__()
        self.weeks = list(weeks)
        self.series = [s for s in series if len(s.counts) == len(self.weeks)]
        self._legend: list[list[tuple[float, str, colors.Color, int]]] = []

    def _layout_legend(self, width: float) -> None:
        rows: list[list[tuple[float, str, colors.Color, int]]] = [[]]
        used = 0.0
        for index, serie in enumerate(self.series):
            name = truncate(series_label(serie), LEGEND_SIZE, width * 0.45)
            entry = 14 + text_width(name, LEGEND_SIZE) + 14
            if rows[-1] and used + entry > width:
                rows.append([])
                used = 0.0
            rows[-1].append((used, name, series_colour(index, serie), index))
            used += entry
        self._legend = rows

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803
        self.width = availWidth
        self._layout_legend(availWidth)
        legend = len(self._legend) * 13 + 8
        self.height = legend + 2 * (TITLE_SIZE + 6) + _BAR_PANEL + _LINE_PANEL + 2 * _GAP
        return self.width, self.height

    # -- drawing --------------------------------------------------------------------------------

    def draw(self) -> None:
        canv = self.canv
        top = self.height
        for row in self._legend:
            top -= 13
            for x, name, colour, index in row:
                self._marker(x + 5, top + 3, colour, index, 3.2)
                draw_text(canv, name, x + 14, top, LEGEND_SIZE, colour=INK)
        top -= 8
        plot_x, plot_w = _LEFT, self.width - _LEFT - 4
        step = plot_w / max(len(self.weeks), 1)

        # Entries per week: stacked bars.
        top -= TITLE_SIZE + 2
        draw_text(canv, "Entries per week (all symptoms, stacked)", 0, top, TITLE_SIZE, bold=True, colour=INK)
        top -= 4
        base = top - _BAR_PANEL
        totals = [sum(s.counts[i] for s in self.series) for i in range(len(self.weeks))]
        y_step = _nice_step(max(totals, default=1))
        y_max = max(y_step * math.ceil(max(totals, default=1) / y_step), y_step)
        self._axes(base, _BAR_PANEL, plot_x, plot_w, y_max, y_step, "Entries")
        bar = max(min(step * 0.72, 28), 0.8)
        for week in range(len(self.weeks)):
            x = plot_x + week * step + (step - bar) / 2
            y = base
            for index, serie in enumerate(self.series):
                count = serie.counts[week]
                if count <= 0:
                    continue
                h = count / y_max * _BAR_PANEL
                canv.setFillColor(series_colour(index, serie))
                canv.rect(x, y, bar, h, stroke=0, fill=1)
                y += h
        self._week_labels(base, plot_x, step)

        # Average severity: a line and markers per series.
        top = base - _GAP
        top -= TITLE_SIZE + 2
        draw_text(
            canv,
            "Average severity per week (1 = mild, 10 = worst)",
            0,
            top,
            TITLE_SIZE,
            bold=True,
            colour=INK,
        )
        top -= 4
        base = top - _LINE_PANEL
        self._axes(base, _LINE_PANEL, plot_x, plot_w, 10, 2, "Severity")
        radius = 2.2 if len(self.weeks) <= 26 else 1.6
        for index, serie in enumerate(self.series):
            colour = series_colour(index, serie)
            points = [
                (plot_x + week * step + step / 2, base + value / 10 * _LINE_PANEL)
                if value is not None
                else None
                for week, value in enumerate(serie.avg_severity)
            ]
            canv.setStrokeColor(colour)
            canv.setLineWidth(1.4)
            for a, b in itertools.pairwise(points):
                if a is not None and b is not None:
                    canv.line(a[0], a[1], b[0], b[1])
            for point in points:
                if point is not None:
                    self._marker(point[0], point[1], colour, index, radius)
        self._week_labels(base, plot_x, step)
        draw_text(
            canv, "Week starting", plot_x + plot_w / 2, base - 24, LABEL_SIZE, colour=AXIS, anchor="middle"
        )

    def _axes(
        self, base: float, height: float, x: float, width: float, y_max: float, y_step: float, title: str
    ) -> None:
        canv = self.canv
        canv.setLineWidth(0.4)
        value = 0.0
        while value <= y_max + 1e-9:
            y = base + value / y_max * height
            canv.setStrokeColor(GRID if value else AXIS)
            canv.line(x, y, x + width, y)
            draw_text(canv, f"{value:g}", x - 3, y - 2.5, LABEL_SIZE, colour=AXIS, anchor="end")
            value += y_step
        canv.saveState()
        canv.translate(9, base + height / 2)
        canv.rotate(90)
        draw_text(canv, title, 0, 0, LABEL_SIZE, colour=AXIS, anchor="middle")
        canv.restoreState()

    def _week_labels(self, base: float, x: float, step: float) -> None:
        canv = self.canv
        labels = self._labels()
        widest = max((text_width(label, LABEL_SIZE) for label in labels if label), default=20.0)
        every = max(1, math.ceil((widest + 6) / step))
        canv.setStrokeColor(AXIS)
        canv.setLineWidth(0.4)
        for week in range(0, len(self.weeks), every):
            centre = x + week * step + step / 2
            canv.line(centre, base, centre, base - 2.5)
            draw_text(canv, labels[week], centre, base - 10, LABEL_SIZE, colour=AXIS, anchor="middle")

    def _labels(self) -> list[str]:
        """ "2 Nov", with the year on the first week and on the first week of a new year."""
        labels = []
        year = None
        for week in self.weeks:
            label = short_date(week, year=week.year != year)
            year = week.year
            labels.append(label)
        return labels

    def _marker(self, x: float, y: float, colour: colors.Color, index: int, r: float) -> None:
        canv = self.canv
        canv.setFillColor(colour)
        canv.setStrokeColor(colors.white)
        canv.setLineWidth(0.5)
        shape = MARKERS[index % len(MARKERS)]
        if shape == "circle":
            canv.circle(x, y, r, stroke=1, fill=1)
        elif shape == "square":
            canv.rect(x - r, y - r, 2 * r, 2 * r, stroke=1, fill=1)
        else:
            points = {
                "triangle": [(x - r * 1.15, y - r), (x + r * 1.15, y - r), (x, y + r * 1.2)],
                "down": [(x - r * 1.15, y + r), (x + r * 1.15, y + r), (x, y - r * 1.2)],
                "diamond": [(x, y - r * 1.3), (x + r * 1.3, y), (x, y + r * 1.3), (x - r * 1.3, y)],
            }[shape]
            path = canv.beginPath()
            path.moveTo(*points[0])
            for point in points[1:]:
                path.lineTo(*point)
            path.close()
            canv.drawPath(path, stroke=1, fill=1)
