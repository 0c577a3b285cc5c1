from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from driftguard.api.deps import require
from driftguard.governance import alerts
from driftguard.governance.schemas import AlertRead, AlertResolve
from driftguard.http.deps import DbSession
from driftguard.http.params import IdQuery, LimitQuery, ObjectId, OffsetQuery
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.schemas import Page

router = APIRouter(prefix="/alerts", tags=["alerts"])
AlertId = ObjectId
Manager = Annotated[Principal, require(Permission.ALERTS_MANAGE)]


@router.get("")
def list_alerts(
    session: DbSession,
    principal: Annotated[Principal, require(Permission.MODELS_READ)],
    status: Annotated[
        list[Literal["open", "acknowledged", "resolved"]] | None,
        Query(max_length=3, description="default: open and acknowledged"),
    ] = None,
    model_id: IdQuery = None,
    severity: Literal["warning", "critical"] | None = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[AlertRead]:
    """Alerts of the models the caller may see, newest first."""
    return alerts.list_alerts(
        session,
        principal=principal,
        statuses=status or alerts.ACTIVE,
        model_id=model_id,
        severity=severity,
        limit=limit,
        offset=offset,
    )


@router.post("/{alert_id}/acknowledge")
def acknowledge(alert_id: AlertId, session: DbSession, principal: Manager) -> AlertRead:
    """Acknowledge an open alert: someone is on it. 409 unless the alert is open."""
    return alerts.acknowledge(session, principal=principal, alert_id=alert_id)


@router.post("/{alert_id}/resolve")
def resolve(
    alert_id: AlertId, body: AlertResolve, session: DbSession, principal: Manager
) -> AlertRead:
    """Resolve an open or acknowledged alert by hand, with an optional comment. 409 if it is already
    resolved."""
    return alerts.resolve(session, principal=principal, alert_id=alert_id, comment=body.comment)
