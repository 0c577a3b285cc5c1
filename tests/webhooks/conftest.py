from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from driftguard.webhooks.delivery import build_http_client
from support.config import make_settings
from support.identity import auth_headers, make_team, make_user
from support.webhooks import Receiver, loopback_receiver


@pytest.fixture
def settings(engine: Engine) -> Settings:
    # Only these tests may aim webhooks at loopback, and only at their own receiver.
    return make_settings(
        engine.url.render_as_string(hide_password=False),
        webhook_allow_private_targets=True,
        webhook_backoff_seconds=0,
        webhook_max_attempts=3,
        webhook_timeout_seconds=2,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with loopback_receiver() as r:
        yield r


@pytest.fixture
def http(settings: Settings) -> Iterator[httpx2.Client]:
    with build_http_client(settings) as client:
        yield client


@dataclass
class Team:
    id: int
    engineer: dict[str, str]
    viewer: dict[str, str]
    approver: dict[str, str]
    outsider: dict[str, str]

    @property
    def url(self) -> str:
        return f"/api/v1/teams/{self.id}/webhooks"


@pytest.fixture
def team(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Team:
    team_id, other = make_team(session_factory), make_team(session_factory)

    def member(role: Role, team: int = team_id) -> dict[str, str]:
        return auth_headers(client, make_user(session_factory, hasher, teams={team: role}))

    return Team(
        id=team_id,
        engineer=member(Role.ML_ENGINEER),
        viewer=member(Role.VIEWER),
        approver=member(Role.APPROVER),
        outsider=member(Role.ML_ENGINEER, other),
    )
