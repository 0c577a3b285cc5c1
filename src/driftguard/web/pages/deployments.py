"""A deployment request's page: its decision, approvals and history, with the actions the caller
may take (deploy, roll back, cancel, review, suspend)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from driftguard.errors import DriftGuardError, ErrorKind
from driftguard.governance import deployments, oversight
from driftguard.governance.schemas import DeploymentRead
from driftguard.http.deps import DbSession
from driftguard.http.params import ObjectId
from driftguard.http.status import STATUS_BY_KIND
from driftguard.identity import service as identity_service
from driftguard.identity.permissions import Permission, Role
from driftguard.registry import service as registry_service
from driftguard.schemas import LongText
from driftguard.web.forms import FieldErrors, parse_fields
from driftguard.web.routing import web_router
from driftguard.web.security import CheckedForm, SignedIn, page_permission
from driftguard.web.templating import render

router = web_router()
Reader = Annotated[SignedIn, page_permission(Permission.MODELS_READ)]
# Whoever may request may cancel their own request (and deployers hold this permission too).
Requester = Annotated[SignedIn, page_permission(Permission.DEPLOYMENTS_REQUEST)]
Deployer = Annotated[SignedIn, page_permission(Permission.DEPLOYMENTS_DEPLOY)]
Suspender = Annotated[SignedIn, page_permission(Permission.DEPLOYMENTS_SUSPEND)]
HISTORY = 200


class ReasonFields(BaseModel):
    reason: LongText = ""


class SuspendFields(BaseModel):
    reason: LongText = ""
    confirm: Literal["yes"] | None = None


CONFIRM = "tick the box to confirm that this stops the model in production"


def may_review(user: SignedIn, deployment: DeploymentRead) -> bool:
    """Whether to offer the review forms: an approver the decision asks for, not the requester,
    who has not reviewed yet. The workflow still decides (separation of duties)."""
    principal, me = user.principal, user.principal.user_id
    roles = set(deployment.decision.approver_roles)
    asked = (Role.ADMIN.value in roles and principal.platform_role is Role.ADMIN) or (
        Role.APPROVER.value in roles
        and principal.team_roles.get(deployment.team_id) is Role.APPROVER
    )
    return (
        me is not None
        and asked
        and deployment.status == "pending_approval"
        and me != deployment.requested_by_id
        and all(a.user_id != me for a in deployment.approvals)
    )


def actions(user: SignedIn, deployment: DeploymentRead) -> set[str]:
    """The buttons to show: what the workflow would allow this user now."""
    principal = user.principal
    deployer = principal.can_in_team(Permission.DEPLOYMENTS_DEPLOY, deployment.team_id)
    requester = principal.user_id is not None and principal.user_id == deployment.requested_by_id
    shown = set()
    if deployer and deployment.status == "approved":
        shown.add("deploy")
    if deployer and deployment.status == "deployed" and deployment.previous_id is not None:
        shown.add("rollback")
    if (deployer or requester) and deployment.status in ("pending_approval", "approved"):
        shown.add("cancel")
    if may_review(user, deployment):
        shown.add("review")
    if deployment.status == "deployed" and principal.can_in_team(
        Permission.DEPLOYMENTS_SUSPEND, deployment.team_id
    ):
        shown.add("suspend")
    return shown


def deployment_page(
    request: Request,
    session: Session,
    user: SignedIn,
    deployment_id: int,
    *,
    problem: tuple[str, FieldErrors] | None = None,
    text: str = "",
    suspend_text: str = "",
    status_code: int = 200,
) -> Response:
    """A deployment request's page: its decision with every rule's reasons, approvals and
    actions."""
    principal = user.principal
    deployment = deployments.read(session, principal=principal, deployment_id=deployment_id)
    events = deployments.history(
        session, principal=principal, deployment_id=deployment.id, limit=HISTORY, offset=0
    )
    ids = {e.actor_user_id for e in events.items if e.actor_user_id is not None}
    ids |= {a.user_id for a in deployment.approvals}
    if deployment.requested_by_id is not None:
        ids.add(deployment.requested_by_id)
    names = registry_service.model_names(
        session, principal=principal, model_ids=[deployment.model_id]
    )
    context = {
        "user": user,
        "d": deployment,
        "events": events,
        "model_name": names.get(deployment.model_id, f"model {deployment.model_id}"),
        "people": identity_service.display_names(session, user_ids=ids),
        "actions": actions(user, deployment),
        "problem": problem,
        "text": text,
        "suspend_text": suspend_text,
        "here": f"/deployments/{deployment.id}",
    }
    return render(request, "deployment.html", context, status_code=status_code)


@router.get("/deployments/{deployment_id}")
def show(deployment_id: ObjectId, request: Request, session: DbSession, user: Reader) -> Response:
    """The page of one deployment request the caller can see."""
    return deployment_page(request, session, user, deployment_id)


def refused(
    request: Request,
    session: Session,
    user: SignedIn,
    deployment_id: int,
    exc: DriftGuardError,
    text: str,
) -> Response:
    """The page again with the workflow's refusal; its writes undone unless it keeps them."""
    if exc.kind is ErrorKind.NOT_FOUND:
        raise exc  # another team's request: the 404 page, as for any other id
    if not exc.keep_changes:
        session.rollback()
    fields = {d.loc: d.msg for d in exc.details if d.loc in ("comment", "reason")}
    return deployment_page(
        request,
        session,
        user,
        deployment_id,
        problem=(exc.message, fields),
        text=text,
        status_code=STATUS_BY_KIND[exc.kind],
    )


