"""The approval queue: pending deployment requests, with approve and reject for eligible
approvers. A refusal from the workflow (self-approval, already reviewed, now blocked) is shown on
the queue, beside the request it concerns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from driftguard.errors import DriftGuardError, ErrorKind
from driftguard.governance import deployments
from driftguard.governance.schemas import DeploymentRead
from driftguard.http.deps import DbSession
from driftguard.http.params import ObjectId
from driftguard.http.status import STATUS_BY_KIND
from driftguard.identity import service as identity_service
from driftguard.identity.permissions import Permission
from driftguard.registry import service as registry_service
from driftguard.schemas import LongText
from driftguard.web.forms import FieldErrors, page_count, parse_fields
from driftguard.web.pages.deployments import deployment_page, may_review, refused
from driftguard.web.routing import web_router
from driftguard.web.security import CheckedForm, SignedIn, page_permission, safe_next
from driftguard.web.templating import render

router = web_router()
Reader = Annotated[SignedIn, page_permission(Permission.MODELS_READ)]
Approver = Annotated[SignedIn, page_permission(Permission.DEPLOYMENTS_APPROVE)]
PAGE_SIZE = 20


class QueueQuery(BaseModel):
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1


class ReviewFields(BaseModel):
    comment: LongText = ""


def people(session: Session, items: list[DeploymentRead]) -> dict[int, str]:
    """Requesters and reviewers of ``items`` by name, in one query."""
    ids = {d.requested_by_id for d in items if d.requested_by_id is not None}
    ids |= {a.user_id for d in items for a in d.approvals}
    return identity_service.display_names(session, user_ids=ids)


def _queue(
    request: Request,
    session: Session,
    user: SignedIn,
    *,
    problem: tuple[int, str, FieldErrors] | None = None,
    comment: str = "",
    status_code: int = 200,
) -> Response:
    query, errors = parse_fields(QueueQuery, dict(request.query_params))
    result = deployments.list_deployments(
        session,
        principal=user.principal,
        model_id=None,
        environment=None,
        statuses=("pending_approval",),
        limit=PAGE_SIZE,
        offset=(query.page - 1) * PAGE_SIZE,
        oldest_first=True,
    )
    names = registry_service.model_names(
        session, principal=user.principal, model_ids=[d.model_id for d in result.items]
    )
    context = {
        "user": user,
        "query": query,
        "errors": errors,
        "result": result,
        "pages": page_count(result.total, PAGE_SIZE),
        "model_names": names,
        "people": people(session, result.items),
        "reviewable": {d.id for d in result.items if may_review(user, d)},
        "problem": problem,
        "comment": comment,
        "back": "/approvals" + (f"?{request.url.query}" if request.url.query else ""),
    }
    return render(request, "approvals.html", context, status_code=422 if errors else status_code)


@router.get("/approvals")
def approval_queue(request: Request, session: DbSession, user: Reader) -> Response:
    """The queue of deployment requests pending approval that the caller can see, oldest first."""
    return _queue(request, session, user)


Review = Callable[..., DeploymentRead]


def _review(
    review: Review,
    deployment_id: int,
    request: Request,
    session: Session,
    user: SignedIn,
    form: CheckedForm,
) -> Response:
    raw = str(form.get("comment") or "")
    fields, errors = parse_fields(ReviewFields, {"comment": form.get("comment")})
    back = safe_next(str(form.get("next") or "/approvals"))
    if errors and back == f"/deployments/{deployment_id}":
        return deployment_page(
            request,
            session,
            user,
            deployment_id,
            problem=("", errors),
            text=raw[:10_000],
            status_code=422,
        )
    if errors:
        return _queue(
            request,
            session,
            user,
            problem=(deployment_id, "", errors),
            comment=raw[:10_000],
            status_code=422,
        )
    try:
        review(
            session, principal=user.principal, deployment_id=deployment_id, comment=fields.comment
        )
    except DriftGuardError as exc:
        if back == f"/deployments/{deployment_id}":
            return refused(request, session, user, deployment_id, exc, raw[:10_000])
        if exc.kind is ErrorKind.NOT_FOUND:
            raise  # another team's request: the 404 page, as for any other id
        if not exc.keep_changes:
            session.rollback()
        field_errors = {d.loc: d.msg for d in exc.details if d.loc == "comment"}
        return _queue(
            request,
            session,
            user,
            problem=(deployment_id, exc.message, field_errors),
            comment=raw[:10_000],
            status_code=STATUS_BY_KIND[exc.kind],
        )
    return RedirectResponse(back, status_code=303)


@router.post("/deployments/{deployment_id}/approve")
def approve(
    deployment_id: ObjectId,
    request: Request,
    session: DbSession,
    user: Approver,
    form: CheckedForm,
) -> Response:
    """Approve a deployment request, with the form's comment; a refusal redraws the page it came
    from with the reason."""
    return _review(deployments.approve, deployment_id, request, session, user, form)


@router.post("/deployments/{deployment_id}/reject")
def reject(
    deployment_id: ObjectId,
    request: Request,
    session: DbSession,
    user: Approver,
    form: CheckedForm,
) -> Response:
    """Reject a deployment request, with the form's comment; a refusal redraws the page it came
    from with the reason."""
    return _review(deployments.reject, deployment_id, request, session, user, form)
