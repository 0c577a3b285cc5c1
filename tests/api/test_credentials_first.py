"""Requests without credentials are refused before their body is read (401 before 413)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

UPLOAD = "/api/v1/models/1/versions/1/predictions/upload"


class Body:
    """A request body that records whether anyone read it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read = False

    def __iter__(self) -> Iterator[bytes]:
        self.read = True
        yield b"x" * self.size


@pytest.mark.parametrize(
    "path", [UPLOAD, "/api/v1/models/1/versions/1/predictions", "/api/v1/teams"]
)
def test_no_credentials_is_401_without_reading_the_body(client: TestClient, path: str) -> None:
    body = Body(1024)
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"
    assert body.read is False


def test_401_comes_before_413(client: TestClient) -> None:
    huge = str(10 * 2**40)  # declared, never sent
    response = client.post("/api/v1/teams", content=b"", headers={"content-length": huge})
    assert response.status_code == 401
    with_credentials = client.post(
        "/api/v1/teams",
        content=b"",
        headers={"content-length": huge, "authorization": "Bearer whatever"},
    )
    assert with_credentials.status_code == 413


def test_public_routes_and_reads_are_not_affected(client: TestClient) -> None:
    login = client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "x"})
    assert login.status_code == 401
    assert login.json()["error"] == "bad_credentials"  # judged by the route, not the guard
    assert client.get("/livez").status_code == 200
    assert client.get("/api/v1/teams").status_code == 401
