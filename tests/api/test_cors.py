from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from driftguard.app import create_app
from driftguard.settings import Settings

ALLOWED = "https://ui.driftguard.example"


@pytest.fixture
def cors_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    configured = settings.model_copy(update={"cors_origins": [ALLOWED]})
    with TestClient(create_app(configured, engine=engine)) as test_client:
        yield test_client


def test_listed_origins_get_credentialed_cors_and_others_get_none(
    cors_client: TestClient,
) -> None:
    allowed = cors_client.get("/livez", headers={"Origin": ALLOWED})
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "origin" in allowed.headers["vary"].lower()
    other = cors_client.get("/livez", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = cors_client.options(
        "/api/v1/models",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    refused = cors_client.options(
        "/api/v1/models",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400


def test_no_origins_configured_means_no_cors_headers(client: TestClient) -> None:
    response = client.get("/livez", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in response.headers
