"""The dashboard's governance sections: risk bands, the riskiest models and why, deployments,
the approval queue and the MRI trend. Every query takes the visible team ids into its WHERE."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from driftguard.dashboard.repository import Visible, _in_scope
from driftguard.dashboard.schemas import (
    DeploymentCount,
    GovernanceSection,
    PendingApproval,
    RiskTrendPoint,
    RiskyModel,
)
from driftguard.governance.orm import Deployment, DeploymentApproval, RiskScore
from driftguard.registry.orm import ModelVersion, RegisteredModel

BANDS = ("low", "medium", "high", "critical")
WINDOW_DAYS = 30
RISKIEST = 10
PENDING = 10


def governance_section(session: Session, *, visible: Visible, now: datetime) -> GovernanceSection:
    since = now - timedelta(days=WINDOW_DAYS)
    latest = _latest_scores(visible)
    band_rows = session.execute(select(latest.c.band, func.count()).group_by(latest.c.band))
    by_band = dict.fromkeys(BANDS, 0) | {band: n for band, n in band_rows}  # noqa: C416
    riskiest = [
        RiskyModel(
            model_id=model_id,
            model_name=name,
            team_id=team_id,
            version=number,
            score=score,
            band=band,
            main_driver=_main_driver(components),
        )
        for model_id, name, team_id, number, score, band, components in session.execute(
            select(
                latest.c.model_id,
                RegisteredModel.name,
                RegisteredModel.team_id,
                ModelVersion.number,
                latest.c.score,
                latest.c.band,
                latest.c.components,
            )
            .join(RegisteredModel, RegisteredModel.id == latest.c.model_id)
            .join(ModelVersion, ModelVersion.id == latest.c.version_id)
            .order_by(latest.c.score.desc(), latest.c.model_id)
            .limit(RISKIEST)
        )
    ]
    deployments = [
        DeploymentCount(environment=env, status=status, deployments=count)
        for env, status, count in session.execute(
            select(Deployment.environment, Deployment.status, func.count())
            .where(Deployment.created_at >= since, _in_scope(Deployment.team_id, visible))
            .group_by(Deployment.environment, Deployment.status)
            .order_by(Deployment.environment, Deployment.status)
        )
    ]
    pending_filter = (
        Deployment.status == "pending_approval",
        _in_scope(Deployment.team_id, visible),
    )
    approvals = (
        select(func.count())
        .where(DeploymentApproval.deployment_id == Deployment.id)
        .scalar_subquery()
    )
    pending = [
        PendingApproval(
            deployment_id=d_id,
            model_id=model_id,
            model_name=name,
            version=number,
            environment=env,
            requested_at=created,
            approvals=given,
            required_approvals=required,
        )
        for d_id, model_id, name, number, env, created, given, required in session.execute(
            select(
                Deployment.id,
                Deployment.model_id,
                RegisteredModel.name,
                ModelVersion.number,
                Deployment.environment,
                Deployment.created_at,
                approvals,
                Deployment.required_approvals,
            )
            .join(RegisteredModel, RegisteredModel.id == Deployment.model_id)
            .join(ModelVersion, ModelVersion.id == Deployment.version_id)
            .where(*pending_filter)
            .order_by(Deployment.created_at, Deployment.id)
            .limit(PENDING)
        )
    ]
    pending_total = session.scalar(select(func.count()).where(*pending_filter)) or 0
    day = func.date(RiskScore.computed_at)
    trend = [
        RiskTrendPoint(day=str(d), mean_score=float(mean), scores=count)
        for d, mean, count in session.execute(
            select(day, func.avg(RiskScore.score), func.count())
            .where(RiskScore.computed_at >= since, _in_scope(RiskScore.team_id, visible))
            .group_by(day)
            .order_by(day)
        )
    ]
    return GovernanceSection(
        models_by_band=by_band,
        riskiest=riskiest,
        deployments_last_30_days=deployments,
        pending_approvals=pending_total,
        oldest_pending=pending,
        risk_trend=trend,
    )


def _latest_scores(visible: Visible):  # type: ignore[no-untyped-def]
    """Each live model's most recent score (of whichever version was scored last)."""
    newest = (
        select(RiskScore.model_id, func.max(RiskScore.id).label("id"))
        .where(_in_scope(RiskScore.team_id, visible))
        .group_by(RiskScore.model_id)
        .subquery()
    )
    return (
        select(
            RiskScore.model_id, RiskScore.version_id, RiskScore.score, RiskScore.band,
            RiskScore.components,
        )
        .join(newest, newest.c.id == RiskScore.id)
        .join(RegisteredModel, RegisteredModel.id == RiskScore.model_id)
        .where(RegisteredModel.archived_at.is_(None))
        .subquery()
    )  # fmt: skip


def _main_driver(components: list[dict[str, object]]) -> str:
    """The component contributing most to the score."""
    best = max(components, key=lambda c: float(c.get("contribution", 0.0)), default=None)  # type: ignore[arg-type]
    return str(best["name"]) if best is not None else ""
