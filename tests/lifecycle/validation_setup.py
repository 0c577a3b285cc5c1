"""A team with a model version, its author, validators, an owner and outsiders: the fixtures and
builders of the validation and findings tests (a module of its own, not a conftest, so the other
lifecycle tests keep their own fixtures; the test modules import ``org`` and ``settings``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.identity.orm import User
from driftguard.identity.permissions import Role
from driftguard.monitoring.orm import MonitoringReport, MonitoringRun
from driftguard.registry.orm import ModelVersion
from driftguard.settings import Settings
from support.config import make_settings
from support.identity import auth_headers, make_team, make_user
from support.registry import create_model, create_version

Headers = dict[str, str]


@dataclass
class Org:
    team: int
    other_team: int
    engineer: Headers  # created the model and version 1
    validator: Headers
    validator_id: int
    owner: Headers  # an engineer of the team who owns findings
    owner_id: int
    viewer: Headers
    viewer_id: int
    outsider: Headers  # a validator of another team
    outsider_id: int
    admin: Headers
    model_id: int
    url: str  # /api/v1/models/{id}/versions/1/validations


@pytest.fixture(name="settings")
def settings_fixture(engine: Engine) -> Settings:
    # More people sign in than the default login limit lets one address per minute.
    return make_settings(
        engine.url.render_as_string(hide_password=False), rate_limit_login="200/minute"
    )


def user_id(factory: sessionmaker[Session], email: str) -> int:
    with unit_of_work(factory) as session:
        found = session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return found


@pytest.fixture(name="org")
def org_fixture(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Org:
    team, other = make_team(session_factory), make_team(session_factory)

    def person(**kwargs: Any) -> tuple[Headers, int]:
        email = make_user(session_factory, hasher, **kwargs)
        return auth_headers(client, email), user_id(session_factory, email)

    engineer, _ = person(teams={team: Role.ML_ENGINEER})
    model = create_model(client, engineer, team)
    create_version(client, engineer, model["id"])
    validator, validator_id = person(teams={team: Role.VALIDATOR})
    owner, owner_id = person(teams={team: Role.ML_ENGINEER})
    viewer, viewer_id = person(teams={team: Role.VIEWER})
    outsider, outsider_id = person(teams={other: Role.VALIDATOR})
    admin, _ = person(platform_role=Role.ADMIN)
    return Org(
        team=team,
        other_team=other,
        engineer=engineer,
        validator=validator,
        validator_id=validator_id,
        owner=owner,
        owner_id=owner_id,
        viewer=viewer,
        viewer_id=viewer_id,
        outsider=outsider,
        outsider_id=outsider_id,
        admin=admin,
        model_id=model["id"],
        url=f"/api/v1/models/{model['id']}/versions/1/validations",
    )


def add_report(factory: sessionmaker[Session], model_id: int, number: int) -> int:
    """A stored drift report of the version (what a monitoring run leaves)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with unit_of_work(factory) as session:
        version_id = session.scalar(
            select(ModelVersion.id).where(
                ModelVersion.model_id == model_id, ModelVersion.number == number
            )
        )
        assert version_id is not None
        run = MonitoringRun(
            version_id=version_id,
            window_start=start,
            window_end=start + timedelta(days=1),
            trigger="manual",
            status="completed",
        )
        session.add(run)
        session.flush()
        report = MonitoringReport(
            run_id=run.id,
            version_id=version_id,
            kind="drift",
            window_start=start,
            window_end=start + timedelta(days=1),
            payload={},
        )
        session.add(report)
        session.flush()
        return report.id


def open_validation(client: TestClient, org: Org, **extra: Any) -> dict[str, Any]:
    body = {"scope": "conceptual soundness and outcomes", "method": "back-testing", **extra}
    response = client.post(org.url, json=body, headers=org.validator)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def raise_finding(client: TestClient, org: Org, validation_id: int, **extra: Any) -> dict[str, Any]:
    body = {
        "title": "Calibration drifts in the top decile",
        "severity": "high",
        "owner_id": org.owner_id,
        "due_date": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
        **extra,
    }
    response = client.post(f"{org.url}/{validation_id}/findings", json=body, headers=org.validator)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
