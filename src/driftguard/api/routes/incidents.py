"""Incidents of model versions (EU AI Act Art. 73): record, report, close, the timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from driftguard.api.deps import require
from driftguard.http.deps import DbSession, SettingsDep
from driftguard.http.params import IdQuery, LimitQuery, ObjectId, OffsetQuery
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle import incidents
from driftguard.lifecycle.incident_schemas import (
    IncidentClose,
    IncidentCreate,
    IncidentEntryCreate,
    IncidentEntryRead,
    IncidentRead,
    IncidentReport,
    IncidentStatus,
)
from driftguard.schemas import Page

router = APIRouter(prefix="/incidents", tags=["incidents"])
Reader = Annotated[Principal, require(Permission.MODELS_READ)]
Writer = Annotated[Principal, require(Permission.INCIDENTS_WRITE)]
IncidentId = ObjectId


@router.post("", status_code=201)
def create_incident(
    body: IncidentCreate, session: DbSession, settings: SettingsDep, principal: Writer
) -> IncidentRead:
    """Record an incident of a model version; a serious one gets its reporting deadline."""
    return incidents.create(
        session,
        principal=principal,
        data=body,
        deadline_days=settings.incident_deadline_days(),
    )


@router.get("")
def list_incidents(
    session: DbSession,
    principal: Reader,
    status: Annotated[list[IncidentStatus] | None, Query(max_length=3)] = None,
    serious: bool | None = None,
    late: Annotated[
        bool | None,
        Query(description="true: not reported and past the deadline, or reported after it"),
    ] = None,
    model_id: IdQuery = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[IncidentRead]:
    """Incidents of the caller's teams, the most recently known first."""
    return incidents.list_incidents(
        session,
        principal=principal,
        statuses=status,
        serious=serious,
        late_only=late,
        model_id=model_id,
        limit=limit,
        offset=offset,
    )


@router.get("/{incident_id}")
def read_incident(incident_id: IncidentId, session: DbSession, principal: Reader) -> IncidentRead:
    return incidents.read(session, principal=principal, incident_id=incident_id)


@router.post("/{incident_id}/report")
def report_incident(
    incident_id: IncidentId, body: IncidentReport, session: DbSession, principal: Writer
) -> IncidentRead:
    """Record the report to the authority: ``open → reported``."""
    return incidents.report(session, principal=principal, incident_id=incident_id, data=body)


@router.post("/{incident_id}/close")
def close_incident(
    incident_id: IncidentId, body: IncidentClose, session: DbSession, principal: Writer
) -> IncidentRead:
    """``reported → closed``, or ``open → closed`` for an incident that is not serious."""
    return incidents.close(
        session, principal=principal, incident_id=incident_id, resolution=body.resolution
    )


@router.get("/{incident_id}/timeline")
def incident_timeline(
    incident_id: IncidentId,
    session: DbSession,
    principal: Reader,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> Page[IncidentEntryRead]:
    """The append-only timeline, oldest entry first."""
    return incidents.timeline(
        session, principal=principal, incident_id=incident_id, limit=limit, offset=offset
    )


@router.post("/{incident_id}/timeline", status_code=201)
def add_timeline_entry(
    incident_id: IncidentId, body: IncidentEntryCreate, session: DbSession, principal: Writer
) -> IncidentEntryRead:
    """Append an entry; entries are never edited or deleted."""
    return incidents.add_entry(session, principal=principal, incident_id=incident_id, data=body)
