"""The API's shared conventions: error body, request ids, size limit, health probes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine

from driftguard.app import create_app
from driftguard.settings import Settings

ERROR_KEYS = {"error", "message", "details", "request_id"}


def test_livez_and_readyz(client: TestClient) -> None:
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok"}


@pytest.fixture
def client_without_database(settings: Settings) -> Iterator[TestClient]:
    # A PostgreSQL address where nothing listens: the database is "down".
    dead: Engine = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 1}
    )
    with TestClient(create_app(settings, engine=dead)) as test_client:
        yield test_client
    dead.dispose()


def test_readyz_is_503_when_the_database_is_down(client_without_database: TestClient) -> None:
    response = client_without_database.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable"
    assert response.headers["retry-after"]


def test_requests_get_503_not_500_when_the_database_is_down(
    client_without_database: TestClient,
) -> None:
    response = client_without_database.post(
        "/api/v1/auth/login", json={"email": "a@example.com", "password": "p" * 20}
    )
    assert response.status_code == 503
    assert set(response.json()) == ERROR_KEYS
    assert response.headers["retry-after"]


def test_request_id_is_echoed_when_safe_and_generated_otherwise(client: TestClient) -> None:
    given = client.get("/livez", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = client.get("/livez")
    assert len(generated.headers["x-request-id"]) == 32
    hostile = client.get("/livez", headers={"X-Request-ID": "a b\tc<script>"})
    assert hostile.headers["x-request-id"] != "a b\tc<script>"
    assert hostile.headers["x-request-id"].isalnum()


def test_unknown_route_and_method_use_the_error_body(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert set(missing.json()) == ERROR_KEYS
    wrong_method = client.put("/livez")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/login",
        content=b'{"email": "a@example.com", "password": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


def test_oversized_body_is_413_by_declared_length(client: TestClient) -> None:
    big = b'{"email": "' + b"a" * 2_000_000 + b'", "password": "x"}'
    response = client.post(
        "/api/v1/auth/login", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_oversized_streamed_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"email": "'
        for _ in range(300):
            yield b"a" * 8192
        yield b'", "password": "x"}'

    response = client.post(
        "/api/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert set(response.json()) == ERROR_KEYS


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/models" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_only_transient_database_errors_are_503() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from driftguard.db.session import is_transient

    def error(message: str) -> OperationalError:
        return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))

    assert is_transient(error("database is locked"))
    assert not is_transient(error("no such table: prediction_block_counts"))
