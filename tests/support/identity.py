"""Builders for identity objects, committed through the real services."""

from __future__ import annotations

import itertools

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.identity import service
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.identity.schemas import MembershipCreate, TeamCreate, UserCreate

PASSWORD = "correct-otter-lantern-meadow"
SYSTEM = Principal(user_id=None, platform_role=Role.ADMIN)
_counter = itertools.count(1)


def make_team(factory: sessionmaker[Session], name: str | None = None) -> int:
    with unit_of_work(factory) as session:
        team = service.create_team(
            session, actor=SYSTEM, data=TeamCreate(name=name or f"team-{next(_counter)}")
        )
        return team.id


def make_user(
    factory: sessionmaker[Session],
    hasher: PasswordHasher,
    *,
    platform_role: Role | None = None,
    teams: dict[int, Role] | None = None,
    email: str | None = None,
    password: str = PASSWORD,
) -> str:
    """Create a user (with memberships) and return their email."""
    email = email or f"user{next(_counter)}@example.com"
    with unit_of_work(factory) as session:
        user = service.create_user(
            session,
            actor=SYSTEM,
            data=UserCreate(
                email=email, display_name=email, password=password, platform_role=platform_role
            ),
            hasher=hasher,
        )
        for team_id, role in (teams or {}).items():
            service.add_membership(
                session,
                principal=SYSTEM,
                team_id=team_id,
                data=MembershipCreate(user_id=user.id, role=role),
            )
    return email


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def auth_headers(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(client, email, password)['access_token']}"}
