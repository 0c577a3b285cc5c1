"""Chart geometry: scales, gaps and proportions (the SVG itself is drawn by the templates)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from driftguard.charts import (
    BAR_LABEL_WIDTH,
    WIDTH,
    bar_chart,
    line_chart,
    nice_ceiling,
    stacked_chart,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, 1.0), (-3.0, 1.0), (0.07, 0.1), (0.21, 0.25), (0.3, 0.5), (1.0, 1.0), (7.0, 10.0)],
)
def test_nice_ceiling(value: float, expected: float) -> None:
    assert nice_ceiling(value) == pytest.approx(expected)


def test_a_line_spans_the_plot_and_higher_values_sit_higher() -> None:
    chart = line_chart("t", [("a", [(T0 + timedelta(days=d), d / 10) for d in range(4)])])
    points = chart.lines[0].points
    assert points[0].x == chart.left
    assert points[-1].x == chart.right
    assert [p.y for p in points] == sorted((p.y for p in points), reverse=True)
    assert points[0].y == chart.bottom  # zero sits on the axis


def test_a_missing_value_breaks_the_line_and_shows_in_the_table() -> None:
    values = [(T0, 0.1), (T0 + timedelta(days=1), None), (T0 + timedelta(days=2), 0.2)]
    chart = line_chart("t", [("a", values), ("b", [(T0, 0.05)])])
    assert len(chart.lines[0].segments) == 2
    assert len(chart.lines[0].points) == 2
    assert chart.rows[1] == (T0 + timedelta(days=1), (None, None))
    assert chart.lines[1].colour != chart.lines[0].colour


def test_values_above_the_scale_are_clamped_to_the_top() -> None:
    chart = line_chart("t", [("a", [(T0, 5.0), (T0 + timedelta(days=1), 0.0)])], y_max=0.25)
    assert min(p.y for p in chart.lines[0].points) == chart.top


def test_bars_are_proportional() -> None:
    chart = bar_chart("t", [("a", 0.5, ""), ("b", 0.25, ""), ("c", 0.0, "")], max_value=1.0)
    widths = [b.width for b in chart.bars]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert widths[2] == 0
    assert all(b.x == BAR_LABEL_WIDTH for b in chart.bars)


def test_stacked_segments_add_up_and_follow_the_legend_order() -> None:
    chart = stacked_chart(
        "t",
        [("team a", [("staging", 2), ("production", 1)]), ("team b", [("none", 3)])],
        names=["production", "staging", "none"],
    )
    first, second = chart.rows
    assert [s.name for s in first.segments] == ["production", "staging"]
    assert first.total == second.total == 3
    assert first.segments[1].x == pytest.approx(first.segments[0].x + first.segments[0].width)
    assert sum(s.width for s in first.segments) == pytest.approx(
        sum(s.width for s in second.segments)
    )
    assert first.segments[-1].x + first.segments[-1].width <= WIDTH


def test_empty_inputs_draw_empty_charts() -> None:
    assert line_chart("t", []).lines == ()
    assert bar_chart("t", []).bars == ()
    assert stacked_chart("t", [], names=["x"]).rows == ()


def test_bars_can_take_their_colours() -> None:
    chart = bar_chart("t", [("critical", 1.0, ""), ("warning", 2.0, "")], colours=[8, 9])
    assert [b.colour for b in chart.bars] == [8, 9]
