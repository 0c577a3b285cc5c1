"""Unexpected errors reach Sentry (a loopback sink here) with every secret scrubbed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import sentry_sdk
from argon2 import PasswordHasher
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.api.deps import require
from driftguard.app import create_app
from driftguard.error_reports import close_error_reports, configure_error_reports
from driftguard.identity.permissions import Permission, Role
from driftguard.settings import Settings
from support.identity import PASSWORD, auth_headers, make_team, make_user
from support.sentry_sink import SentrySink, sentry_sink

COOKIE = "session=c00kie-s3cret-value"
API_KEY = "dgk_Zm9vYmFyYmF6cXV4cXV1eA"


@pytest.fixture
def sink() -> Iterator[SentrySink]:
    with sentry_sink() as captured:
        try:
            yield captured
        finally:
            close_error_reports()


def _failing_router(secret_token: str) -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/explode", dependencies=[require(Permission.MODELS_READ)])
    def explode() -> None:
        raise RuntimeError(
            f"upstream refused token={secret_token} password={PASSWORD} with {API_KEY}"
        )

    return router


def test_an_unexpected_error_is_reported_without_secrets(
    sink: SentrySink,
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    configured = settings.model_copy(update={"sentry_dsn": SecretStr(sink.dsn)})
    app = create_app(configured, engine=engine)
    email = make_user(session_factory, hasher, teams={make_team(session_factory): Role.VIEWER})
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = auth_headers(client, email)
        bearer = headers["Authorization"].removeprefix("Bearer ")
        app.include_router(_failing_router(bearer))
        response = client.post(
            "/api/v1/explode",
            headers={**headers, "Cookie": COOKIE, "X-API-Key-Hint": API_KEY},
            json={"password": PASSWORD, "refresh_token": "r3fr3sh-t0ken-value"},
        )
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    sentry_sdk.flush(timeout=5)

    events = sink.wait_for_events(1)
    assert len(events) == 1  # the logged copy of the same exception is de-duplicated
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["tags"]["request_id"] == response.json()["request_id"] != ""
    assert response.headers["x-request-id"] == event["tags"]["request_id"]
    assert event["tags"]["route"] == "/api/v1/explode"
    assert "[redacted]" in event["exception"]["values"][-1]["value"]
    sent = b"\n".join(sink.bodies).decode()
    for secret in (bearer, PASSWORD, "c00kie-s3cret-value", API_KEY, "r3fr3sh-t0ken-value"):
        assert secret not in sent, f"{secret[:12]}… reached the error report"


def test_error_level_logs_are_reported_scrubbed(sink: SentrySink, settings: Settings) -> None:
    assert configure_error_reports(settings.model_copy(update={"sentry_dsn": SecretStr(sink.dsn)}))
    logging.getLogger("driftguard.monitoring").error(
        "tick failed for Authorization: Bearer abc.def-ghi and password=%s", PASSWORD
    )
    sentry_sdk.flush(timeout=5)
    events = sink.wait_for_events(1)
    assert len(events) == 1
    text = json.dumps(events[0])
    assert "tick failed" in text
    assert PASSWORD not in text
    assert "abc.def-ghi" not in text


def test_nothing_is_configured_without_a_dsn(settings: Settings) -> None:
    assert settings.sentry_dsn is None
    assert configure_error_reports(settings) is False
    assert not sentry_sdk.get_client().is_active()
