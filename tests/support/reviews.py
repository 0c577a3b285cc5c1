"""Builders for periodic-review tests: a team with an owner, validators and bystanders, a model
with a card naming its owner, and production deployments placed at a chosen time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.governance.orm import Deployment
from driftguard.identity.orm import User
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.registry.orm import ModelVersion
from support.identity import auth_headers, make_team, make_user
from support.registry import create_model, create_version

Headers = dict[str, str]


@dataclass
class Person:
    id: int
    email: str
    headers: Headers
    principal: Principal


@dataclass
class ReviewTeam:
    id: int
    other: int  # another team
    owner: Person  # ml_engineer named owner by the model's card
    engineer: Person  # another ml_engineer of the team
    validator: Person
    second_validator: Person
    viewer: Person
    foreign_validator: Person  # a validator of the other team
    model_id: int
    version_id: int

    @property
    def reviews(self) -> str:
        return f"/api/v1/models/{self.model_id}/versions/1/reviews"


def user_id(factory: sessionmaker[Session], email: str) -> int:
    with unit_of_work(factory) as session:
        found = session.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return found


def person(
    client: TestClient,
    factory: sessionmaker[Session],
    hasher: PasswordHasher,
    team_id: int,
    role: Role,
) -> Person:
    email = make_user(factory, hasher, teams={team_id: role})
    uid = user_id(factory, email)
    return Person(
        uid, email, auth_headers(client, email), Principal(uid, team_roles={team_id: role})
    )


def make_review_team(
    client: TestClient,
    factory: sessionmaker[Session],
    hasher: PasswordHasher,
    *,
    card: bool = True,
    **model_fields: Any,
) -> ReviewTeam:
    team_id, other = make_team(factory), make_team(factory)
    owner = person(client, factory, hasher, team_id, Role.ML_ENGINEER)
    model = create_model(client, owner.headers, team_id, **model_fields)
    version = create_version(client, owner.headers, model["id"])
    if card:
        response = client.put(
            f"/api/v1/models/{model['id']}/card",
            json={"owner_id": owner.id, "business_use": "credit decisions"},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
    return ReviewTeam(
        id=team_id,
        other=other,
        owner=owner,
        engineer=person(client, factory, hasher, team_id, Role.ML_ENGINEER),
        validator=person(client, factory, hasher, team_id, Role.VALIDATOR),
        second_validator=person(client, factory, hasher, team_id, Role.VALIDATOR),
        viewer=person(client, factory, hasher, team_id, Role.VIEWER),
        foreign_validator=person(client, factory, hasher, other, Role.VALIDATOR),
        model_id=model["id"],
        version_id=version["id"],
    )


def go_live(
    factory: sessionmaker[Session],
    *,
    team_id: int,
    model_id: int,
    version_id: int,
    at: datetime,
    environment: str = "production",
    status: str = "deployed",
) -> int:
    """A deployment of the version, live in ``environment`` since ``at`` (written directly: the
    four-eyes workflow has its own tests)."""
    with unit_of_work(factory) as session:
        deployment = Deployment(
            team_id=team_id,
            model_id=model_id,
            version_id=version_id,
            environment=environment,
            status=status,
            policy_name="driftguard-default",
            policy_hash="0" * 64,
            facts_hash="0" * 64,
            facts={},
            decision={},
            created_at=at,
            updated_at=at,
            decided_at=at,
            deployed_at=at,
        )
        session.add(deployment)
        session.flush()
        return deployment.id


def registered_at(factory: sessionmaker[Session], version_id: int, at: datetime) -> None:
    with unit_of_work(factory) as session:
        session.execute(
            update(ModelVersion).where(ModelVersion.id == version_id).values(created_at=at)
        )


def attest(client: TestClient, who: Person, url: str, conclusion: str, **body: Any) -> Any:
    return client.post(url, json={"conclusion": conclusion, **body}, headers=who.headers)
