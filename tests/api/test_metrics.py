"""Prometheus metrics: what is measured, who may scrape, and that promtool accepts the output."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import create_app
from driftguard.encryption import new_key
from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from support.identity import auth_headers, make_team, make_user

TOKEN = "scrape-Wq3vZk9Lx2Rb7Tn4Yp8Hc6Jd1Fs5Gm0"


def app_client(settings: Settings, engine: Engine, **overrides: object) -> TestClient:
    configured = Settings.model_validate({**settings.model_dump(), **overrides})
    return TestClient(create_app(configured, engine=engine))


@pytest.fixture
def limited(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with app_client(settings, engine, rate_limit_api="2/minute") as client:
        yield client


def test_requests_latency_rejections_and_pool_are_measured(
    limited: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    team = make_team(session_factory)
    headers = auth_headers(limited, make_user(session_factory, hasher, teams={team: Role.VIEWER}))
    for _ in range(3):
        limited.get("/api/v1/models/12345", headers=headers)
    body = limited.get("/metrics").text
    route = 'method="GET",route="/api/v1/models/{model_id}"'
    assert f'driftguard_http_requests_total{{{route},status="404"}} 2.0' in body
    assert f'driftguard_http_requests_total{{{route},status="429"}} 1.0' in body
    assert f"driftguard_http_request_duration_seconds_count{{{route}}} 3.0" in body
    assert 'driftguard_rate_limit_rejections_total{limit="api"} 1.0' in body
    assert "driftguard_db_pool_connections_in_use " in body
    assert "driftguard_rate_limit_storage_fallbacks_total 0.0" in body


def test_output_passes_promtool(limited: TestClient) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (see .ci/run)")
    limited.get("/livez")
    limited.get("/api/v1/nowhere")
    body = limited.get("/metrics").content
    checked = subprocess.run(  # noqa: S603 - a fixed local tool
        [promtool, "check", "metrics"], input=body, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_configured_token_is_required(settings: Settings, engine: Engine) -> None:
    with app_client(settings, engine, metrics_token=TOKEN) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "unauthenticated"
        right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200
        assert right.headers["content-type"].startswith("text/plain")


def test_production_without_a_token_serves_no_metrics(settings: Settings, engine: Engine) -> None:
    with app_client(settings, engine, environment="production", secrets_key=new_key()) as client:
        assert client.get("/metrics").status_code == 404
