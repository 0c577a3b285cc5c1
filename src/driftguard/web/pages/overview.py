"""The overview: the portfolio at a glance (the executive dashboard's first page)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Request, Response

from driftguard.charts import (
    BarChart,
    LineChart,
    StackedChart,
    bar_chart,
    line_chart,
    stacked_chart,
)
from driftguard.dashboard import service as dashboard
from driftguard.dashboard.schemas import ExecutiveDashboard
from driftguard.http.deps import DashboardCacheDep, DbSession
from driftguard.identity.permissions import Permission
from driftguard.web.routing import web_router
from driftguard.web.security import SignedIn, page_permission
from driftguard.web.templating import render

router = web_router()
Reader = Annotated[SignedIn, page_permission(Permission.MODELS_READ)]
SEVERITY_COLOURS = {"critical": 8, "warning": 9}  # the stylesheet's .s8 and .s9
BAND_COLOURS = {"low": 2, "medium": 9, "high": 1, "critical": 8}


def models_chart(data: ExecutiveDashboard) -> StackedChart:
    """Models stacked by lifecycle stage, one bar per team."""
    teams: dict[str, list[tuple[str, int]]] = {}
    for row in data.models.by_team:
        teams.setdefault(row.team_name, []).append((row.stage, row.models))
    return stacked_chart(
        "Models by team and stage", list(teams.items()), names=list(dashboard.STAGES)
    )


def alerts_chart(data: ExecutiveDashboard) -> BarChart:
    """Open alerts counted per severity."""
    counts = data.open_alerts.by_severity
    return bar_chart(
        "Active alerts by severity",
        [(s, float(counts.get(s, 0)), "") for s in dashboard.SEVERITIES],
    )


def bands_chart(data: ExecutiveDashboard) -> BarChart:
    """Models counted per Model Risk Index band, in the bands' colours."""
    bands = data.governance.models_by_band
    return bar_chart(
        "Models by Model Risk Index band",
        [(band, float(bands.get(band, 0)), "") for band in BAND_COLOURS],
        colours=list(BAND_COLOURS.values()),
    )


def risk_trend_chart(data: ExecutiveDashboard) -> LineChart | None:
    """The portfolio's mean Model Risk Index per day; None without scores."""
    points = [
        (datetime.fromisoformat(p.day).replace(tzinfo=UTC), p.mean_score)
        for p in data.governance.risk_trend
    ]
    if not points:
        return None
    return line_chart("Mean MRI per day", [("mean MRI", points)], y_label="MRI", y_max=100.0)


@router.get("/")
def overview(
    request: Request, session: DbSession, user: Reader, cache: DashboardCacheDep
) -> Response:
    """The executive overview: the dashboard's figures and charts for the caller's scope."""
    data = dashboard.executive(session, principal=user.principal, cache=cache)
    context = {
        "user": user,
        "data": data,
        "models_chart": models_chart(data),
        "alerts_chart": alerts_chart(data),
        "bands_chart": bands_chart(data),
        "risk_trend_chart": risk_trend_chart(data),
    }
    return render(request, "overview.html", context)
