"""Chart geometry for inline SVG, computed on the server; the web UI's ``templates/_charts.html``
and the evidence pack's ``evidence/templates/_charts.html`` draw it.

Pure (the standard library only), below every layer, so the pages (``web/``) and the evidence pack
(``evidence/``, below ``web/``) share one geometry. No labels are rendered here: every string
reaches the page through a template, so it is escaped like any other text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 48
MARGIN_RIGHT = 24
MARGIN_TOP = 12
MARGIN_BOTTOM = 28
PALETTE_SIZE = 8
BAR_HEIGHT = 22
BAR_GAP = 8
BAR_LABEL_WIDTH = 150
BAR_TEXT_WIDTH = 140  # room right of the longest bar for its value and note


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    when: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    colour: int
    segments: tuple[str, ...]  # SVG polyline "x,y x,y" strings, broken where a value is missing
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class LineChart:
    title: str
    y_label: str
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    rows: tuple[tuple[datetime, tuple[float | None, ...]], ...]  # the data table, by time


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    colour: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    width: int
    height: int
    label_width: int
    bars: tuple[Bar, ...]
    max_value: float


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    value: int
    x: float
    width: float
    colour: int


@dataclass(frozen=True, slots=True)
class StackedRow:
    label: str
    y: float
    total: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class StackedChart:
    title: str
    width: int
    height: int
    label_width: int
    legend: tuple[tuple[str, int], ...]
    rows: tuple[StackedRow, ...]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten that is >= ``value`` (1 for <= 0)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return float(step * power)
    return 10.0 * power


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.1e}"


def line_chart(
    title: str,
    series: Sequence[tuple[str, Sequence[tuple[datetime, float | None]]]],
    *,
    y_label: str = "",
    y_max: float | None = None,
) -> LineChart:
    """Lines over time; each series is (name, [(moment, value or None)])."""
    left, right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    moments = sorted({m for _, values in series for m, _ in values})
    finite = [v for _, values in series for _, v in values if v is not None and math.isfinite(v)]
    ceiling = nice_ceiling(max([*finite, y_max or 0.0], default=1.0))
    first = moments[0].timestamp() if moments else 0.0
    span = (moments[-1].timestamp() - first) if len(moments) > 1 else 1.0

    def x_of(moment: datetime) -> float:
        if len(moments) == 1:
            return (left + right) / 2
        return left + (moment.timestamp() - first) / span * (right - left)

    def y_of(value: float) -> float:
        return bottom - min(value, ceiling) / ceiling * (bottom - top)

    lines = []
    for index, (name, values) in enumerate(series):
        segments: list[str] = []
        current: list[str] = []
        points = []
        for moment, value in sorted(values, key=lambda pair: pair[0]):
            if value is None or not math.isfinite(value):
                if current:
                    segments.append(" ".join(current))
                current = []
                continue
            point = Point(round(x_of(moment), 1), round(y_of(value), 1), moment, value)
            points.append(point)
            current.append(f"{point.x},{point.y}")
        if current:
            segments.append(" ".join(current))
        lines.append(Line(name, index % PALETTE_SIZE, tuple(segments), tuple(points)))
    step = max(1, math.ceil(len(moments) / 6))
    x_ticks = tuple(Tick(round(x_of(m), 1), m.strftime("%m-%d")) for m in moments[::step])
    y_ticks = tuple(
        Tick(round(y_of(ceiling * f), 1), _label(ceiling * f)) for f in (0, 0.25, 0.5, 0.75, 1)
    )
    lookup = [dict(values) for _, values in series]
    rows = tuple((m, tuple(table.get(m) for table in lookup)) for m in moments)
    return LineChart(
        title,
        y_label,
        WIDTH,
        HEIGHT,
        left,
        right,
        top,
        bottom,
        tuple(lines),
        x_ticks,
        y_ticks,
        rows,
    )


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float, str]],
    *,
    max_value: float | None = None,
    colours: Sequence[int] | None = None,
) -> BarChart:
    """Horizontal bars; each is (label, value, note). ``colours`` picks each bar's palette entry
    (by default, the palette in order)."""
    ceiling = max_value or nice_ceiling(max((v for _, v, _ in bars), default=1.0))
    plot = WIDTH - BAR_LABEL_WIDTH - BAR_TEXT_WIDTH
    drawn = tuple(
        Bar(
            label,
            value,
            BAR_LABEL_WIDTH,
            index * (BAR_HEIGHT + BAR_GAP),
            round(max(0.0, min(value, ceiling)) / ceiling * plot, 1),
            colours[index] if colours else index % PALETTE_SIZE,
            note,
        )
        for index, (label, value, note) in enumerate(bars)
    )
    height = max(BAR_HEIGHT, len(bars) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP)
    return BarChart(title, WIDTH, height, BAR_LABEL_WIDTH, drawn, ceiling)


def stacked_chart(
    title: str, rows: Sequence[tuple[str, Sequence[tuple[str, int]]]], *, names: Sequence[str]
) -> StackedChart:
    """One horizontal bar per row, split into segments named in ``names`` (the legend order)."""
    colours = {name: index % PALETTE_SIZE for index, name in enumerate(names)}
    largest = max((sum(v for _, v in parts) for _, parts in rows), default=0)
    plot = WIDTH - BAR_LABEL_WIDTH - BAR_TEXT_WIDTH
    scale = plot / largest if largest else 0.0
    drawn = []
    for index, (label, parts) in enumerate(rows):
        x = float(BAR_LABEL_WIDTH)
        segments = []
        for name in names:
            value = sum(v for n, v in parts if n == name)
            if value:
                width = round(value * scale, 1)
                segments.append(Segment(name, value, round(x, 1), width, colours[name]))
                x += width
        drawn.append(
            StackedRow(
                label, index * (BAR_HEIGHT + BAR_GAP), sum(v for _, v in parts), tuple(segments)
            )
        )
    height = max(BAR_HEIGHT, len(rows) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP)
    legend = tuple((name, colours[name]) for name in names)
    return StackedChart(title, WIDTH, height, BAR_LABEL_WIDTH, legend, tuple(drawn))
