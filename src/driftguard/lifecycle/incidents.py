"""Incidents of model versions and their reporting deadlines (EU AI Act Art. 72 and 73).

    open ──► reported ──► closed        a serious incident is reported to its authority
      └──────────────────► closed        before it closes; a non-serious one may close at once

A serious incident carries its Art. 73 category; the deadline to report it runs from when the
provider became aware of it, by the category's days (settings
``DRIFTGUARD_INCIDENT_DEADLINE_DAYS_*``), and is stored when the incident is recorded. An
incident is *late* while it is not reported and past its deadline, and for good once it was
reported after it. :func:`late` lists the unreported late ones for the maintenance job that
announces each once (``governance/incident_alerts.py``).

Every transition is a conditional update on the incident's ``revision`` (as deployments do), so
of twenty concurrent reports or closes one takes effect and the others get a conflict. Each
transition appends to the incident's timeline, which is append-only, and is audited.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    func,
    literal,
    not_,
    select,
    table,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import TableClause

from driftguard.audit import service as audit
from driftguard.audit.schemas import SYSTEM
from driftguard.db.base import UTCDateTime, utcnow
from driftguard.errors import ConflictError, ErrorDetail, InvalidError, NotFoundError
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle.incident_schemas import (
    IncidentCreate,
    IncidentEntryCreate,
    IncidentEntryRead,
    IncidentRead,
    IncidentReport,
)
from driftguard.lifecycle.orm import Incident, IncidentAlert, IncidentDeployment, IncidentEntry
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion
from driftguard.schemas import Page

# Alerts and deployments are governance's tables, and governance sits above this package: the
# links are checked against the two columns they need, named here, without importing it.
_ALERTS = table("alerts", column("id"), column("version_id"))
_DEPLOYMENTS = table("deployments", column("id"), column("version_id"))


def create(
    session: Session,
    *,
    principal: Principal,
    data: IncidentCreate,
    deadline_days: Mapping[str, int],
    now: datetime | None = None,
) -> IncidentRead:
    """Record an incident of a version the caller may see, with its deadline when serious."""
    now = now or utcnow()
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=data.model_id, number=data.version
    )
    principal.require_in_team(Permission.INCIDENTS_WRITE, model.team_id)
    _check_input(data, now)
    alert_ids = _linked(session, _ALERTS, data.alert_ids, version, "alert_ids", "alert")
    deployment_ids = _linked(
        session, _DEPLOYMENTS, data.deployment_ids, version, "deployment_ids", "deployment"
    )
    deadline = None
    if data.serious:
        assert data.category is not None  # _check_input
        deadline = data.became_aware_at + timedelta(days=deadline_days[data.category])
    incident = Incident(
        team_id=model.team_id,
        model_id=model.id,
        version_id=version.id,
        title=data.title,
        description=data.description,
        severity=data.severity,
        serious=data.serious,
        category=data.category,
        status="open",
        revision=1,
        occurred_at=data.occurred_at,
        became_aware_at=data.became_aware_at,
        reporting_deadline=deadline,
        created_by_id=principal.user_id,
        created_by_api_key_id=principal.api_key_id,
        created_at=now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    session.add_all(IncidentAlert(incident_id=incident.id, alert_id=i) for i in alert_ids)
    session.add_all(
        IncidentDeployment(incident_id=incident.id, deployment_id=i) for i in deployment_ids
    )
    what = f"{data.severity} incident recorded"
    if deadline is not None:
        what += f"; serious ({data.category}), report due by {deadline.isoformat()}"
    _append(session, incident, principal, "created", what, None, "open")
    read = to_read(session, incident, now=now)
    audit.record(
        session,
        actor=principal,
        action="incident.create",
        object_type="incident",
        object_id=incident.id,
        after=_audited(read),
    )
    return read


def _check_input(data: IncidentCreate, now: datetime) -> None:
    problems: list[ErrorDetail] = []
    if data.serious and data.category is None:
        problems.append(ErrorDetail("category", "a serious incident needs its Art. 73 category"))
    if not data.serious and data.category is not None:
        problems.append(ErrorDetail("category", "only a serious incident has a category"))
    if data.occurred_at > now:
        problems.append(ErrorDetail("occurred_at", "is in the future"))
    if data.became_aware_at > now:
        problems.append(ErrorDetail("became_aware_at", "is in the future"))
    elif data.became_aware_at < data.occurred_at:
        problems.append(ErrorDetail("became_aware_at", "is before occurred_at"))
    if problems:
        first = problems[0]
        raise InvalidError(f"{first.loc}: {first.msg}", details=problems)


def _linked(
    session: Session,
    target: TableClause,
    ids: Sequence[int],
    version: ModelVersion,
    field: str,
    noun: str,
) -> list[int]:
    """The distinct ``ids``, each checked to be an alert (deployment) of ``version``; one of
    another version or team is named as not belonging to it."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = set(
        session.scalars(
            select(target.c.id).where(target.c.id.in_(wanted), target.c.version_id == version.id)
        )
    )
    foreign = [i for i in wanted if i not in found]
    if foreign:
        names = ", ".join(str(i) for i in foreign)
        raise InvalidError(
            f"{field}: {noun} {names} is not of this model version",
            details=[ErrorDetail(field, f"not a {noun} of this model version: {names}")],
        )
    return wanted


