"""Twenty concurrent approvals or deploys of one request take effect exactly once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.errors import ConflictError
from driftguard.governance import deployments
from driftguard.governance.orm import Deployment, DeploymentApproval, DeploymentEvent
from driftguard.identity.orm import User
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from support.identity import make_user

from .conftest import Org, monitor, request

THREADS = 20


def race(factory: sessionmaker[Session], calls: list[Callable[[Session], object]]) -> list[str]:
    """Run each call in its own transaction at once; the outcome of each: ok or an error code."""

    def attempt(call: Callable[[Session], object]) -> str:
        try:
            with unit_of_work(factory) as session:
                call(session)
            return "ok"
        except ConflictError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return list(pool.map(attempt, calls))


def events(factory: sessionmaker[Session], deployment_id: int, action: str) -> int:
    with unit_of_work(factory) as session:
        return (
            session.scalar(
                select(func.count()).where(
                    DeploymentEvent.deployment_id == deployment_id, DeploymentEvent.action == action
                )
            )
            or 0
        )


def test_twenty_concurrent_deploys_deploy_once(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    monitor(client, org)
    approved = request(client, org, "staging")
    engineer = Principal(user_id=None, team_roles={org.team: Role.ML_ENGINEER}, api_key_id=None)
    outcomes = race(
        session_factory,
        [lambda s: deployments.deploy(s, principal=engineer, deployment_id=approved["id"])]
        * THREADS,
    )
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) <= {"ok", "invalid_transition", "concurrent_change"}
    assert events(session_factory, approved["id"], "deploy") == 1
    with unit_of_work(session_factory) as session:
        live = session.scalar(
            select(func.count()).where(
                Deployment.status == "deployed", Deployment.model_id == org.model_id
            )
        )
    assert live == 1


def test_twenty_concurrent_approvals_reach_the_quorum_once(
    client: TestClient,
    org: Org,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    monitor(client, org)
    pending = request(client, org)
    emails = [
        make_user(session_factory, hasher, teams={org.team: Role.APPROVER}) for _ in range(THREADS)
    ]
    with unit_of_work(session_factory) as session:
        ids = session.scalars(select(User.id).where(User.email.in_(emails))).all()
    approvers = [Principal(user_id=i, team_roles={org.team: Role.APPROVER}) for i in ids]

    def approve(principal: Principal) -> Callable[[Session], object]:
        return lambda s: deployments.approve(
            s, principal=principal, deployment_id=pending["id"], comment=""
        )

    outcomes = race(session_factory, [approve(p) for p in approvers])
    assert events(session_factory, pending["id"], "quorum") == 1
    with unit_of_work(session_factory) as session:
        stored = session.scalar(
            select(func.count()).where(DeploymentApproval.deployment_id == pending["id"])
        )
        status = session.scalar(select(Deployment.status).where(Deployment.id == pending["id"]))
    assert status == "approved"
    # Every approval that was acknowledged is stored, and no other; the quorum needed two.
    assert stored == outcomes.count("ok") >= 2, outcomes
    assert set(outcomes) <= {"ok", "invalid_transition", "concurrent_change"}
