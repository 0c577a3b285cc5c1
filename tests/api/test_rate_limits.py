"""Rate limits: per account and address at login, per caller on the API, shared through Redis."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import create_app
from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from support.config import REDIS_URL
from support.identity import PASSWORD, auth_headers, make_team, make_user

LOGIN = "/api/v1/auth/login"
PROXY = ("10.0.0.1", 4000)


def limited_client(settings: Settings, engine: Engine, **overrides: object) -> TestClient:
    configured = settings.model_copy(
        update={
            "trusted_proxies": Settings(trusted_proxies="10.0.0.0/24").trusted_proxies,  # type: ignore[arg-type]
            "rate_limit_login": "3/minute",
            "rate_limit_api": "3/minute",
            "rate_limit_key_prefix": f"test-{uuid.uuid4().hex}",
            **overrides,
        }
    )
    return TestClient(create_app(configured, engine=engine), client=PROXY)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with limited_client(settings, engine) as test_client:
        yield test_client


def attempt(client: TestClient, email: str, address: str) -> Any:
    return client.post(
        LOGIN,
        json={"email": email, "password": "wrong-password-1234"},
        headers={"X-Forwarded-For": address},
    )


def assert_limited(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert set(response.json()) == {"error", "message", "details", "request_id"}
    assert response.json()["error"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60


def test_login_is_limited_per_account(client: TestClient) -> None:
    for n in range(3):
        assert attempt(client, "victim@example.com", f"198.51.100.{n}").status_code == 401
    assert_limited(attempt(client, "victim@example.com", "198.51.100.9"))
    assert attempt(client, "someone@example.com", "198.51.100.10").status_code == 401


def test_login_is_limited_per_client_address(client: TestClient) -> None:
    for n in range(3):
        assert attempt(client, f"user{n}@example.com", "203.0.113.7").status_code == 401
    assert_limited(attempt(client, "user9@example.com", "203.0.113.7"))
    assert attempt(client, "user9@example.com", "203.0.113.8").status_code == 401


def test_api_calls_are_limited_per_caller(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    team = make_team(session_factory)
    first = auth_headers(client, make_user(session_factory, hasher, teams={team: Role.VIEWER}))
    second = auth_headers(client, make_user(session_factory, hasher, teams={team: Role.VIEWER}))
    for _ in range(3):
        assert client.get("/api/v1/models", headers=first).status_code == 200
    assert_limited(client.get("/api/v1/models", headers=first))
    assert client.get("/api/v1/models", headers=second).status_code == 200


def test_redis_down_falls_back_to_local_limits_without_errors(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    team = make_team(session_factory)
    email = make_user(session_factory, hasher, teams={team: Role.VIEWER})
    # Nothing listens on port 1: every Redis call fails.
    with (
        caplog.at_level(logging.WARNING, logger="driftguard.ratelimit"),
        limited_client(settings, engine, redis_url="redis://127.0.0.1:1/0") as down,
    ):
        headers = {
            "Authorization": "Bearer "
            + down.post(LOGIN, json={"email": email, "password": PASSWORD}).json()["access_token"]
        }
        statuses = [down.get("/api/v1/models", headers=headers).status_code for _ in range(4)]
        fallbacks = down.app.state.rate_limiter.fallbacks  # type: ignore[attr-defined]
    assert statuses == [200, 200, 200, 429]
    assert fallbacks >= 1
    assert any("unavailable" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("storage", ["memory", *(["redis"] if REDIS_URL else [])])
def test_replicas_share_counters_only_through_redis(
    storage: str,
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    """Two app instances (replicas): with Redis one counter, in memory one each."""
    team = make_team(session_factory)
    email = make_user(session_factory, hasher, teams={team: Role.VIEWER})
    prefix = f"test-{uuid.uuid4().hex}"
    overrides: dict[str, object] = {"rate_limit_key_prefix": prefix}
    if storage == "redis":
        overrides["redis_url"] = REDIS_URL
    with ExitStack() as stack:
        one, two = (
            stack.enter_context(limited_client(settings, engine, **overrides)) for _ in range(2)
        )
        token = one.post(LOGIN, json={"email": email, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        statuses = [
            replica.get("/api/v1/models", headers=headers).status_code
            for replica in (one, two, one, two)
        ]
        assert one.app.state.rate_limiter.fallbacks == 0  # type: ignore[attr-defined]
    if storage == "redis":
        assert statuses == [200, 200, 200, 429]
    else:
        assert statuses == [200, 200, 200, 200]