def report(
    session: Session,
    *,
    principal: Principal,
    incident_id: int,
    data: IncidentReport,
    now: datetime | None = None,
) -> IncidentRead:
    """Record the report to the authority (its reference, when it was sent)."""
    now = now or utcnow()
    incident = _writable(session, principal, incident_id)
    _require_status(incident, ("open",), "reported")
    reported_at = data.reported_at or now
    if reported_at > now:
        raise InvalidError(
            "reported_at: is in the future", details=[ErrorDetail("reported_at", "in the future")]
        )
    if reported_at < incident.became_aware_at:
        raise InvalidError(
            "reported_at: is before became_aware_at",
            details=[ErrorDetail("reported_at", "before the incident became known")],
        )
    before = _snapshot(incident)
    _claim(session, incident)
    incident.reported_at, incident.authority_reference = reported_at, data.authority_reference
    why = f"reported to the authority: {data.authority_reference}"
    if incident.reporting_deadline is not None and reported_at > incident.reporting_deadline:
        why += f" (after the deadline of {incident.reporting_deadline.isoformat()})"
    _move(session, principal, incident, "reported", why, now)
    return _finish(session, principal, incident, "incident.report", before, now)


def close(
    session: Session,
    *,
    principal: Principal,
    incident_id: int,
    resolution: str,
    now: datetime | None = None,
) -> IncidentRead:
    """Close an incident: a serious one once reported, a non-serious one at any time."""
    now = now or utcnow()
    incident = _writable(session, principal, incident_id)
    if incident.serious and incident.status == "open":
        raise ConflictError(
            f"incident {incident.id} is open and serious: it moves from open to closed only "
            "after it is reported",
            code="invalid_transition",
        )
    _require_status(incident, ("open", "reported"), "closed")
    before = _snapshot(incident)
    _claim(session, incident)
    incident.closed_at, incident.resolution = now, resolution
    _move(session, principal, incident, "closed", resolution, now)
    return _finish(session, principal, incident, "incident.close", before, now)


def add_entry(
    session: Session, *, principal: Principal, incident_id: int, data: IncidentEntryCreate
) -> IncidentEntryRead:
    """Append an entry to the timeline of an incident that is not closed (under the incident's
    row lock, so no entry lands after a concurrent close's)."""
    incident = _writable(session, principal, incident_id)
    if incident.status == "closed":
        raise ConflictError(
            f"incident {incident.id} is closed; its timeline takes no more entries",
            code="incident_closed",
        )
    entry = _append(session, incident, principal, data.kind, data.text, None, None)
    audit.record(
        session,
        actor=principal,
        action="incident.timeline",
        object_type="incident",
        object_id=incident.id,
        after={"entry_id": entry.id, "kind": entry.kind},
    )
    return IncidentEntryRead.model_validate(entry)


# --- late incidents ---------------------------------------------------------------------------


def late_clause(now: datetime) -> ColumnElement[bool]:
    """Late: a deadline, and the report (or, until there is one, ``now``) after it. Exactly
    at the deadline is in time. Never NULL, so its negation is the incidents in time."""
    reported_or_now = func.coalesce(Incident.reported_at, literal(now, UTCDateTime()))
    return and_(
        Incident.reporting_deadline.is_not(None), reported_or_now > Incident.reporting_deadline
    )


