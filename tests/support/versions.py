"""One model version with an engineer, a viewer and an outsider: what the ingest, monitoring,
governance and jobs tests start from."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from driftguard.identity.permissions import Role
from support.identity import auth_headers, make_team, make_user
from support.registry import create_model, create_version


@dataclass
class Setup:
    engineer: dict[str, str]
    viewer: dict[str, str]
    outsider: dict[str, str]
    model_id: int
    version_id: int
    url: str  # /api/v1/models/{id}/versions/1


def make_setup(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Setup:
    """A team's model with version 1, and the headers of its engineer, a viewer and an
    engineer of another team."""
    team, other = make_team(session_factory), make_team(session_factory)
    engineer = auth_headers(
        client, make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    )
    viewer = auth_headers(client, make_user(session_factory, hasher, teams={team: Role.VIEWER}))
    outsider = auth_headers(
        client, make_user(session_factory, hasher, teams={other: Role.ML_ENGINEER})
    )
    model = create_model(client, engineer, team)
    version = create_version(client, engineer, model["id"])
    return Setup(
        engineer=engineer,
        viewer=viewer,
        outsider=outsider,
        model_id=model["id"],
        version_id=version["id"],
        url=f"/api/v1/models/{model['id']}/versions/1",
    )
