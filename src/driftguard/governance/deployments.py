"""Policy-gated deployments with four-eyes approval.

    request ──► blocked                       (a block rule failed; final)
            └─► pending_approval ──► approved ──► deployed ──► superseded / rolled_back
                    │  ▲ approvals      │                        (a rollback re-deploys the
                    │  └────────────────┘                         previous deployment)
                    ├─► rejected        (any eligible approver; final)
                    └─► cancelled       (requester or a deployer; final, also from approved)

    deployed ──► suspended ──► superseded      (human oversight, ``governance.oversight``: a
                                                stop at once; resumed only by deploying a resume
                                                request, which always needs four-eyes approval)

Every transition is a conditional update on the request's ``revision`` and appends a history row
in the same transaction: twenty concurrent approvals or deploys of one request take effect once,
on SQLite and PostgreSQL alike. Approving or deploying first re-evaluates the policy if the facts
or the policy in force changed since the decision.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.db.base import utcnow
from driftguard.errors import (
    ConflictError,
    ErrorDetail,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from driftguard.governance import risk
from driftguard.governance.evaluation import (
    Evaluation,
    decision_read,
    evaluate,
    require_environment,
)
from driftguard.governance.facts import facts_hash
from driftguard.governance.orm import (
    OPEN_STATUSES,
    Deployment,
    DeploymentApproval,
    DeploymentEvent,
)
from driftguard.governance.schemas import (
    ApprovalRead,
    DecisionRead,
    DeploymentCreate,
    DeploymentEventRead,
    DeploymentRead,
)
from driftguard.identity.permissions import Permission, Role
from driftguard.identity.principal import Principal
from driftguard.lifecycle import cards
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion, RegisteredModel, Stage
from driftguard.schemas import Page


def _now() -> datetime:
    return datetime.now(UTC)


def request(
    session: Session,
    *,
    principal: Principal,
    data: DeploymentCreate,
    environments: Collection[str],
    resumes: Deployment | None = None,
) -> DeploymentRead:
    """Evaluate the policy in force and store the decision: blocked, pending or approved.

    ``resumes``: the suspended deployment of this version and environment that the request
    resumes (``governance.oversight.resume``); without it, a suspended version is refused."""
    require_environment(data.environment, environments)
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=data.model_id, number=data.version
    )
    principal.require_in_team(Permission.DEPLOYMENTS_REQUEST, model.team_id)
    if model.archived_at is not None:
        raise ConflictError(f"model {model.id} is archived", code="archived")
    if version.stage is Stage.ARCHIVED:
        raise ConflictError(f"version {version.number} is archived", code="archived")
    cards.require_deployable(session, model)
    open_id = session.scalar(
        select(Deployment.id).where(
            Deployment.version_id == version.id,
            Deployment.environment == data.environment,
            Deployment.status.in_(OPEN_STATUSES),
        )
    )
    if open_id is not None:
        raise ConflictError(
            f"deployment {open_id} of this version to {data.environment} is still open",
            code="deployment_open",
        )
    suspended_id = suspended_in(session, version_id=version.id, environment=data.environment)
    if suspended_id is not None and (resumes is None or resumes.id != suspended_id):
        raise ConflictError(
            f"version {version.number} is suspended in {data.environment} (deployment "
            f"{suspended_id}); resuming it needs a resume request and four-eyes approval",
            code="deployment_suspended",
        )
    evaluation = evaluate(
        session, model=model, version=version, environment=data.environment, now=_now()
    )
    decision = _decision(evaluation, resume=resumes is not None)
    deployment = Deployment(
        team_id=model.team_id,
        model_id=model.id,
        version_id=version.id,
        environment=data.environment,
        status=decision.outcome,
        revision=1,
        reason=data.reason,
        requested_by_id=principal.user_id,
        requested_by_api_key_id=principal.api_key_id,
        resumes_id=resumes.id if resumes is not None else None,
        **_decision_columns(evaluation, decision),
    )
    session.add(deployment)
    session.flush()
    _event(session, deployment, principal, "request", None, deployment.status, data.reason)
    # The score the decision judged (under the policy in force for this environment) is kept.
    risk.store(
        session,
        model=model,
        version=version,
        risk=evaluation.risk,
        policy_hash=evaluation.policy.applied.content_hash,
        trigger="deployment_request",
        at=deployment.created_at,
    )
    return _finish(session, principal, deployment, "deployment.request", before=None, new=True)


# A resume request always waits for this many approvals, whatever the policy asks of a first
# deployment to its environment (a human stopped the model; two others let it run again).
RESUME_APPROVALS = 2


def _decision(evaluation: Evaluation, *, resume: bool) -> DecisionRead:
    """The policy's decision; for a resume request, with the four-eyes floor applied."""
    decision = decision_read(evaluation)
    if not resume or decision.outcome == "blocked":
        return decision
    return decision.model_copy(
        update={
            "outcome": "pending_approval",
            "required_approvals": max(decision.required_approvals, RESUME_APPROVALS),
            "approver_roles": decision.approver_roles or [Role.APPROVER.value],
        }
    )


