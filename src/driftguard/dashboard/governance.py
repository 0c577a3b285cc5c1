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
from driftguard.governance import reviews_due
from driftguard.governance.orm import Deployment, DeploymentApproval, ModelRisk, RiskTrend
from driftguard.registry.orm import ModelVersion, RegisteredModel

BANDS = ("low", "medium", "high", "critical")
WINDOW_DAYS = 30
RISKIEST = 10
PENDING = 10


def governance_section(session: Session, *, visible: Visible, now: datetime) -> GovernanceSection:
    """The dashboard's governance figures in scope: live models per MRI band, the riskiest,
    recent deployments, pending approvals and the risk trend."""
    since = now - timedelta(days=WINDOW_DAYS)
    # Each live model's current score (see governance.orm.ModelRisk).
    live = (RegisteredModel.archived_at.is_(None), _in_scope(ModelRisk.team_id, visible))
    band_rows = session.execute(
        select(ModelRisk.band, func.count())
        .join(RegisteredModel, RegisteredModel.id == ModelRisk.model_id)
        .where(*live)
        .group_by(ModelRisk.band)
    )
    by_band = dict.fromkeys(BANDS, 0) | {band: n for band, n in band_rows}  # noqa: C416
    riskiest = [
        RiskyModel(
            model_id=model_id,
            model_name=name,
            team_id=team_id,
            version=number,
            score=score,
            band=band,
            main_driver=driver,
        )
        for model_id, name, team_id, number, score, band, driver in session.execute(
            select(
                ModelRisk.model_id,
                RegisteredModel.name,
                RegisteredModel.team_id,
                ModelVersion.number,
                ModelRisk.score,
                ModelRisk.band,
                ModelRisk.main_driver,
            )
            .join(RegisteredModel, RegisteredModel.id == ModelRisk.model_id)
            .join(ModelVersion, ModelVersion.id == ModelRisk.version_id)
            .where(*live)
            .order_by(ModelRisk.score.desc(), ModelRisk.model_id)
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
    trend = [
        RiskTrendPoint(day=str(day), mean_score=float(total) / count, scores=count)
        for day, total, count in session.execute(
            select(RiskTrend.day, func.sum(RiskTrend.score_sum), func.sum(RiskTrend.scores))
            .where(RiskTrend.day >= since.date(), _in_scope(RiskTrend.team_id, visible))
            .group_by(RiskTrend.day)
            .order_by(RiskTrend.day)
        )
    ]
    return GovernanceSection(
        models_by_band=by_band,
        riskiest=riskiest,
        deployments_last_30_days=deployments,
        pending_approvals=pending_total,
        oldest_pending=pending,
        risk_trend=trend,
        overdue_reviews=reviews_due.count_overdue(session, visible=visible, now=now),
    )
