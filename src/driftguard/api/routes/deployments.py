"""Policy-gated deployments, four-eyes approval, history, and the CI gate."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from driftguard.api.deps import require
from driftguard.governance import deployments, gate, oversight
from driftguard.governance.schemas import (
    DeploymentComment,
    DeploymentCreate,
    DeploymentEventRead,
    DeploymentRead,
    DeploymentReason,
    EnvironmentName,
    GateRead,
)
from driftguard.http.deps import DbSession, SettingsDep
from driftguard.http.params import IdQuery, LimitQuery, ObjectId, OffsetQuery
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.schemas import Name, Page

router = APIRouter(tags=["deployments"])
Reader = Annotated[Principal, require(Permission.MODELS_READ)]
Requester = Annotated[Principal, require(Permission.DEPLOYMENTS_REQUEST)]
Approver = Annotated[Principal, require(Permission.DEPLOYMENTS_APPROVE)]
Deployer = Annotated[Principal, require(Permission.DEPLOYMENTS_DEPLOY)]
Suspender = Annotated[Principal, require(Permission.DEPLOYMENTS_SUSPEND)]
DeploymentId = ObjectId
Status = Literal[
    "blocked",
    "pending_approval",
    "approved",
    "rejected",
    "cancelled",
    "deployed",
    "superseded",
    "rolled_back",
    "suspended",
]


@router.post("/deployments", status_code=201)
def request_deployment(
    body: DeploymentCreate, session: DbSession, settings: SettingsDep, principal: Requester
) -> DeploymentRead:
    """Evaluate the policy in force and store the decision with every rule's verdict:
    ``blocked`` (with reasons), ``pending_approval``, or ``approved`` when none is required."""
    return deployments.request(
        session, principal=principal, data=body, environments=settings.deployment_environments
    )


@router.get("/deployments")
def list_deployments(
    session: DbSession,
    principal: Reader,
    model_id: IdQuery = None,
    environment: EnvironmentName | None = None,
    status: Annotated[list[Status] | None, Query(max_length=8)] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[DeploymentRead]:
    """Deployment requests the caller may see, newest first (``status=pending_approval`` is
    the approval queue)."""
    return deployments.list_deployments(
        session,
        principal=principal,
        model_id=model_id,
        environment=environment,
        statuses=status,
        limit=limit,
        offset=offset,
    )


@router.get("/deployments/{deployment_id}")
def read_deployment(
    deployment_id: DeploymentId, session: DbSession, principal: Reader
) -> DeploymentRead:
    return deployments.read(session, principal=principal, deployment_id=deployment_id)


@router.get("/deployments/{deployment_id}/history")
def deployment_history(
    deployment_id: DeploymentId,
    session: DbSession,
    principal: Reader,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> Page[DeploymentEventRead]:
    return deployments.history(
        session, principal=principal, deployment_id=deployment_id, limit=limit, offset=offset
    )


@router.post("/deployments/{deployment_id}/approve")
def approve(
    deployment_id: DeploymentId, body: DeploymentComment, session: DbSession, principal: Approver
) -> DeploymentRead:
    return deployments.approve(
        session, principal=principal, deployment_id=deployment_id, comment=body.comment
    )


@router.post("/deployments/{deployment_id}/reject")
def reject(
    deployment_id: DeploymentId, body: DeploymentComment, session: DbSession, principal: Approver
) -> DeploymentRead:
    return deployments.reject(
        session, principal=principal, deployment_id=deployment_id, comment=body.comment
    )


@router.post("/deployments/{deployment_id}/deploy")
def deploy(deployment_id: DeploymentId, session: DbSession, principal: Deployer) -> DeploymentRead:
    return deployments.deploy(session, principal=principal, deployment_id=deployment_id)


@router.post("/deployments/{deployment_id}/rollback")
def rollback(
    deployment_id: DeploymentId, body: DeploymentComment, session: DbSession, principal: Deployer
) -> DeploymentRead:
    return deployments.rollback(
        session, principal=principal, deployment_id=deployment_id, reason=body.comment
    )


@router.post("/deployments/{deployment_id}/cancel")
def cancel(
    deployment_id: DeploymentId,
    body: DeploymentComment,
    session: DbSession,
    principal: Reader,
) -> DeploymentRead:
    """Withdraw an open request: its requester, or anyone who may deploy in the team."""
    return deployments.cancel(
        session, principal=principal, deployment_id=deployment_id, reason=body.comment
    )


# --- human oversight (governance.oversight) ----------------------------------------------------


@router.post("/deployments/{deployment_id}/suspend")
def suspend(
    deployment_id: DeploymentId, body: DeploymentReason, session: DbSession, principal: Suspender
) -> DeploymentRead:
    """Stop a live deployment at once (approver of its team, or admin): the gate answers
    blocked for the version in that environment, open requests of it there are cancelled, and
    a ``deployment.suspended`` webhook event goes out."""
    return oversight.suspend(
        session, principal=principal, deployment_id=deployment_id, reason=body.reason
    )


@router.post("/deployments/{deployment_id}/resume", status_code=201)
def resume(
    deployment_id: DeploymentId,
    body: DeploymentReason,
    session: DbSession,
    settings: SettingsDep,
    principal: Requester,
) -> DeploymentRead:
    """Open the request that resumes a suspended deployment: a new deployment request of the
    same version and environment (``resumes_id``) that needs two approvals; deploying it
    supersedes the suspended deployment."""
    return oversight.resume(
        session,
        principal=principal,
        deployment_id=deployment_id,
        reason=body.reason,
        environments=settings.deployment_environments,
    )


@router.get("/gate")
def gate_check(
    session: DbSession,
    settings: SettingsDep,
    principal: Reader,
    model: Annotated[Name, Query(description="model name")],
    version: Annotated[int, Query(ge=1, le=2**31 - 1)],
    environment: EnvironmentName,
    team_id: IdQuery = None,
) -> GateRead:
    """May this version go to this environment now? ``exit_code`` 0 allowed, 1 blocked, 2
    approval pending — the answer of ``driftguard gate check``. Writes nothing."""
    found = gate.find_model(session, principal=principal, name=model, team_id=team_id)
    return gate.check(
        session,
        principal=principal,
        model=found,
        number=version,
        environment=environment,
        environments=frozenset(settings.deployment_environments),
    )
