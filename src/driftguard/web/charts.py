"""The chart geometry the pages draw; it lives in :mod:`driftguard.charts`, below every layer, so
the evidence pack draws the same charts."""

from driftguard.charts import (
    Bar,
    BarChart,
    Line,
    LineChart,
    Point,
    Segment,
    StackedChart,
    StackedRow,
    Tick,
    bar_chart,
    line_chart,
    nice_ceiling,
    stacked_chart,
)

__all__ = [
    "Bar",
    "BarChart",
    "Line",
    "LineChart",
    "Point",
    "Segment",
    "StackedChart",
    "StackedRow",
    "Tick",
    "bar_chart",
    "line_chart",
    "nice_ceiling",
    "stacked_chart",
]
