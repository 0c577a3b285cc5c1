"""JSON log lines with request context, a rotating file sink, and no secret in any line."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import create_app
from driftguard.identity.permissions import Role
from driftguard.logs import REDACTED, configure_logging, get_logger, redact
from driftguard.settings import Settings
from support.identity import PASSWORD, make_team, make_user

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"


def test_redact_blanks_secret_fields_and_secret_shaped_text() -> None:
    event = redact(
        None,
        "info",
        {
            "event": f"calling with Authorization: Bearer {JWT} and key dgk_abcDEF123",
            "password": "hunter2-hunter2",
            "refresh_token": "r3fr3sh",
            "headers": {"Cookie": "session=abc", "Accept": "json", "X-API-Key": "dgk_zzz"},
            "note": 'body {"password": "p4ssw0rd", "name": "x"}',
            "status": 200,
        },
    )
    text = json.dumps(event)
    for secret in (
        JWT,
        "dgk_abcDEF123",
        "hunter2",
        "r3fr3sh",
        "session=abc",
        "dgk_zzz",
        "p4ssw0rd",
    ):
        assert secret not in text
    assert event["password"] == REDACTED
    assert event["headers"]["Accept"] == "json"
    assert event["status"] == 200
    assert '"name": "x"' in event["note"]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_api_flows_log_json_lines_without_any_secret(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
    tmp_path: Path,
) -> None:
    log_file = tmp_path / "driftguard.log"
    configured = settings.model_copy(update={"log_file": str(log_file)})
    team = make_team(session_factory)
    email = make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    secrets: list[str] = [PASSWORD]
    with TestClient(create_app(configured, engine=engine)) as client:
        client.post("/api/v1/auth/login", json={"email": email, "password": "wrong" + PASSWORD})
        secrets.append("wrong" + PASSWORD)
        tokens = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        first = tokens.json()
        second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        third = client.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        ).json()
        bearer = {"Authorization": f"Bearer {third['access_token']}", "Cookie": "sid=c00kie-v4lue"}
        key = client.post(f"/api/v1/teams/{team}/api-keys", json={"name": "ci"}, headers=bearer)
        client.get("/api/v1/models", headers={"X-API-Key": key.json()["key"]})
        client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-valid-token-xyz"})
        client.post("/api/v1/auth/logout", json={"refresh_token": third["refresh_token"]})
        # Code that carelessly logs a secret still does not leak it.
        get_logger("driftguard.test").warning("oops", password=PASSWORD, headers=bearer)
        logging.getLogger("driftguard.test").warning("sent %s", bearer)
        secrets += [
            *first.values(),
            *second.json().values(),
            *third.values(),
            key.json()["key"],
            "c00kie-v4lue",
            "not-a-valid-token-xyz",
        ]
    configure_logging(settings)  # detach the file handler
    lines = _lines(log_file)
    raw = log_file.read_text()
    for secret in secrets:
        if isinstance(secret, str) and len(secret) > 8:
            assert secret not in raw, secret
    access = [line for line in lines if line.get("event") == "request"]
    assert len(access) >= 9
    login_line = access[1]
    assert {"timestamp", "level", "request_id", "route", "status", "latency_ms", "user_id"} <= set(
        login_line
    )
    assert (login_line["route"], login_line["status"]) == ("/api/v1/auth/login", 200)
    assert len(login_line["request_id"]) == 32
    assert any(line["user_id"] is not None for line in access)
    assert any(line["api_key_id"] is not None for line in access)
    assert all(line["level"] in {"info", "warning", "error"} for line in lines)


def test_the_log_file_rotates_by_size(settings: Settings, tmp_path: Path) -> None:
    log_file = tmp_path / "rotating.log"
    configure_logging(
        settings.model_copy(
            update={"log_file": str(log_file), "log_file_max_bytes": 1024, "log_file_backups": 2}
        )
    )
    try:
        for n in range(100):
            get_logger("driftguard.test").info("filler", n=n, text="x" * 50)
    finally:
        configure_logging(settings)
    assert log_file.exists()
    assert (tmp_path / "rotating.log.1").exists()
    assert (tmp_path / "rotating.log.2").exists()
    assert not (tmp_path / "rotating.log.3").exists()
    assert log_file.stat().st_size <= 1024
