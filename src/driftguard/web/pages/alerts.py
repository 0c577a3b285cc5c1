"""The alert list, with acknowledge and resolve for those allowed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session

from driftguard.governance import alerts
from driftguard.http.deps import DbSession
from driftguard.http.params import ObjectId
from driftguard.identity.permissions import Permission
from driftguard.registry import service as registry_service
from driftguard.web.forms import FieldErrors, page_count, parse_fields
from driftguard.web.routing import web_router
from driftguard.web.security import CheckedForm, SignedIn, page_permission, safe_next
from driftguard.web.templating import render

router = web_router()
Reader = Annotated[SignedIn, page_permission(Permission.MODELS_READ)]
Manager = Annotated[SignedIn, page_permission(Permission.ALERTS_MANAGE)]
PAGE_SIZE = 25
STATUSES = {
    "active": alerts.ACTIVE,
    "open": ("open",),
    "acknowledged": ("acknowledged",),
    "resolved": ("resolved",),
}


class AlertQuery(BaseModel):
    status: Literal["active", "open", "acknowledged", "resolved"] = "active"
    severity: Literal["warning", "critical"] | None = None
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1


class ResolveFields(BaseModel):
    comment: Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")] = ""


def _page(
    request: Request,
    session: Session,
    user: SignedIn,
    *,
    resolve_errors: dict[int, FieldErrors] | None = None,
    comments: dict[int, str] | None = None,
) -> Response:
    query, errors = parse_fields(AlertQuery, dict(request.query_params))
    result = alerts.list_alerts(
        session,
        principal=user.principal,
        statuses=STATUSES[query.status],
        model_id=None,
        severity=query.severity,
        limit=PAGE_SIZE,
        offset=(query.page - 1) * PAGE_SIZE,
    )
    names = registry_service.model_names(
        session, principal=user.principal, model_ids=[a.model_id for a in result.items]
    )
    context = {
        "user": user,
        "query": query,
        "errors": errors,
        "result": result,
        "pages": page_count(result.total, PAGE_SIZE),
        "model_names": names,
        "manageable": {
            a.id
            for a in result.items
            if user.principal.can_in_team(Permission.ALERTS_MANAGE, a.team_id)
        },
        "resolve_errors": resolve_errors or {},
        "comments": comments or {},
        "back": "/alerts" + (f"?{request.url.query}" if request.url.query else ""),
    }
    failed = bool(errors or resolve_errors)
    return render(request, "alerts.html", context, status_code=422 if failed else 200)


@router.get("/alerts")
def alert_list(request: Request, session: DbSession, user: Reader) -> Response:
    """The alerts page: the caller's teams' alerts, filtered by status and severity, with
    acknowledge and resolve forms."""
    return _page(request, session, user)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: ObjectId, session: DbSession, user: Manager, form: CheckedForm
) -> Response:
    """Acknowledge an open alert from the alerts page, then go back to it."""
    alerts.acknowledge(session, principal=user.principal, alert_id=alert_id)
    return RedirectResponse(safe_next(str(form.get("next") or "/alerts")), status_code=303)


@router.post("/alerts/{alert_id}/resolve")
def resolve(
    alert_id: ObjectId, request: Request, session: DbSession, user: Manager, form: CheckedForm
) -> Response:
    """Resolve an alert with the form's comment; an invalid comment redraws the page naming the
    field."""
    fields, errors = parse_fields(ResolveFields, {"comment": form.get("comment")})
    if errors:
        comment = str(form.get("comment") or "")[:2000]
        return _page(
            request, session, user, resolve_errors={alert_id: errors}, comments={alert_id: comment}
        )
    alerts.resolve(session, principal=user.principal, alert_id=alert_id, comment=fields.comment)
    return RedirectResponse(safe_next(str(form.get("next") or "/alerts")), status_code=303)