def _decision_columns(evaluation: Evaluation, decision: DecisionRead) -> dict[str, Any]:
    return {
        "policy_name": evaluation.policy.applied.name,
        "policy_version_id": evaluation.policy.applied.version_id,
        "policy_hash": evaluation.policy.applied.content_hash,
        "facts_hash": facts_hash(evaluation.facts),
        "facts": evaluation.facts.as_dict(),
        "decision": decision.model_dump(mode="json"),
        "required_approvals": decision.required_approvals,
        "decided_at": utcnow(),
    }


def approve(
    session: Session, *, principal: Principal, deployment_id: int, comment: str
) -> DeploymentRead:
    """Count one eligible approver's approval; the quorum moves the request to approved."""
    return _review(session, principal, deployment_id, "approve", comment)


def reject(
    session: Session, *, principal: Principal, deployment_id: int, comment: str
) -> DeploymentRead:
    if not comment.strip():
        raise InvalidError(
            "comment: a rejection must say why", details=[ErrorDetail("comment", "required")]
        )
    return _review(session, principal, deployment_id, "reject", comment)


def _review(
    session: Session, principal: Principal, deployment_id: int, verdict: str, comment: str
) -> DeploymentRead:
    deployment = _visible(session, principal, deployment_id, lock=True)
    principal.require_in_team(Permission.DEPLOYMENTS_APPROVE, deployment.team_id)
    _require_status(deployment, ("pending_approval",), verdict)
    model, version = _model_version(session, deployment)
    _check_approver(session, principal, deployment, model, version)
    before = _snapshot(deployment)
    _claim(session, deployment)  # from here on, no other transition of this request can commit
    if verdict == "approve" and _reevaluate(session, principal, deployment, model, version):
        return _blocked_after_reevaluation(session, principal, deployment, before)
    session.add(
        DeploymentApproval(
            deployment_id=deployment.id,
            user_id=principal.user_id,
            verdict=verdict,
            comment=comment,
        )
    )
    session.flush()
    if verdict == "reject":
        _move(session, principal, deployment, "reject", "rejected", comment)
    else:
        approvals = _approval_count(session, deployment.id)
        tally = f"{approvals} of {deployment.required_approvals} approvals; {comment}".strip()
        _event(
            session, deployment, principal, "approve", deployment.status, deployment.status, tally
        )
        if approvals >= deployment.required_approvals:
            _move(session, principal, deployment, "quorum", "approved", "quorum reached")
    return _finish(session, principal, deployment, f"deployment.{verdict}", before=before)


def _check_approver(
    session: Session,
    principal: Principal,
    deployment: Deployment,
    model: RegisteredModel,
    version: ModelVersion,
) -> None:
    if principal.user_id is None:
        raise ForbiddenError("approvals are given by people, not API keys")
    if principal.user_id == deployment.requested_by_id:
        raise ForbiddenError("you requested this deployment; someone else must approve it")
    roles = set(deployment.decision.get("approver_roles", []))
    eligible = (Role.ADMIN.value in roles and principal.platform_role is Role.ADMIN) or (
        Role.APPROVER.value in roles
        and principal.team_roles.get(deployment.team_id) is Role.APPROVER
    )
    if not eligible:
        raise ForbiddenError(f"this policy wants approvals from: {', '.join(sorted(roles))}")
    if deployment.decision.get("separation_of_duties", True) and principal.user_id in (
        model.owner_id,
        version.created_by_id,
    ):
        raise ForbiddenError("separation of duties: the model's owner or the version's author")
    already = session.scalar(
        select(DeploymentApproval.verdict).where(
            DeploymentApproval.deployment_id == deployment.id,
            DeploymentApproval.user_id == principal.user_id,
        )
    )
    if already is not None:
        raise ConflictError(f"you already gave your verdict ({already})", code="already_reviewed")


def _approval_count(session: Session, deployment_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                DeploymentApproval.deployment_id == deployment_id,
                DeploymentApproval.verdict == "approve",
            )
        )
        or 0
    )