def is_late(incident: Incident, now: datetime) -> bool:
    deadline = incident.reporting_deadline
    return deadline is not None and (incident.reported_at or now) > deadline


def late(session: Session, now: datetime) -> list[Incident]:
    """Every team's serious incidents still not reported at ``now`` and past their deadline,
    the most overdue first (for the job that announces them; no caller's scope)."""
    return list(
        session.scalars(
            select(Incident)
            .where(
                Incident.status == "open",
                Incident.reported_at.is_(None),
                Incident.reporting_deadline < literal(now, UTCDateTime()),
            )
            .order_by(Incident.reporting_deadline, Incident.id)
        )
    )


def mark_late(session: Session, incident: Incident, now: datetime) -> bool:
    """Take the announcement of this late incident for this transaction: True once per
    incident, whatever the number of processes trying at once; the timeline says so."""
    claimed = session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.late_notified_at.is_(None))
        .values(late_notified_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        return False
    session.refresh(incident)
    assert incident.reporting_deadline is not None
    text = f"reporting deadline {incident.reporting_deadline.isoformat()} passed; not reported"
    _append(session, incident, None, "deadline_missed", text, None, None)
    audit.record(
        session,
        actor=SYSTEM,
        action="incident.late",
        object_type="incident",
        object_id=incident.id,
        after={"deadline": incident.reporting_deadline, "status": incident.status},
    )
    return True


# --- transitions ------------------------------------------------------------------------------


def _claim(session: Session, incident: Incident) -> None:
    """Take the incident for this transaction, or fail if another one changed it since read."""
    claimed = session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.revision == incident.revision)
        .values(revision=incident.revision + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        raise ConflictError(
            f"incident {incident.id} was changed by another request; reload and retry",
            code="concurrent_change",
        )
    session.refresh(incident)


def _require_status(incident: Incident, allowed: Collection[str], target: str) -> None:
    if incident.status not in allowed:
        raise ConflictError(
            f"incident {incident.id} is {incident.status}; it cannot move from "
            f"{incident.status} to {target}",
            code="invalid_transition",
        )


def _move(
    session: Session,
    principal: Principal,
    incident: Incident,
    to: str,
    why: str,
    now: datetime,
) -> None:
    source = incident.status
    incident.status, incident.updated_at = to, now
    session.flush()
    _append(session, incident, principal, to, why, source, to)


def _append(
    session: Session,
    incident: Incident,
    principal: Principal | None,
    kind: str,
    text: str,
    source: str | None,
    target: str | None,
) -> IncidentEntry:
    entry = IncidentEntry(
        incident_id=incident.id,
        kind=kind,
        text=text,
        from_status=source,
        to_status=target,
        author_user_id=principal.user_id if principal else None,
        author_api_key_id=principal.api_key_id if principal else None,
        created_at=utcnow(),
    )
    session.add(entry)
    session.flush()
    return entry


def _snapshot(incident: Incident) -> dict[str, Any]:
    return {"status": incident.status, "revision": incident.revision}


def _audited(read: IncidentRead) -> dict[str, Any]:
    return {
        "status": read.status,
        "revision": read.revision,
        "version_id": read.version_id,
        "severity": read.severity,
        "serious": read.serious,
        "category": read.category,
        "reporting_deadline": read.reporting_deadline,
        "reported_at": read.reported_at,
        "authority_reference": read.authority_reference,
    }


def _finish(
    session: Session,
    principal: Principal,
    incident: Incident,
    action: str,
    before: dict[str, Any],
    now: datetime,
) -> IncidentRead:
    read = to_read(session, incident, now=now)
    audit.record(
        session,
        actor=principal,
        action=action,
        object_type="incident",
        object_id=incident.id,
        before=before,
        after=_audited(read),
    )
    return read


# --- reading ----------------------------------------------------------------------------------


def _visible(
    session: Session, principal: Principal, incident_id: int, *, lock: bool = False
) -> Incident:
    """The incident if the caller may see it. ``lock`` (every transition) takes its row lock
    on PostgreSQL, so concurrent callers queue and then see the state the winner left."""
    incident = session.get(
        Incident, incident_id, with_for_update=lock or None, populate_existing=lock
    )
    teams = principal.teams_with(Permission.MODELS_READ)
    if incident is None or (teams is not None and incident.team_id not in teams):
        raise NotFoundError(f"incident {incident_id} not found")
    return incident


def _writable(session: Session, principal: Principal, incident_id: int) -> Incident:
    incident = _visible(session, principal, incident_id, lock=True)
    principal.require_in_team(Permission.INCIDENTS_WRITE, incident.team_id)
    return incident


def to_read(session: Session, incident: Incident, *, now: datetime | None = None) -> IncidentRead:
    return _reads(session, [incident], now or utcnow())[0]


def _reads(session: Session, incidents: list[Incident], now: datetime) -> list[IncidentRead]:
    ids = [i.id for i in incidents]
    alerts: dict[int, list[int]] = {}
    deployments: dict[int, list[int]] = {}
    numbers: dict[int, int] = {}
    if ids:
        for incident_id, alert_id in session.execute(
            select(IncidentAlert.incident_id, IncidentAlert.alert_id)
            .where(IncidentAlert.incident_id.in_(ids))
            .order_by(IncidentAlert.alert_id)
        ):
            alerts.setdefault(incident_id, []).append(alert_id)
        for incident_id, deployment_id in session.execute(
            select(IncidentDeployment.incident_id, IncidentDeployment.deployment_id)
            .where(IncidentDeployment.incident_id.in_(ids))
            .order_by(IncidentDeployment.deployment_id)
        ):
            deployments.setdefault(incident_id, []).append(deployment_id)
        version_ids = {i.version_id for i in incidents}
        numbers.update(
            (version_id, number)
            for version_id, number in session.execute(
                select(ModelVersion.id, ModelVersion.number).where(ModelVersion.id.in_(version_ids))
            )
        )
    return [
        IncidentRead.model_validate(
            {
                **{name: getattr(i, name) for name in _COLUMNS},
                "version": numbers[i.version_id],
                "late": is_late(i, now),
                "alert_ids": alerts.get(i.id, []),
                "deployment_ids": deployments.get(i.id, []),
            }
        )
        for i in incidents
    ]


_COMPUTED = {"version", "late", "alert_ids", "deployment_ids"}
_COLUMNS = tuple(name for name in IncidentRead.model_fields if name not in _COMPUTED)


def read(session: Session, *, principal: Principal, incident_id: int) -> IncidentRead:
    return to_read(session, _visible(session, principal, incident_id))


def _scoped(principal: Principal) -> Select[Incident]:
    query = select(Incident)
    teams = principal.teams_with(Permission.MODELS_READ)
    return query if teams is None else query.where(Incident.team_id.in_(teams))


def list_incidents(
    session: Session,
    *,
    principal: Principal,
    statuses: Collection[str] | None,
    serious: bool | None,
    late_only: bool | None,
    model_id: int | None,
    limit: int,
    offset: int,
    now: datetime | None = None,
) -> Page[IncidentRead]:
    """Incidents of the caller's teams, newest awareness first; ``late_only`` True keeps the
    late ones, False those in time."""
    now = now or utcnow()
    query = _scoped(principal)
    if statuses:
        query = query.where(Incident.status.in_(list(statuses)))
    if serious is not None:
        query = query.where(Incident.serious == serious)
    if late_only is not None:
        clause = late_clause(now)
        query = query.where(clause if late_only else not_(clause))
    if model_id is not None:
        query = query.where(Incident.model_id == model_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(
        session.scalars(
            query.order_by(Incident.became_aware_at.desc(), Incident.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    return Page(items=_reads(session, rows, now), total=total, limit=limit, offset=offset)


def timeline(
    session: Session, *, principal: Principal, incident_id: int, limit: int, offset: int
) -> Page[IncidentEntryRead]:
    """The incident's entries in the order they were written."""
    incident = _visible(session, principal, incident_id)
    query = select(IncidentEntry).where(IncidentEntry.incident_id == incident.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(IncidentEntry.id).limit(limit).offset(offset)).all()
    return Page(
        items=[IncidentEntryRead.model_validate(e) for e in rows],
        total=total,
        limit=limit,
        offset=offset,
    )