def _with_reason(
    verb: str,
    deployment_id: int,
    request: Request,
    session: Session,
    user: SignedIn,
    form: CheckedForm,
) -> Response:
    raw = str(form.get("reason") or "")[:10_000]
    fields, errors = parse_fields(ReasonFields, {"reason": form.get("reason")})
    if errors:
        return deployment_page(
            request,
            session,
            user,
            deployment_id,
            problem=("", errors),
            text=raw,
            status_code=422,
        )
    move = deployments.rollback if verb == "rollback" else deployments.cancel
    try:
        move(session, principal=user.principal, deployment_id=deployment_id, reason=fields.reason)
    except DriftGuardError as exc:
        return refused(request, session, user, deployment_id, exc, raw)
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


@router.post("/deployments/{deployment_id}/deploy")
def deploy(
    deployment_id: ObjectId,
    request: Request,
    session: DbSession,
    user: Deployer,
    form: CheckedForm,
) -> Response:
    """Deploy an approved request; a refusal redraws the page with the reason."""
    try:
        deployments.deploy(session, principal=user.principal, deployment_id=deployment_id)
    except DriftGuardError as exc:
        return refused(request, session, user, deployment_id, exc, "")
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


@router.post("/deployments/{deployment_id}/rollback")
def rollback(
    deployment_id: ObjectId,
    request: Request,
    session: DbSession,
    user: Deployer,
    form: CheckedForm,
) -> Response:
    """Roll a deployment back, with the form's reason."""
    return _with_reason("rollback", deployment_id, request, session, user, form)


@router.post("/deployments/{deployment_id}/cancel")
def cancel(
    deployment_id: ObjectId,
    request: Request,
    session: DbSession,
    user: Requester,
    form: CheckedForm,
) -> Response:
    """Cancel a deployment request that has not been deployed, with the form's reason."""
    return _with_reason("cancel", deployment_id, request, session, user, form)


@router.post("/deployments/{deployment_id}/suspend")
def suspend(
    deployment_id: ObjectId,
    request: Request,
    session: DbSession,
    user: Suspender,
    form: CheckedForm,
) -> Response:
    """Suspend a live deployment (human oversight): a reason and an explicit confirmation."""
    raw = str(form.get("reason") or "")[:10_000]
    fields, errors = parse_fields(
        SuspendFields, {"reason": form.get("reason"), "confirm": form.get("confirm")}
    )
    if "confirm" not in errors and fields.confirm is None:
        errors["confirm"] = CONFIRM
    if errors:
        return deployment_page(
            request,
            session,
            user,
            deployment_id,
            problem=("", {f"suspend_{k}": v for k, v in errors.items()}),
            suspend_text=raw,
            status_code=422,
        )
    try:
        oversight.suspend(
            session, principal=user.principal, deployment_id=deployment_id, reason=fields.reason
        )
    except DriftGuardError as exc:
        if exc.kind is ErrorKind.NOT_FOUND:
            raise
        if not exc.keep_changes:
            session.rollback()
        named = {f"suspend_{d.loc}": d.msg for d in exc.details if d.loc == "reason"}
        return deployment_page(
            request,
            session,
            user,
            deployment_id,
            problem=(exc.message, named),
            suspend_text=raw,
            status_code=STATUS_BY_KIND[exc.kind],
        )
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)
