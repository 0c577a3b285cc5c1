"""The audit log, for auditors and administrators."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Request, Response
from pydantic import BaseModel, Field, StringConstraints

from driftguard.audit import service as audit
from driftguard.audit.schemas import AuditFilter
from driftguard.http.deps import DbSession
from driftguard.identity.permissions import Permission
from driftguard.schemas import Id
from driftguard.web.forms import page_count, parse_fields
from driftguard.web.routing import web_router
from driftguard.web.security import SignedIn, page_permission
from driftguard.web.templating import render

router = web_router()
Auditor = Annotated[SignedIn, page_permission(Permission.AUDIT_READ)]
PAGE_SIZE = 50
Word = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[\w.:\-]+$")
]
Day = Annotated[date, Field(ge=date(1970, 1, 1), le=date(2199, 12, 31))]


class AuditQuery(BaseModel):
    action: Word | None = None
    object_type: Word | None = None
    object_id: Word | None = None
    actor: Id | None = None
    since: Day | None = None
    until: Day | None = None
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1


def _start_of(day: date | None, *, plus_days: int = 0) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=plus_days)


@router.get("/audit")
def audit_log(request: Request, session: DbSession, user: Auditor) -> Response:
    """The audit trail, filtered by actor, action, object and days, one page at a time."""
    query, errors = parse_fields(AuditQuery, dict(request.query_params))
    flt = AuditFilter(
        actor_user_id=query.actor,
        action=query.action,
        object_type=query.object_type,
        object_id=query.object_id,
        since=_start_of(query.since),
        until=_start_of(query.until, plus_days=1),  # the "to" day is included
    )
    rows, total = audit.list_records(
        session, flt=flt, limit=PAGE_SIZE, offset=(query.page - 1) * PAGE_SIZE
    )
    context = {
        "user": user,
        "query": query,
        "raw": request.query_params,
        "errors": errors,
        "rows": rows,
        "total": total,
        "pages": page_count(total, PAGE_SIZE),
    }
    return render(request, "audit.html", context, status_code=422 if errors else 200)
