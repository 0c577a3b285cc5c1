from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.cli.demo import seed_demo
from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.identity.passwords import build_hasher
from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from support.config import POSTGRES_URL, make_settings
from support.databases import throwaway_postgres
from support.identity import auth_headers, make_team, make_user
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.registry import create_model, create_version
from support.versions import Setup, make_setup

Headers = dict[str, str]
DEMO_MODELS = 12
# Tests that only read the demo portfolio share one seeding per backend (about 20 s on
# PostgreSQL): mark them with this group so they run on the same worker.
DEMO_GROUP = pytest.mark.xdist_group("demo_portfolio")


@pytest.fixture(scope="session")
def demo_portfolio(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """The demo's portfolio of ``DEMO_MODELS`` models in a database of its own, seeded once
    per backend; tests that use it must not write to it."""
    with ExitStack() as stack:
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
        else:
            assert POSTGRES_URL is not None
            url = stack.enter_context(throwaway_postgres(POSTGRES_URL, "dg_demo"))
        settings = make_settings(url)
        engine = build_engine(settings)
        stack.callback(engine.dispose)
        migrate.upgrade(engine)
        factory = build_session_factory(engine)
        with unit_of_work(factory) as session:
            seed_demo(session, hasher=build_hasher(settings), model_count=DEMO_MODELS)
        yield factory


@dataclass
class Org:
    team: int
    engineer: Headers
    approvers: list[Headers]
    viewer: Headers
    outsider: Headers  # an approver of another team
    stranger: Headers  # an engineer of another team
    admin: Headers
    model_id: int
    url: str  # /api/v1/models/{id}/versions/1


@pytest.fixture
def settings(engine: Engine) -> Settings:
    # Four-eyes needs more people than the login limit lets one address sign in per minute.
    return make_settings(
        engine.url.render_as_string(hide_password=False), rate_limit_login="100/minute"
    )


@pytest.fixture
def setup(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Setup:
    return make_setup(client, session_factory, hasher)


@pytest.fixture
def org(client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher) -> Org:
    team, other = make_team(session_factory), make_team(session_factory)

    def user(**kwargs: Any) -> Headers:
        return auth_headers(client, make_user(session_factory, hasher, **kwargs))

    engineer = user(teams={team: Role.ML_ENGINEER})
    model = create_model(client, engineer, team)
    create_version(client, engineer, model["id"])
    return Org(
        team=team,
        engineer=engineer,
        approvers=[user(teams={team: Role.APPROVER}) for _ in range(3)],
        viewer=user(teams={team: Role.VIEWER}),
        outsider=user(teams={other: Role.APPROVER}),
        stranger=user(teams={other: Role.ML_ENGINEER}),
        admin=user(platform_role=Role.ADMIN),
        model_id=model["id"],
        url=f"/api/v1/models/{model['id']}/versions/1",
    )


def monitor(client: TestClient, org: Org, *, drifted: bool = False, day: int = 0) -> None:
    """Reference data, a day of predictions and a completed monitoring run."""
    if day == 0:
        response = client.put(
            f"{org.url}/reference", json={"rows": reference_rows(2_000)}, headers=org.engineer
        )
        assert response.status_code == 200, response.text
    rows = prediction_rows(400, start=day * 1000, seed=day)
    for i, row in enumerate(rows):
        row["timestamp"] = (BASE_TIME + timedelta(days=day, minutes=2 * i)).isoformat()
        if drifted:
            row["features"]["income"] += 3_000
    response = client.post(f"{org.url}/predictions", json={"rows": rows}, headers=org.engineer)
    assert response.status_code == 200, response.text
    start = BASE_TIME + timedelta(days=day)
    window = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    response = client.post(f"{org.url}/monitoring/runs", json=window, headers=org.engineer)
    assert response.status_code == 201, response.text


def request(
    client: TestClient, org: Org, environment: str = "production", **extra: Any
) -> dict[str, Any]:
    body = {"model_id": org.model_id, "version": 1, "environment": environment, **extra}
    response = client.post("/api/v1/deployments", json=body, headers=org.engineer)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def act(
    client: TestClient, headers: Headers, deployment_id: int, verb: str, comment: str = ""
) -> Any:
    body = None if verb == "deploy" else {"comment": comment}
    return client.post(f"/api/v1/deployments/{deployment_id}/{verb}", json=body, headers=headers)
