"""Alerts: the monitoring policy's findings for a run, kept as open → acknowledged → resolved,
one active alert per version, rule and subject."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.db.base import utcnow
from driftguard.errors import ConflictError, NotFoundError
from driftguard.governance.alert_events import ESCALATED, OPENED, RESOLVED, announce, escalated
from driftguard.governance.orm import Alert
from driftguard.governance.schemas import AlertRead
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.monitoring.orm import MonitoringRun
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.rules import Facts, Finding, MonitoringPolicy, evaluate_monitoring
from driftguard.schemas import Page

ACTIVE = ("open", "acknowledged")


def is_latest_window(session: Session, run: MonitoringRun) -> bool:
    """Only the newest window moves alerts; re-running an old window changes nothing."""
    newest = session.scalar(
        select(func.max(MonitoringRun.window_end)).where(
            MonitoringRun.version_id == run.version_id,
            MonitoringRun.id != run.id,
            MonitoringRun.status == "completed",
        )
    )
    return newest is None or run.window_end >= newest


def apply_findings(
    session: Session,
    *,
    model: RegisteredModel,
    version: ModelVersion,
    run: MonitoringRun,
    facts: Facts,
    policy: MonitoringPolicy,
) -> None:
    """Open or refresh an alert per finding; resolve active alerts whose condition cleared.

    An active alert whose rule the policy no longer has, or whose subject was not measured in
    this window, is left as it is: only a measurement that clears the condition resolves it.
    """
    findings = {(f.rule, f.subject): f for f in evaluate_monitoring(policy, facts)}
    measured = {
        (r.name, s)
        for r in policy.rules
        for s, v in facts.subjects(r.fact).items()
        if v is not None
    }
    active = session.scalars(
        select(Alert).where(Alert.version_id == version.id, Alert.status.in_(ACTIVE))
    ).all()
    now = utcnow()
    changes: list[tuple[str, Alert]] = []
    for alert in active:
        key = (alert.rule, alert.subject)
        if key in findings:
            before = alert.severity
            _refresh(alert, findings.pop(key), run, now)
            if escalated(before, alert.severity):
                changes.append((ESCALATED, alert))
        elif key in measured:
            alert.status, alert.resolved_at = "resolved", now
            alert.resolution = (
                f"condition cleared in the window ending {run.window_end.isoformat()}"
            )
            changes.append((RESOLVED, alert))
    for finding in findings.values():
        alert = Alert(
            team_id=model.team_id,
            model_id=model.id,
            version_id=version.id,
            rule=finding.rule,
            subject=finding.subject,
            fact=finding.fact,
            status="open",
            opened_at=now,
        )
        _refresh(alert, finding, run, now)
        session.add(alert)
        changes.append((OPENED, alert))
    session.flush()
    announce(session, changes, model_name=model.name, version_number=version.number)


def _refresh(alert: Alert, finding: Finding, run: MonitoringRun, now: datetime) -> None:
    alert.severity, alert.observed = finding.severity, finding.observed
    alert.operator, alert.threshold = finding.op, finding.threshold
    alert.message = f"{finding.subject}: {finding.message}"
    alert.run_id, alert.window_end, alert.last_seen_at = run.id, run.window_end, now


def _visible(principal: Principal) -> Select[Alert]:
    query = select(Alert)
    teams = principal.teams_with(Permission.MODELS_READ)
    return query if teams is None else query.where(Alert.team_id.in_(teams))


def list_alerts(
    session: Session,
    *,
    principal: Principal,
    statuses: Iterable[str],
    model_id: int | None,
    severity: str | None,
    limit: int,
    offset: int,
) -> Page[AlertRead]:
    query = _visible(principal).where(Alert.status.in_(list(statuses)))
    if model_id is not None:
        query = query.where(Alert.model_id == model_id)
    if severity is not None:
        query = query.where(Alert.severity == severity)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
    ).all()
    return Page(
        items=[AlertRead.model_validate(a) for a in rows], total=total, limit=limit, offset=offset
    )


def _alert(session: Session, principal: Principal, alert_id: int) -> Alert:
    alert = session.scalar(_visible(principal).where(Alert.id == alert_id))
    if alert is None:
        raise NotFoundError(f"alert {alert_id} not found")
    principal.require_in_team(Permission.ALERTS_MANAGE, alert.team_id)
    return alert


def acknowledge(session: Session, *, principal: Principal, alert_id: int) -> AlertRead:
    alert = _alert(session, principal, alert_id)
    if alert.status != "open":
        raise ConflictError(f"alert {alert_id} is {alert.status}, not open", code="alert_not_open")
    alert.status, alert.acknowledged_at = "acknowledged", utcnow()
    alert.acknowledged_by_id = principal.user_id
    session.flush()
    read = AlertRead.model_validate(alert)
    audit.record(
        session,
        actor=principal,
        action="alert.acknowledge",
        object_type="alert",
        object_id=alert.id,
        before={"status": "open"},
        after={"status": read.status},
    )
    return read


def resolve(session: Session, *, principal: Principal, alert_id: int, comment: str) -> AlertRead:
    alert = _alert(session, principal, alert_id)
    if alert.status == "resolved":
        raise ConflictError(f"alert {alert_id} is already resolved", code="alert_resolved")
    before = {"status": alert.status}
    alert.status, alert.resolved_at = "resolved", utcnow()
    alert.resolved_by_id, alert.resolution = principal.user_id, comment or "resolved by hand"
    session.flush()
    model = session.get(RegisteredModel, alert.model_id)
    version = session.get(ModelVersion, alert.version_id)
    assert model is not None  # alerts cascade with their model and version
    assert version is not None
    announce(session, [(RESOLVED, alert)], model_name=model.name, version_number=version.number)
    read = AlertRead.model_validate(alert)
    after = {"status": read.status, "resolution": read.resolution}
    audit.record(
        session,
        actor=principal,
        action="alert.resolve",
        object_type="alert",
        object_id=alert.id,
        before=before,
        after=after,
    )
    return read
