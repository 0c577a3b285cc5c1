from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from support.config import make_settings
from support.identity import auth_headers, make_team, make_user
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.registry import create_model, create_version

Headers = dict[str, str]
INJECTED = '=HYPERLINK("x","y")'


@dataclass
class Org:
    team: int
    other_team: int
    engineer: Headers
    viewer: Headers
    auditor: Headers  # platform role: reads every team, with audit:read
    stranger: Headers  # an engineer of another team
    model_id: int
    url: str  # /api/v1/models/{id}/versions/1
    deployment_id: int


@pytest.fixture
def settings(engine: Engine) -> Settings:
    # Several people sign in from one address in a test.
    return make_settings(
        engine.url.render_as_string(hide_password=False), rate_limit_login="100/minute"
    )


def monitor(client: TestClient, headers: Headers, url: str, *, day: int, drifted: bool) -> None:
    rows = prediction_rows(300, start=day * 1000, seed=day)
    for i, row in enumerate(rows):
        row["timestamp"] = (BASE_TIME + timedelta(days=day, minutes=2 * i)).isoformat()
        if drifted:
            row["features"]["income"] += 3_000
    response = client.post(f"{url}/predictions", json={"rows": rows}, headers=headers)
    assert response.status_code == 200, response.text
    start = BASE_TIME + timedelta(days=day)
    window = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    response = client.post(f"{url}/monitoring/runs", json=window, headers=headers)
    assert response.status_code == 201, response.text


@pytest.fixture
def org(client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher) -> Org:
    team, other = make_team(session_factory), make_team(session_factory)

    def user(**kwargs: Any) -> Headers:
        return auth_headers(client, make_user(session_factory, hasher, **kwargs))

    engineer = user(teams={team: Role.ML_ENGINEER})
    model = create_model(
        client,
        engineer,
        team,
        use_case=INJECTED,
        tags=["credit"],
        description="<script>alert(1)</script> scores SME loans",
    )
    create_version(client, engineer, model["id"])
    url = f"/api/v1/models/{model['id']}/versions/1"
    response = client.put(
        f"{url}/reference", json={"rows": reference_rows(1_000)}, headers=engineer
    )
    assert response.status_code == 200, response.text
    monitor(client, engineer, url, day=0, drifted=False)
    monitor(client, engineer, url, day=1, drifted=True)
    body = {"model_id": model["id"], "version": 1, "environment": "staging", "reason": "trial"}
    response = client.post("/api/v1/deployments", json=body, headers=engineer)
    assert response.status_code == 201, response.text
    return Org(
        team=team,
        other_team=other,
        engineer=engineer,
        viewer=user(teams={team: Role.VIEWER}),
        auditor=user(platform_role=Role.AUDITOR),
        stranger=user(teams={other: Role.ML_ENGINEER}),
        model_id=model["id"],
        url=url,
        deployment_id=response.json()["id"],
    )


def pack_json(client: TestClient, org: Org, headers: Headers) -> dict[str, Any]:
    response = client.get(f"{org.url}/evidence", params={"format": "json"}, headers=headers)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document
