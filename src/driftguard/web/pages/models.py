"""The model inventory and the model page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field

from driftguard.charts import BarChart, LineChart, bar_chart, line_chart
from driftguard.governance import alerts, deployments, risk
from driftguard.governance.schemas import RiskScoreRead
from driftguard.http.deps import DbSession
from driftguard.http.params import ObjectId
from driftguard.identity import service as identity_service
from driftguard.identity.permissions import Permission
from driftguard.monitoring import runs
from driftguard.monitoring.report_models import (
    AttributeFairness,
    DriftReport,
    FairnessReport,
    PerformanceReport,
)
from driftguard.monitoring.schemas import ReportRead
from driftguard.registry import service as registry_service
from driftguard.registry.orm import Stage
from driftguard.registry.repository import ModelFilter, PageRequest
from driftguard.schemas import Id, SearchText, Tag
from driftguard.web.forms import page_count, parse_fields
from driftguard.web.pages.lifecycle import RiskRecord, risk_record
from driftguard.web.routing import web_router
from driftguard.web.security import SignedIn, page_permission
from driftguard.web.templating import render

router = web_router()
Reader = Annotated[SignedIn, page_permission(Permission.MODELS_READ)]
PAGE_SIZE = 25
HISTORY = 60  # report windows shown on a model page
SORTS = {
    "name": "Name (A to Z)",
    "-name": "Name (Z to A)",
    "-updated_at": "Recently updated",
    "-created_at": "Newest",
    "-materiality": "Materiality (high first)",
    "-criticality": "Criticality (high first)",
}
RISK_DAYS = 90  # MRI history shown on a model page
RISK_POINTS = 500
DEPLOYMENTS = 20
PERFORMANCE_METRICS = ("accuracy", "roc_auc", "precision", "recall", "rmse", "mae")


class InventoryQuery(BaseModel):
    q: SearchText | None = None
    team: Id | None = None
    stage: Stage | None = None
    tag: Tag | None = None
    sort: Literal["name", "-name", "-updated_at", "-created_at", "-materiality", "-criticality"] = (
        "name"
    )
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1


@router.get("/models")
def inventory(request: Request, session: DbSession, user: Reader) -> Response:
    """The model inventory: search, filter by team, stage and tag, sort, one page at a time."""
    query, errors = parse_fields(InventoryQuery, dict(request.query_params))
    flt = ModelFilter(
        q=query.q.strip() or None if query.q else None,
        team_id=query.team,
        stage=query.stage,
        tags=(query.tag,) if query.tag else (),
    )
    key = query.sort.removeprefix("-")
    page = PageRequest(
        limit=PAGE_SIZE,
        offset=(query.page - 1) * PAGE_SIZE,
        sort=((key, query.sort.startswith("-")),),
    )
    result = registry_service.list_models(session, principal=user.principal, flt=flt, page=page)
    teams = identity_service.visible_teams(session, principal=user.principal)
    context = {
        "user": user,
        "query": query,
        "raw": request.query_params,
        "errors": errors,
        "result": result,
        "pages": page_count(result.total, PAGE_SIZE),
        "teams": teams,
        "team_names": {t.id: t.name for t in teams},
        "stages": [s.value for s in Stage],
        "sorts": SORTS,
    }
    return render(request, "models.html", context, status_code=422 if errors else 200)


def drift_chart(reports: Sequence[ReportRead]) -> LineChart | None:
    """PSI per feature over the reports' windows; None when no report has a feature."""
    series: dict[str, list[tuple[datetime, float | None]]] = {}
    for report in reports:
        for row in DriftReport.model_validate(report.payload).features:
            series.setdefault(row.feature, []).append((report.window_end, row.psi))
    if not series:
        return None
    return line_chart("Drift (PSI) per feature", list(series.items()), y_label="PSI", y_max=0.25)


def performance_chart(reports: Sequence[ReportRead]) -> LineChart | None:
    """Each measured performance metric over the reports' windows; None when nothing was
    measured."""
    series: dict[str, list[tuple[datetime, float | None]]] = {}
    for report in reports:
        measured = PerformanceReport.model_validate(report.payload)
        for metric in PERFORMANCE_METRICS:
            value = getattr(measured, metric)
            if value is not None:
                series.setdefault(metric, []).append((report.window_end, float(value)))
    if not series:
        return None
    return line_chart("Performance over time", list(series.items()), y_label="metric")


