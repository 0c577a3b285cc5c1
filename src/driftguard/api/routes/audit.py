from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from driftguard.api.deps import require
from driftguard.audit import service
from driftguard.audit.schemas import AuditFilter, AuditRecordRead
from driftguard.errors import ErrorDetail, InvalidError
from driftguard.http.deps import DbSession
from driftguard.http.params import IdQuery, LimitQuery, OffsetQuery
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.schemas import Page

router = APIRouter(prefix="/audit", tags=["audit"])
IdQ = IdQuery
Word = Annotated[str | None, Query(max_length=64, pattern=r"^[\w.:\-]+$")]


@router.get("")
def list_audit_records(
    session: DbSession,
    _principal: Annotated[Principal, require(Permission.AUDIT_READ)],
    actor_user_id: IdQ = None,
    actor_api_key_id: IdQ = None,
    action: Word = None,
    object_type: Word = None,
    object_id: Word = None,
    since: Annotated[datetime | None, Query(alias="from", description="inclusive")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="exclusive")] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[AuditRecordRead]:
    """The audit trail, newest first, filtered by actor, action, object and time."""
    for name, moment in (("from", since), ("to", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidError(
                f"query.{name}: give a time zone (for example 2026-01-31T00:00:00Z)",
                details=[ErrorDetail(loc=f"query.{name}", msg="time zone required")],
            )
    flt = AuditFilter(
        actor_user_id=actor_user_id,
        actor_api_key_id=actor_api_key_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        since=since,
        until=until,
    )
    rows, total = service.list_records(session, flt=flt, limit=limit, offset=offset)
    return Page(
        items=[AuditRecordRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )
