"""The CI gate: may this version go to this environment now? 0 allowed, 1 blocked, 2 pending."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftguard.errors import ErrorDetail, InvalidError, NotFoundError
from driftguard.governance.deployments import suspended_in
from driftguard.governance.evaluation import decision_read, evaluate, require_environment
from driftguard.governance.orm import Deployment
from driftguard.governance.oversight import suspension_of
from driftguard.governance.schemas import GateRead
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.registry import service as registry_service
from driftguard.registry.orm import RegisteredModel


def find_model(
    session: Session, *, principal: Principal, name: str, team_id: int | None
) -> RegisteredModel:
    """A model by name among those the caller may see; ambiguous names need the team."""
    query = select(RegisteredModel.id).where(RegisteredModel.name == name)
    teams = principal.teams_with(Permission.MODELS_READ)
    if teams is not None:
        query = query.where(RegisteredModel.team_id.in_(teams))
    if team_id is not None:
        query = query.where(RegisteredModel.team_id == team_id)
    ids = session.scalars(query.limit(2)).all()
    if not ids:
        raise NotFoundError(f"model {name!r} not found")
    if len(ids) > 1:
        raise InvalidError(
            f"team_id: several teams have a model named {name!r}; name the team",
            details=[ErrorDetail("team_id", "required: the model name is ambiguous")],
        )
    return registry_service.get_model(session, principal=principal, model_id=ids[0])


def check(
    session: Session,
    *,
    principal: Principal,
    model: RegisteredModel,
    number: int,
    environment: str,
    environments: frozenset[str],
) -> GateRead:
    """Judge now, without writing: blocked if a block rule fails, or while the version is
    suspended in the environment (until its resume request is approved); allowed when an
    approved or deployed request exists (or no approval is required); otherwise pending, with
    the open request if there is one."""
    require_environment(environment, environments)
    _, version = registry_service.resolve_version(
        session, principal=principal, model_id=model.id, number=number
    )
    evaluation = evaluate(
        session, model=model, version=version, environment=environment, now=datetime.now(UTC)
    )
    requests = session.execute(
        select(Deployment.id, Deployment.status, Deployment.resumes_id)
        .where(
            Deployment.version_id == version.id,
            Deployment.environment == environment,
            Deployment.status.in_(("pending_approval", "approved", "deployed")),
        )
        .order_by(Deployment.id.desc())
    ).all()
    suspended = suspended_in(session, version_id=version.id, environment=environment)
    if suspended is not None:
        # While suspended, only the approved request that resumes the suspension clears it.
        requests = [r for r in requests if r.resumes_id == suspended]
    cleared = [d for d, status, _ in requests if status in ("approved", "deployed")]
    outcome = evaluation.decision.outcome
    suspension = None
    if suspended is not None and not cleared:
        suspension = suspension_of(session, deployment_id=suspended)
        answer, code = "blocked", 1
    elif outcome == "blocked":
        answer, code = "blocked", 1
    elif outcome == "approved" or cleared:
        answer, code = "allowed", 0
    else:
        answer, code = "pending", 2
    deployment_id = cleared[0] if cleared else (requests[0][0] if requests else suspended)
    return GateRead(
        outcome=answer,
        exit_code=code,
        model_id=model.id,
        version=number,
        environment=environment,
        deployment_id=deployment_id,
        decision=decision_read(evaluation),
        suspension=suspension,
    )
