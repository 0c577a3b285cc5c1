"""Headers every client relies on: nothing cached from the API, ``Allow`` on 405."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from driftguard.identity.permissions import Role
from support.identity import PASSWORD, make_team, make_user

LOGIN = "/api/v1/auth/login"


@pytest.fixture
def email(session_factory: sessionmaker[Session], hasher: PasswordHasher) -> str:
    return make_user(session_factory, hasher, teams={make_team(session_factory): Role.VIEWER})


def test_token_routes_and_authenticated_answers_are_not_stored(
    client: TestClient, email: str
) -> None:
    signed_in = client.post(LOGIN, json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200
    assert signed_in.headers["cache-control"] == "no-store"
    tokens = signed_in.json()
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    assert refreshed.headers["cache-control"] == "no-store"
    headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    for path in ("/api/v1/models", "/api/v1/dashboard", "/api/v1/models/999999"):
        answer = client.get(path, headers=headers)
        assert answer.status_code in (200, 404), (path, answer.text)
        assert answer.headers["cache-control"] == "no-store", path
    refused = client.get("/api/v1/models", headers={"Authorization": "Bearer nonsense"})
    assert (refused.status_code, refused.headers["cache-control"]) == (401, "no-store")
    # The stylesheet chooses its own caching.
    assets = [a for a in client.app.state.assets if a.endswith(".css")]  # type: ignore[attr-defined]
    assert "no-store" not in client.get(f"/static/{assets[0]}").headers["cache-control"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/models", {"GET", "POST"}),
        ("GET", LOGIN, {"POST"}),
        ("PUT", "/login", {"GET", "POST"}),
        ("POST", "/livez", {"GET"}),
    ],
)
def test_405_names_every_method_the_path_answers(
    client: TestClient, method: str, path: str, allowed: set[str]
) -> None:
    # A token (any) gets a body-carrying method past the credentials check to the router.
    answer = client.request(method, path, headers={"Authorization": "Bearer x"})
    assert answer.status_code == 405
    assert {m.strip() for m in answer.headers["allow"].split(",")} == allowed
    assert answer.json()["error"] == "method_not_allowed"
