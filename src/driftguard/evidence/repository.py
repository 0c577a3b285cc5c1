"""The evidence pack's own queries over the records of the packages below. Callers have already
resolved (and so authorised) the model version or the team."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import ColumnElement, Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from driftguard.audit.orm import AuditRecord
from driftguard.governance.orm import Alert, Deployment, DeploymentEvent, RiskScore
from driftguard.ingest.orm import ReferenceDataset
from driftguard.monitoring.orm import MonitoringReport, MonitoringRun
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.webhooks.orm import WebhookEndpoint


def report_count(session: Session, *, version_id: int, kind: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(MonitoringReport)
            .where(MonitoringReport.version_id == version_id, MonitoringReport.kind == kind)
        )
        or 0
    )


def version_deployments(
    session: Session, *, version_id: int, limit: int
) -> tuple[Sequence[Deployment], int]:
    """The version's newest ``limit`` deployment requests, oldest first, and how many it has."""
    where = Deployment.version_id == version_id
    total = session.scalar(select(func.count()).select_from(Deployment).where(where)) or 0
    rows = session.scalars(
        select(Deployment)
        .where(where)
        .order_by(Deployment.created_at.desc(), Deployment.id.desc())
        .limit(limit)
    ).all()
    return rows[::-1], total


def deployment_events(session: Session, deployment_ids: Sequence[int]) -> Sequence[DeploymentEvent]:
    if not deployment_ids:
        return []
    return session.scalars(
        select(DeploymentEvent)
        .where(DeploymentEvent.deployment_id.in_(deployment_ids))
        .order_by(DeploymentEvent.deployment_id, DeploymentEvent.id)
    ).all()


def _named(object_type: str, ids: Select[int]) -> ColumnElement[bool]:
    """Audit records naming an object of ``object_type`` among ``ids`` (object ids are text)."""
    listed = ids.subquery()
    text_ids = select(cast(next(iter(listed.c)), String))
    return and_(AuditRecord.object_type == object_type, AuditRecord.object_id.in_(text_ids))


def version_targets(model_id: int, version_id: int) -> ColumnElement[bool]:
    """The audit records of a version: the version itself (edits, predictions logged), its model
    (registration, tiering, archive), its deployment requests, monitoring runs, references and
    alerts."""
    return or_(
        and_(AuditRecord.object_type == "model", AuditRecord.object_id == str(model_id)),
        and_(AuditRecord.object_type == "model_version", AuditRecord.object_id == str(version_id)),
        _named("deployment", select(Deployment.id).where(Deployment.version_id == version_id)),
        _named(
            "monitoring_run", select(MonitoringRun.id).where(MonitoringRun.version_id == version_id)
        ),
        _named(
            "reference_dataset",
            select(ReferenceDataset.id).where(ReferenceDataset.version_id == version_id),
        ),
        _named("alert", select(Alert.id).where(Alert.version_id == version_id)),
    )


def team_targets(team_id: int) -> ColumnElement[bool]:
    """The audit records of a team's objects: the team, its models and their versions,
    deployment requests, monitoring runs, references, alerts and webhooks."""
    versions = (
        select(ModelVersion.id)
        .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
        .where(RegisteredModel.team_id == team_id)
    )
    return or_(
        and_(AuditRecord.object_type == "team", AuditRecord.object_id == str(team_id)),
        _named("model", select(RegisteredModel.id).where(RegisteredModel.team_id == team_id)),
        _named("model_version", versions),
        _named("deployment", select(Deployment.id).where(Deployment.team_id == team_id)),
        _named(
            "monitoring_run", select(MonitoringRun.id).where(MonitoringRun.version_id.in_(versions))
        ),
        _named(
            "reference_dataset",
            select(ReferenceDataset.id).where(ReferenceDataset.version_id.in_(versions)),
        ),
        _named("alert", select(Alert.id).where(Alert.team_id == team_id)),
        _named("webhook", select(WebhookEndpoint.id).where(WebhookEndpoint.team_id == team_id)),
    )


def audit_records(
    session: Session, *, targets: ColumnElement[bool], through_seq: int | None, limit: int
) -> tuple[Sequence[AuditRecord], int]:
    """The newest ``limit`` change records matching ``targets`` up to ``through_seq`` (the chain
    head read first, so the pack and its manifest agree), newest first, and how many there are."""
    if through_seq is None:
        return [], 0
    where = and_(AuditRecord.kind == "change", AuditRecord.seq <= through_seq, targets)
    total = session.scalar(select(func.count()).select_from(AuditRecord).where(where)) or 0
    rows = session.scalars(
        select(AuditRecord).where(where).order_by(AuditRecord.seq.desc()).limit(limit)
    ).all()
    return rows, total


def audit_batches(
    session: Session, *, targets: ColumnElement[bool], batch: int = 1000
) -> Iterator[Sequence[AuditRecord]]:
    """Every change record matching ``targets``, oldest first, in keyset batches."""
    after = 0
    while True:
        rows = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.kind == "change", AuditRecord.seq > after, targets)
            .order_by(AuditRecord.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].seq
        session.expunge_all()


def inventory_batches(
    session: Session, *, team_id: int, batch: int = 1000
) -> Iterator[Sequence[tuple[RegisteredModel, ModelVersion | None]]]:
    """The team's live (not archived) models with each of their versions, by model id and
    version number, in keyset batches; a model without versions comes once with None."""
    after: tuple[int, int] = (0, 0)
    number = func.coalesce(ModelVersion.number, 0)
    while True:
        rows = session.execute(
            select(RegisteredModel, ModelVersion)
            .outerjoin(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
            .where(
                RegisteredModel.team_id == team_id,
                RegisteredModel.archived_at.is_(None),
                or_(
                    RegisteredModel.id > after[0],
                    and_(RegisteredModel.id == after[0], number > after[1]),
                ),
            )
            .order_by(RegisteredModel.id, number)
            .limit(batch)
        ).all()
        if not rows:
            return
        pairs = [(model, version) for model, version in rows]
        yield pairs
        last_model, last_version = pairs[-1]
        after = (last_model.id, last_version.number if last_version is not None else 0)
        session.expunge_all()


def alert_batches(
    session: Session, *, team_id: int, batch: int = 1000
) -> Iterator[Sequence[Alert]]:
    after = 0
    while True:
        rows = session.scalars(
            select(Alert)
            .where(Alert.team_id == team_id, Alert.id > after)
            .order_by(Alert.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield rows
        after = rows[-1].id
        session.expunge_all()


def latest_bands(session: Session, version_ids: Sequence[int]) -> dict[int, tuple[float, str]]:
    """Each version's newest stored MRI (score, band); versions never scored are absent."""
    if not version_ids:
        return {}
    ranked = (
        select(
            RiskScore.version_id,
            RiskScore.score,
            RiskScore.band,
            func.row_number()
            .over(
                partition_by=RiskScore.version_id,
                order_by=(RiskScore.computed_at.desc(), RiskScore.id.desc()),
            )
            .label("rank"),
        )
        .where(RiskScore.version_id.in_(version_ids))
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.version_id, ranked.c.score, ranked.c.band).where(ranked.c.rank == 1)
    )
    return {version_id: (score, band) for version_id, score, band in rows}