def deploy(session: Session, *, principal: Principal, deployment_id: int) -> DeploymentRead:
    """Put an approved request live; it supersedes the model's live version in that environment."""
    deployment = _visible(session, principal, deployment_id, lock=True)
    principal.require_in_team(Permission.DEPLOYMENTS_DEPLOY, deployment.team_id)
    _require_status(deployment, ("approved",), "deploy")
    model, version = _model_version(session, deployment)
    cards.require_deployable(session, model)
    before = _snapshot(deployment)
    _claim(session, deployment)
    if _reevaluate(session, principal, deployment, model, version):
        return _blocked_after_reevaluation(session, principal, deployment, before)
    live = session.scalar(
        select(Deployment).where(
            Deployment.model_id == deployment.model_id,
            Deployment.environment == deployment.environment,
            Deployment.status == "deployed",
        )
    )
    if live is not None:
        _claim(session, live)
        _move(
            session,
            principal,
            live,
            "supersede",
            "superseded",
            f"replaced by deployment {deployment.id}",
        )
        _set_stage(session, live, leaving=True)
    deployment.previous_id = live.id if live is not None else None
    if deployment.resumes_id is not None:
        _end_suspension(session, principal, deployment, replaced=live)
    deployment.deployed_at = utcnow()
    _move(session, principal, deployment, "deploy", "deployed", "")
    _set_stage(session, deployment, leaving=False)
    return _finish(session, principal, deployment, "deployment.deploy", before=before)


def _end_suspension(
    session: Session, principal: Principal, deployment: Deployment, *, replaced: Deployment | None
) -> None:
    """A resume request goes live: it supersedes the suspended deployment it resumes, and,
    when nothing else was live meanwhile, takes over what that one replaced (for rollback)."""
    suspended = session.get(
        Deployment, deployment.resumes_id, with_for_update=True, populate_existing=True
    )
    assert suspended is not None  # same model; deleted only together
    _require_status(suspended, ("suspended",), "resume")
    _claim(session, suspended)
    _move(
        session,
        principal,
        suspended,
        "resume",
        "superseded",
        f"resumed by deployment {deployment.id}",
    )
    if replaced is None:
        deployment.previous_id = suspended.previous_id


def suspended_in(session: Session, *, version_id: int, environment: str) -> int | None:
    """The suspended deployment of a version in an environment, if there is one."""
    return session.scalar(
        select(Deployment.id)
        .where(
            Deployment.version_id == version_id,
            Deployment.environment == environment,
            Deployment.status == "suspended",
        )
        .order_by(Deployment.id.desc())
        .limit(1)
    )


def rollback(
    session: Session, *, principal: Principal, deployment_id: int, reason: str
) -> DeploymentRead:
    """Take a live deployment down and put the one it replaced back live."""
    deployment = _visible(session, principal, deployment_id, lock=True)
    principal.require_in_team(Permission.DEPLOYMENTS_DEPLOY, deployment.team_id)
    _require_status(deployment, ("deployed",), "roll back")
    previous = session.get(Deployment, deployment.previous_id) if deployment.previous_id else None
    if previous is None or previous.status != "superseded":
        raise ConflictError(
            f"deployment {deployment_id} replaced nothing that can be restored",
            code="nothing_to_roll_back",
        )
    before = _snapshot(deployment)
    _claim(session, deployment)
    _claim(session, previous)
    _move(session, principal, deployment, "rollback", "rolled_back", reason)
    _set_stage(session, deployment, leaving=True)
    _move(
        session,
        principal,
        previous,
        "restore",
        "deployed",
        f"restored by the rollback of deployment {deployment.id}",
    )
    _set_stage(session, previous, leaving=False)
    return _finish(session, principal, deployment, "deployment.rollback", before=before)


def cancel(
    session: Session, *, principal: Principal, deployment_id: int, reason: str
) -> DeploymentRead:
    deployment = _visible(session, principal, deployment_id, lock=True)
    is_requester = principal.user_id is not None and principal.user_id == deployment.requested_by_id
    if not is_requester:
        principal.require_in_team(Permission.DEPLOYMENTS_DEPLOY, deployment.team_id)
    _require_status(deployment, OPEN_STATUSES, "cancel")
    before = _snapshot(deployment)
    _claim(session, deployment)
    _move(session, principal, deployment, "cancel", "cancelled", reason)
    return _finish(session, principal, deployment, "deployment.cancel", before=before)


# --- transitions -------------------------------------------------------------------------------


