"""Aggregate reads for the dashboard. Every query takes the visible team ids into its WHERE."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, case, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from driftguard.dashboard.schemas import FairnessFinding, RecentRun, TeamStageCount
from driftguard.governance.orm import Alert
from driftguard.identity.orm import Team
from driftguard.monitoring.orm import MonitoringRun
from driftguard.registry.orm import ModelVersion, RegisteredModel, Stage

Visible = frozenset[int] | None  # None: every team
ACTIVE = ("open", "acknowledged")
STAGE_BY_RANK = {0: Stage.NONE.value, 1: Stage.STAGING.value, 2: Stage.PRODUCTION.value}


def _in_scope(column: InstrumentedAttribute[int], visible: Visible) -> ColumnElement[bool]:
    return true() if visible is None else column.in_(visible)


def models_by_team_and_stage(session: Session, *, visible: Visible) -> list[TeamStageCount]:
    """Live models counted by team and by the most advanced stage any version has reached."""
    rank = case(
        (ModelVersion.stage == Stage.PRODUCTION, 2),
        (ModelVersion.stage == Stage.STAGING, 1),
        else_=0,
    )
    # Per live model in scope, the most advanced stage of its live versions (0 without any).
    per_model = (
        select(
            RegisteredModel.team_id,
            func.coalesce(func.max(rank), 0).label("rank"),
        )
        .outerjoin(
            ModelVersion,
            (ModelVersion.model_id == RegisteredModel.id) & (ModelVersion.stage != Stage.ARCHIVED),
        )
        .where(RegisteredModel.archived_at.is_(None), _in_scope(RegisteredModel.team_id, visible))
        .group_by(RegisteredModel.id, RegisteredModel.team_id)
        .subquery()
    )
    query = (
        select(Team.id, Team.name, per_model.c.rank, func.count())
        .join(per_model, per_model.c.team_id == Team.id)
        .group_by(Team.id, Team.name, per_model.c.rank)
        .order_by(Team.name, per_model.c.rank)
    )
    rows = session.execute(query)
    return [
        TeamStageCount(
            team_id=r[0],
            team_name=r[1],
            stage=STAGE_BY_RANK.get(int(r[2]), Stage.NONE.value),
            models=r[3],
        )
        for r in rows
    ]


def active_alert_counts(session: Session, *, visible: Visible) -> list[tuple[str, str, int]]:
    """(severity, status, count) of the active alerts."""
    query = (
        select(Alert.severity, Alert.status, func.count())
        .where(Alert.status.in_(ACTIVE))
        .group_by(Alert.severity, Alert.status)
    )
    rows = session.execute(query.where(_in_scope(Alert.team_id, visible)))
    return [(r[0], r[1], r[2]) for r in rows]


def fairness_findings(session: Session, *, visible: Visible, limit: int) -> list[FairnessFinding]:
    """Active alerts on fairness facts, critical first, newest first."""
    severity_rank = case((Alert.severity == "critical", 0), else_=1)
    query = (
        select(Alert, RegisteredModel.name)
        .join(RegisteredModel, RegisteredModel.id == Alert.model_id)
        .where(Alert.status.in_(ACTIVE), Alert.fact.like("fairness.%"))
        .order_by(severity_rank, Alert.opened_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    rows = session.execute(query.where(_in_scope(Alert.team_id, visible)))
    return [
        FairnessFinding(
            alert_id=a.id,
            model_id=a.model_id,
            model_name=name,
            team_id=a.team_id,
            attribute=a.subject,
            fact=a.fact,
            severity=a.severity,
            status=a.status,
            observed=a.observed,
            operator=a.operator,
            threshold=a.threshold,
            opened_at=a.opened_at,
        )
        for a, name in rows
    ]


def recent_runs(session: Session, *, visible: Visible, limit: int) -> Sequence[RecentRun]:
    """The newest monitoring runs of models in scope, with their model's id and name."""
    query = (
        select(MonitoringRun, ModelVersion.number, RegisteredModel.id, RegisteredModel.name)
        .join(ModelVersion, ModelVersion.id == MonitoringRun.version_id)
        .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
        .order_by(MonitoringRun.created_at.desc(), MonitoringRun.id.desc())
        .limit(limit)
    )
    rows = session.execute(query.where(_in_scope(RegisteredModel.team_id, visible)))
    return [
        RecentRun(
            run_id=run.id,
            model_id=model_id,
            model_name=name,
            version_number=number,
            window_start=run.window_start,
            window_end=run.window_end,
            trigger=run.trigger,
            status=run.status,
            n_predictions=run.n_predictions,
            created_at=run.created_at,
        )
        for run, number, model_id, name in rows
    ]
