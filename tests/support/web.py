"""A small portfolio for the web UI's tests, built through the API as users would, and helpers
to sign in through the sign-in form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.identity import repository
from driftguard.identity.permissions import Role
from support.identity import PASSWORD, auth_headers, make_team, make_user
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.registry import create_model, create_version

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Portfolio:
    team: int
    other_team: int
    admin: str
    auditor: str
    engineer: str
    viewer: str
    outsider: str
    model_id: int
    other_model_id: int
    engineer_headers: dict[str, str]


def seed_portfolio(
    http: Any,
    factory: sessionmaker[Session],
    hasher: PasswordHasher,
    *,
    model_name: str = "credit-scorecard",
    description: str = "Retail credit scoring",
    use_case: str = "loan approvals",
    team_name: str | None = None,
    display_name: str | None = None,
    group: str = "f",
) -> Portfolio:
    """Two teams; a monitored model with drift and an unfair outcome (so alerts are open) in the
    first, an unmonitored one in the second. ``http`` is a TestClient or an httpx client."""
    team = make_team(factory, team_name)
    other = make_team(factory)
    admin = make_user(factory, hasher, platform_role=Role.ADMIN)
    auditor = make_user(factory, hasher, platform_role=Role.AUDITOR)
    engineer = make_user(factory, hasher, teams={team: Role.ML_ENGINEER})
    viewer = make_user(factory, hasher, teams={team: Role.VIEWER})
    outsider = make_user(factory, hasher, teams={other: Role.ML_ENGINEER})
    if display_name is not None:
        _rename(factory, engineer, display_name)
    headers = auth_headers(http, engineer)
    model = create_model(
        http,
        headers,
        team,
        name=model_name,
        description=description,
        use_case=use_case,
        tags=["retail", "eu"],
    )
    create_version(http, headers, model["id"])
    create_version(http, headers, model["id"], stage="staging")
    url = f"/api/v1/models/{model['id']}/versions/2"
    response = http.put(f"{url}/reference", json={"rows": reference_rows(500)}, headers=headers)
    assert response.status_code == 200, response.text
    for day in range(3):
        rows = prediction_rows(200, start=day * 1000, seed=day)
        for i, row in enumerate(rows):
            row["timestamp"] = (BASE_TIME + timedelta(days=day, minutes=5 * i)).isoformat()
            row["features"]["income"] += 1_500 * day
            if row["features"]["gender"] == "f":
                row["features"]["gender"] = group
            row["prediction"]["label"] = 1 if row["features"]["gender"] == "m" or i % 5 == 0 else 0
        logged = http.post(f"{url}/predictions", json={"rows": rows}, headers=headers)
        assert logged.status_code == 200, logged.text
        outcomes = [
            {"prediction_id": r["prediction_id"], "label": i % 2} for i, r in enumerate(rows)
        ]
        labelled = http.post(f"{url}/labels", json={"labels": outcomes}, headers=headers)
        assert labelled.status_code == 200, labelled.text
        start = BASE_TIME + timedelta(days=day)
        window = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
        ran = http.post(f"{url}/monitoring/runs", json=window, headers=headers)
        assert ran.status_code == 201, ran.text
    other_headers = auth_headers(http, outsider)
    other_model = create_model(http, other_headers, other, name="other-team-model")
    return Portfolio(
        team=team,
        other_team=other,
        admin=admin,
        auditor=auditor,
        engineer=engineer,
        viewer=viewer,
        outsider=outsider,
        model_id=model["id"],
        other_model_id=other_model["id"],
        engineer_headers=headers,
    )


def _rename(factory: sessionmaker[Session], email: str, display_name: str) -> None:
    with unit_of_work(factory) as session:
        user = repository.get_user_by_email(session, email)
        assert user is not None
        user.display_name = display_name


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def web_sign_in(client: Any, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token (from the sign-out form)."""
    form = client.get("/login")
    assert form.status_code == 200
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get("/")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


# Staging needs a reference and two team approvers (the default policy needs none there).
FOUR_EYES_POLICY = """\
schema_version: 1
description: staging needs two approvers
priority: 10
scope:
  environments: [staging]
rules:
  - name: reference_data
    fact: reference.rows
    operator: ">"
    threshold: 0
    severity: block
approvals:
  - environments: [staging]
    required: 2
    roles: [approver]
"""


@dataclass
class PendingReview:
    approvers: tuple[str, str]
    deployment_id: int
    policy_id: int


def seed_pending_review(
    http: Any,
    factory: sessionmaker[Session],
    hasher: PasswordHasher,
    portfolio: Portfolio,
    *,
    reason: str = "quarterly refresh",
    policy_description: str = "four eyes on staging",
    policy_comment: str = "reviewed by the risk office",
) -> PendingReview:
    """Two approvers in the portfolio's team, an active policy that wants both of them for
    staging, and the engineer's request to put version 2 on staging, pending approval."""
    approvers = (
        make_user(factory, hasher, teams={portfolio.team: Role.APPROVER}),
        make_user(factory, hasher, teams={portfolio.team: Role.APPROVER}),
    )
    admin = auth_headers(http, portfolio.admin)
    source = f"# {policy_comment}\n{FOUR_EYES_POLICY}"
    body = {"name": "four-eyes-staging", "description": policy_description, "source": source}
    created = http.post("/api/v1/policies", json=body, headers=admin)
    assert created.status_code == 201, created.text
    policy_id = created.json()["policy_id"]
    activated = http.post(f"/api/v1/policies/{policy_id}/versions/1/activate", headers=admin)
    assert activated.status_code == 200, activated.text
    requested = http.post(
        "/api/v1/deployments",
        json={
            "model_id": portfolio.model_id,
            "version": 2,
            "environment": "staging",
            "reason": reason,
        },
        headers=portfolio.engineer_headers,
    )
    assert requested.status_code == 201, requested.text
    deployment = requested.json()
    assert deployment["status"] == "pending_approval", deployment["decision"]
    assert deployment["decision"]["required_approvals"] == 2
    return PendingReview(approvers=approvers, deployment_id=deployment["id"], policy_id=policy_id)
