"""Human oversight of live models (EU AI Act Art. 14, NIST AI RMF MANAGE 2.4): suspend a
deployment at once, and resume it only through the four-eyes workflow.

A suspension is a transition of ``governance.deployments``' state machine (``deployed →
suspended``), made with the same row claim as every other one, so twenty concurrent suspends
take effect once. It stops the version in that environment: the gate answers blocked, open
requests of the version there are cancelled, new ones are refused, and nothing else goes live
in its place (a rollback is a separate decision). Resuming is a new deployment request of the
same version and environment (``resumes_id``) that waits for two approvals whatever the policy
asks of a first deployment; its deploy supersedes the suspended deployment.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.errors import ErrorDetail, InvalidError
from driftguard.governance import deployments
from driftguard.governance.deployments import (
    _claim,
    _finish,
    _model_version,
    _move,
    _require_status,
    _set_stage,
    _snapshot,
    _visible,
)
from driftguard.governance.orm import OPEN_STATUSES, Deployment, DeploymentEvent
from driftguard.governance.schemas import DeploymentCreate, DeploymentRead, SuspensionRead
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.webhooks import service as webhooks
from driftguard.webhooks.payloads import WebhookEvent

SUSPENDED_EVENT = "deployment.suspended"


def _required(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidError(
            "reason: say why the deployment is suspended",
            details=[ErrorDetail("reason", "required")],
        )
    return reason


def suspend(
    session: Session, *, principal: Principal, deployment_id: int, reason: str
) -> DeploymentRead:
    """Stop a live deployment at once (an approver of its team, or an admin)."""
    reason = _required(reason)
    deployment = _visible(session, principal, deployment_id, lock=True)
    principal.require_in_team(Permission.DEPLOYMENTS_SUSPEND, deployment.team_id)
    _require_status(deployment, ("deployed",), "suspend")
    model, _ = _model_version(session, deployment)
    before = _snapshot(deployment)
    _claim(session, deployment)  # twenty concurrent suspends: one wins, the others get 409
    _move(session, principal, deployment, "suspend", "suspended", reason)
    _set_stage(session, deployment, leaving=True)  # as a rollback: the version is not live
    cancelled = _cancel_open(session, principal, deployment)
    read = _finish(
        session,
        principal,
        deployment,
        "deployment.suspend",
        before=before,
        note={"reason": reason, "cancelled": cancelled},
    )
    webhooks.enqueue_event(
        session,
        team_id=deployment.team_id,
        event=suspended_event(
            read,
            model_name=model.name,
            reason=reason,
            by_user_id=principal.user_id,
            by_api_key_id=principal.api_key_id,
            at=deployment.updated_at,
        ),
    )
    return read


def _cancel_open(session: Session, principal: Principal, suspended: Deployment) -> list[int]:
    """Open requests of the suspended version in that environment would put it back live
    without the resume workflow: they are cancelled with the suspension."""
    open_requests = session.scalars(
        select(Deployment)
        .where(
            Deployment.version_id == suspended.version_id,
            Deployment.environment == suspended.environment,
            Deployment.status.in_(OPEN_STATUSES),
        )
        .with_for_update()
    ).all()
    for request in open_requests:
        _claim(session, request)
        why = f"cancelled by the suspension of deployment {suspended.id}"
        _move(session, principal, request, "cancel", "cancelled", why)
    return [r.id for r in open_requests]


def suspended_event(
    deployment: DeploymentRead,
    *,
    model_name: str,
    reason: str,
    by_user_id: int | None,
    by_api_key_id: int | None,
    at: datetime,
) -> WebhookEvent:
    where = f"{model_name} v{deployment.version} in {deployment.environment}"
    by = f"user {by_user_id}" if by_user_id is not None else f"API key {by_api_key_id}"
    return WebhookEvent(
        type=SUSPENDED_EVENT,
        occurred_at=at,
        data={
            "deployment": {
                "id": deployment.id,
                "team_id": deployment.team_id,
                "environment": deployment.environment,
                "status": deployment.status,
                "revision": deployment.revision,
                "previous_id": deployment.previous_id,
            },
            "model": {"id": deployment.model_id, "name": model_name},
            "version": {"id": deployment.version_id, "number": deployment.version},
            "reason": reason,
            "suspended_by": {"user_id": by_user_id, "api_key_id": by_api_key_id},
            "suspended_at": at,
        },
        title=f"deployment suspended: {where}: {reason}",
        facts=[
            ("Model", where),
            ("Deployment", str(deployment.id)),
            ("Reason", reason),
            ("Suspended by", by),
        ],
    )


def resume(
    session: Session,
    *,
    principal: Principal,
    deployment_id: int,
    reason: str,
    environments: Collection[str],
) -> DeploymentRead:
    """Open the request that resumes a suspended deployment: the usual request (re-evaluated
    under the policy in force, one open request per version and environment), approved by two
    eligible approvers other than the requester, then deployed."""
    reason = _required(reason)
    suspended = _visible(session, principal, deployment_id, lock=True)
    principal.require_in_team(Permission.DEPLOYMENTS_REQUEST, suspended.team_id)
    _require_status(suspended, ("suspended",), "resume")
    _, version = _model_version(session, suspended)
    request = deployments.request(
        session,
        principal=principal,
        data=DeploymentCreate(
            model_id=suspended.model_id,
            version=version.number,
            environment=suspended.environment,
            reason=reason,
        ),
        environments=environments,
        resumes=suspended,
    )
    session.add(
        DeploymentEvent(
            deployment_id=suspended.id,
            action="resume_request",
            from_status="suspended",
            to_status="suspended",
            actor_user_id=principal.user_id,
            actor_api_key_id=principal.api_key_id,
            reason=f"resume requested as deployment {request.id}: {reason}",
        )
    )
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="deployment.resume_request",
        object_type="deployment",
        object_id=suspended.id,
        after={"request": request.id, "status": request.status, "reason": reason},
    )
    return request


def suspension_of(session: Session, *, deployment_id: int) -> SuspensionRead | None:
    """Who suspended a deployment, when and why (its newest ``suspend`` event)."""
    event = session.scalar(
        select(DeploymentEvent)
        .where(DeploymentEvent.deployment_id == deployment_id, DeploymentEvent.action == "suspend")
        .order_by(DeploymentEvent.id.desc())
        .limit(1)
    )
    if event is None:
        return None
    return SuspensionRead(
        deployment_id=deployment_id,
        reason=event.reason,
        suspended_at=event.at,
        suspended_by_id=event.actor_user_id,
        suspended_by_api_key_id=event.actor_api_key_id,
    )