def fairness_charts(report: FairnessReport | None) -> list[tuple[str, AttributeFairness, BarChart]]:
    """Per sensitive attribute: its summary and a bar chart of selection rate by group."""
    if report is None or report.attributes is None:
        return []
    charts = []
    for attribute, result in sorted(report.attributes.items()):
        if not isinstance(result, AttributeFairness) or not result.groups:
            continue
        bars = [
            (
                str(g.group),
                float(g.selection_rate or 0.0),
                f"n={g.size}" + (" (small group)" if g.below_min_group_size else ""),
            )
            for g in result.groups
        ]
        chart = bar_chart(f"Selection rate by {attribute}", bars, max_value=1.0)
        charts.append((str(attribute), result, chart))
    return charts


def contribution_chart(score: RiskScoreRead) -> BarChart:
    """Each MRI component's contribution to the score (points), with its value and weight."""
    bars = [
        (c.name, c.contribution, f"value {c.value:.2f}, weight {c.weight:.2f}")
        for c in score.components
    ]
    return bar_chart("MRI contribution by component", bars)


def risk_chart(scores: Sequence[RiskScoreRead]) -> LineChart | None:
    """The Model Risk Index over time; None without scores."""
    if not scores:
        return None
    points = [(s.computed_at, s.score) for s in scores]
    return line_chart("MRI over time", [("MRI", points)], y_label="MRI", y_max=100.0)


@router.get("/models/{model_id}")
def model_page(
    model_id: ObjectId,
    request: Request,
    session: DbSession,
    user: Reader,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """A model's page: its versions and, for the chosen one (the newest by default), drift,
    fairness, performance and risk."""
    principal = user.principal
    model = registry_service.read_model(session, principal=principal, model_id=model_id)
    team = identity_service.get_team(session, principal=principal, team_id=model.team_id)
    versions = registry_service.list_versions(
        session,
        principal=principal,
        model_id=model.id,
        stage=None,
        page=PageRequest(limit=50, offset=0, sort=(("number", True),)),
    )
    number = version or model.latest_version
    selected = None
    drift = performance = None
    fairness_unavailable: str | None = None
    fairness: list[tuple[str, AttributeFairness, BarChart]] = []
    latest_performance: PerformanceReport | None = None
    score: RiskScoreRead | None = None
    scores: list[RiskScoreRead] = []
    record: RiskRecord | None = None
    if number is not None:
        selected = registry_service.get_version(
            session, principal=principal, model_id=model.id, number=number
        )
        reports = runs.recent_reports(
            session,
            principal=principal,
            model_id=model.id,
            number=number,
            limits={"drift": HISTORY, "fairness": 1, "performance": HISTORY},
        )
        drift = drift_chart(reports["drift"])
        latest_fairness = (
            FairnessReport.model_validate(reports["fairness"][-1].payload)
            if reports["fairness"]
            else None
        )
        fairness = fairness_charts(latest_fairness)
        # A report over a purged window says why it has no figures; the page shows that.
        fairness_unavailable = latest_fairness.unavailable if latest_fairness else None
        performance = performance_chart(reports["performance"])
        latest_performance = (
            PerformanceReport.model_validate(reports["performance"][-1].payload)
            if reports["performance"]
            else None
        )
        score = risk.current(session, principal=principal, model_id=model.id, number=number)
        # The newest points, drawn oldest first.
        scores = risk.history(
            session,
            principal=principal,
            model_id=model.id,
            number=number,
            start=datetime.now(UTC) - timedelta(days=RISK_DAYS),
            end=None,
            limit=RISK_POINTS,
            offset=0,
            newest_first=True,
        ).items[::-1]
        record = risk_record(
            session, principal=principal, model_id=model.id, team_id=model.team_id, number=number
        )
    active = alerts.list_alerts(
        session,
        principal=principal,
        statuses=alerts.ACTIVE,
        model_id=model.id,
        severity=None,
        limit=50,
        offset=0,
    )
    requests = deployments.list_deployments(
        session,
        principal=principal,
        model_id=model.id,
        environment=None,
        statuses=None,
        limit=DEPLOYMENTS,
        offset=0,
    )
    context = {
        "user": user,
        "model": model,
        "score": score,
        "contributions": contribution_chart(score) if score else None,
        "risk_chart": risk_chart(scores),
        "deployments": requests,
        "team": team,
        "versions": versions.items,
        "selected": selected,
        "drift": drift,
        "fairness": fairness,
        "fairness_unavailable": fairness_unavailable,
        "performance": performance,
        "latest_performance": latest_performance,
        "performance_metrics": PERFORMANCE_METRICS,
        "alerts": active.items,
        "record": record,
        "model_names": {model.id: model.name},
        "can_manage": principal.can_in_team(Permission.ALERTS_MANAGE, model.team_id),
        "back": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    }
    return render(request, "model.html", context)
