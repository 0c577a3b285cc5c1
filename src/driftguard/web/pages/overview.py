"""The overview: the portfolio at a glance (the executive dashboard's first page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Response

from driftguard.api.deps import DashboardCacheDep, DbSession
from driftguard.dashboard import service as dashboard
from driftguard.dashboard.schemas import ExecutiveDashboard
from driftguard.identity.permissions import Permission
from driftguard.web.charts import BarChart, StackedChart, bar_chart, stacked_chart
from driftguard.web.routing import web_router
from driftguard.web.security import SignedIn, page_permission
from driftguard.web.templating import render

router = web_router()
Reader = Annotated[SignedIn, page_permission(Permission.MODELS_READ)]
SEVERITY_COLOURS = {"critical": 8, "warning": 9}  # the stylesheet's .s8 and .s9


def models_chart(data: ExecutiveDashboard) -> StackedChart:
    teams: dict[str, list[tuple[str, int]]] = {}
    for row in data.models.by_team:
        teams.setdefault(row.team_name, []).append((row.stage, row.models))
    return stacked_chart(
        "Models by team and stage", list(teams.items()), names=list(dashboard.STAGES)
    )


def alerts_chart(data: ExecutiveDashboard) -> BarChart:
    counts = data.open_alerts.by_severity
    return bar_chart(
        "Active alerts by severity",
        [(s, float(counts.get(s, 0)), "") for s in dashboard.SEVERITIES],
    )


@router.get("/")
def overview(
    request: Request, session: DbSession, user: Reader, cache: DashboardCacheDep
) -> Response:
    data = dashboard.executive(session, principal=user.principal, cache=cache)
    context = {
        "user": user,
        "data": data,
        "models_chart": models_chart(data),
        "alerts_chart": alerts_chart(data),
    }
    return render(request, "overview.html", context)