def _claim(session: Session, deployment: Deployment) -> None:
    """Take the request for this transaction, or fail if another one changed it since read."""
    claimed = session.execute(
        update(Deployment)
        .where(Deployment.id == deployment.id, Deployment.revision == deployment.revision)
        .values(revision=deployment.revision + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        raise ConflictError(
            f"deployment {deployment.id} was changed by another request; reload and retry",
            code="concurrent_change",
        )
    session.refresh(deployment)


def _move(
    session: Session, principal: Principal, deployment: Deployment, action: str, to: str, why: str
) -> None:
    source = deployment.status
    deployment.status, deployment.updated_at = to, utcnow()
    session.flush()
    _event(session, deployment, principal, action, source, to, why)


def _event(
    session: Session,
    deployment: Deployment,
    principal: Principal,
    action: str,
    source: str | None,
    target: str,
    why: str,
) -> None:
    session.add(
        DeploymentEvent(
            deployment_id=deployment.id,
            action=action,
            from_status=source,
            to_status=target,
            actor_user_id=principal.user_id,
            actor_api_key_id=principal.api_key_id,
            reason=why,
        )
    )
    session.flush()


def _reevaluate(
    session: Session,
    principal: Principal,
    deployment: Deployment,
    model: RegisteredModel,
    version: ModelVersion,
) -> bool:
    """Re-decide if the facts or the policy changed; True when the request is now blocked."""
    evaluation = evaluate(
        session, model=model, version=version, environment=deployment.environment, now=_now()
    )
    if (
        facts_hash(evaluation.facts) == deployment.facts_hash
        and evaluation.policy.applied.content_hash == deployment.policy_hash
    ):
        return False
    decision = _decision(evaluation, resume=deployment.resumes_id is not None)
    for key, value in _decision_columns(evaluation, decision).items():
        setattr(deployment, key, value)
    session.flush()
    changed = f"facts or policy changed; re-evaluated under {decision.policy.name}"
    _event(
        session, deployment, principal, "reevaluate", deployment.status, deployment.status, changed
    )
    if decision.outcome == "blocked":
        _move(session, principal, deployment, "block", "blocked", _reasons(decision))
        return True
    return False


def _blocked_after_reevaluation(
    session: Session, principal: Principal, deployment: Deployment, before: dict[str, Any]
) -> DeploymentRead:
    read = _finish(session, principal, deployment, "deployment.block", before=before)
    raise ConflictError(
        f"deployment {deployment.id} is now blocked: {_reasons(read.decision)}",
        code="deployment_blocked",
        keep_changes=True,
    )


def _reasons(decision: DecisionRead) -> str:
    failed = [r for r in decision.rules if not r.passed and r.severity == "block"]
    return "; ".join(
        f"{r.rule}: {r.fact}{'[' + r.subject + ']' if r.subject else ''} = "
        f"{'not measured' if r.observed is None else f'{r.observed:.4g}'} "
        f"(required {r.operator} {r.threshold:g})"
        for r in failed
    )


def _set_stage(session: Session, deployment: Deployment, *, leaving: bool) -> None:
    """Keep the registry's stage in step for environments named like a stage."""
    if deployment.environment not in (Stage.STAGING.value, Stage.PRODUCTION.value):
        return
    version = session.get(ModelVersion, deployment.version_id)
    if version is None or version.stage is Stage.ARCHIVED:
        return
    stage = Stage(deployment.environment)
    if leaving and version.stage is stage:
        version.stage = Stage.NONE
    elif not leaving:
        version.stage = stage
    version.updated_at = utcnow()
    session.flush()


def _require_status(deployment: Deployment, allowed: Iterable[str], verb: str) -> None:
    """409 naming the current state and the states the transition needs."""
    allowed = tuple(allowed)
    if deployment.status not in allowed:
        raise ConflictError(
            f"deployment {deployment.id} is {deployment.status}; cannot {verb} it "
            f"(only when {' or '.join(allowed)})",
            code="invalid_transition",
        )


# --- reading ----------------------------------------------------------------------------------


def _visible(
    session: Session, principal: Principal, deployment_id: int, *, lock: bool = False
) -> Deployment:
    """The request if the caller may see it. ``lock`` (every transition) takes its row lock on
    PostgreSQL, so concurrent reviewers queue instead of failing; SQLite writers already queue."""
    deployment = session.get(
        Deployment, deployment_id, with_for_update=lock or None, populate_existing=lock
    )
    teams = principal.teams_with(Permission.MODELS_READ)
    if deployment is None or (teams is not None and deployment.team_id not in teams):
        raise NotFoundError(f"deployment {deployment_id} not found")
    return deployment


def _model_version(
    session: Session, deployment: Deployment
) -> tuple[RegisteredModel, ModelVersion]:
    model = session.get(RegisteredModel, deployment.model_id)
    version = session.get(ModelVersion, deployment.version_id)
    assert model is not None
    assert version is not None
    return model, version


def _snapshot(deployment: Deployment) -> dict[str, Any]:
    return {"status": deployment.status, "revision": deployment.revision}


def _finish(
    session: Session,
    principal: Principal,
    deployment: Deployment,
    action: str,
    *,
    before: dict[str, Any] | None,
    new: bool = False,
    note: dict[str, Any] | None = None,
) -> DeploymentRead:
    """Record ``action`` on ``deployment`` and read it back (``new``: created by this
    transaction, so it has no approvals yet; ``note``: more for the audit record)."""
    read = _reads(session, [deployment], new=new)[0]
    audit.record(
        session,
        actor=principal,
        action=action,
        object_type="deployment",
        object_id=deployment.id,
        before=before,
        after={
            "status": read.status,
            "revision": read.revision,
            "policy": deployment.policy_hash,
            **(note or {}),
        },
    )
    return read


def to_read(session: Session, deployment: Deployment) -> DeploymentRead:
    return _reads(session, [deployment])[0]


def _reads(
    session: Session, deployments: list[Deployment], *, new: bool = False
) -> list[DeploymentRead]:
    ids = [d.id for d in deployments]
    approvals: dict[int, list[ApprovalRead]] = {}
    if ids and not new:
        for row in session.scalars(
            select(DeploymentApproval)
            .where(DeploymentApproval.deployment_id.in_(ids))
            .order_by(DeploymentApproval.id)
        ):
            approvals.setdefault(row.deployment_id, []).append(ApprovalRead.model_validate(row))
    numbers = _version_numbers(session, {d.version_id for d in deployments})
    return [
        DeploymentRead(
            id=d.id,
            team_id=d.team_id,
            model_id=d.model_id,
            version_id=d.version_id,
            version=numbers[d.version_id],
            environment=d.environment,
            status=d.status,
            revision=d.revision,
            reason=d.reason,
            requested_by_id=d.requested_by_id,
            requested_by_api_key_id=d.requested_by_api_key_id,
            decision=DecisionRead.model_validate(d.decision),
            facts=d.facts,
            approvals=approvals.get(d.id, []),
            previous_id=d.previous_id,
            resumes_id=d.resumes_id,
            created_at=d.created_at,
            updated_at=d.updated_at,
            decided_at=d.decided_at,
            deployed_at=d.deployed_at,
        )
        for d in deployments
    ]


def _version_numbers(session: Session, version_ids: set[int]) -> dict[int, int]:
    """Each version's number: from the versions this session has loaded, else one query."""
    numbers: dict[int, int] = {}
    for version_id in version_ids:
        loaded = session.identity_map.get(Session.identity_key(ModelVersion, version_id))
        if isinstance(loaded, ModelVersion):
            numbers[version_id] = loaded.number
    missing = version_ids - numbers.keys()
    if missing:
        rows = session.execute(
            select(ModelVersion.id, ModelVersion.number).where(ModelVersion.id.in_(missing))
        )
        numbers.update((version_id, number) for version_id, number in rows)
    return numbers


def read(session: Session, *, principal: Principal, deployment_id: int) -> DeploymentRead:
    return to_read(session, _visible(session, principal, deployment_id))


def list_deployments(
    session: Session,
    *,
    principal: Principal,
    model_id: int | None,
    environment: str | None,
    statuses: Collection[str] | None,
    limit: int,
    offset: int,
    oldest_first: bool = False,
) -> Page[DeploymentRead]:
    query = select(Deployment)
    teams = principal.teams_with(Permission.MODELS_READ)
    if teams is not None:
        query = query.where(Deployment.team_id.in_(teams))
    if model_id is not None:
        query = query.where(Deployment.model_id == model_id)
    if environment is not None:
        query = query.where(Deployment.environment == environment)
    if statuses:
        query = query.where(Deployment.status.in_(list(statuses)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(
        session.scalars(
            query.order_by(
                *(
                    (Deployment.created_at, Deployment.id)
                    if oldest_first
                    else (Deployment.created_at.desc(), Deployment.id.desc())
                )
            )
            .limit(limit)
            .offset(offset)
        )
    )
    return Page(items=_reads(session, rows), total=total, limit=limit, offset=offset)


def history(
    session: Session, *, principal: Principal, deployment_id: int, limit: int, offset: int
) -> Page[DeploymentEventRead]:
    deployment = _visible(session, principal, deployment_id)
    query = select(DeploymentEvent).where(DeploymentEvent.deployment_id == deployment.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(DeploymentEvent.id).limit(limit).offset(offset)).all()
    return Page(
        items=[DeploymentEventRead.model_validate(e) for e in rows],
        total=total,
        limit=limit,
        offset=offset,
    )
