"""Signing secrets are stored encrypted, still sign deliveries, and survive key rotation."""

from __future__ import annotations

import logging

import httpx2
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook
from typer.testing import CliRunner

from driftguard.app import create_app
from driftguard.audit.orm import AuditRecord
from driftguard.cli.main import app
from driftguard.encryption import new_key
from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from driftguard.webhooks.delivery import deliver_due
from driftguard.webhooks.orm import WebhookEndpoint
from support.identity import auth_headers, make_user
from support.webhooks import Receiver

from .conftest import Team

runner = CliRunner()


def add_webhook(client: TestClient, team: Team, url: str) -> tuple[str, str]:
    response = client.post(team.url, json={"url": url}, headers=team.engineer)
    assert response.status_code == 201, response.text
    return f"{team.url}/{response.json()['id']}", response.json()["secret"]


def stored(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as s:
        return list(s.scalars(select(WebhookEndpoint.secret_encrypted)))


def in_production_with(settings: Settings, *keys: str) -> Settings:
    """``settings`` in production with these keys only (no key derived from the JWT secret)."""
    values = settings.model_dump(exclude={"secrets_key", "environment"})
    return Settings(**values, environment="production", secrets_key=",".join(keys))


def test_the_stored_column_is_ciphertext_and_deliveries_still_verify(
    client: TestClient,
    team: Team,
    receiver: Receiver,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    hook, secret = add_webhook(client, team, receiver.url)
    [token] = stored(session_factory)
    key_part = secret.removeprefix("whsec_")
    assert secret not in token
    assert key_part not in token
    assert token.startswith("gAAAAA")  # a Fernet token (version byte 0x80, base64)

    client.post(f"{hook}/test", headers=team.engineer)
    assert deliver_due(session_factory, settings=settings, http=http) == 1
    [got] = receiver.received
    assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"
    # Nothing logged carries the secret, in clear or as its key bytes.
    assert key_part not in caplog.text
    assert secret not in client.get(hook, headers=team.engineer).text


def test_a_webhook_cannot_be_created_without_a_key(
    team: Team,
    engine: Engine,
    settings: Settings,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    # Outside production the key is derived from a configured JWT secret; with neither there
    # is no key that would outlive the process: a clear 503, nothing stored.
    keyless = Settings(
        **{
            **settings.model_dump(exclude={"jwt_secret", "secrets_key"}),
            "environment": "test",
        }
    )
    assert "jwt_secret" not in keyless.model_fields_set
    engineer = make_user(session_factory, hasher, teams={team.id: Role.ML_ENGINEER})
    with TestClient(create_app(keyless, engine=engine)) as other:
        response = other.post(
            team.url,
            json={"url": "https://hooks.example.com/x"},
            headers=auth_headers(other, engineer),
        )
        # Permissions are checked before the key is wanted: another team's is still a 404.
        elsewhere = other.post(
            "/api/v1/teams/999999/webhooks",
            json={"url": "https://a.example"},
            headers=auth_headers(other, engineer),
        )
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "secrets_key_missing"
    assert "DRIFTGUARD_SECRETS_KEY" in response.json()["message"]
    assert elsewhere.status_code == 404
    assert stored(session_factory) == []


def test_a_wrong_key_fails_the_delivery_clearly_and_sends_nothing(
    client: TestClient,
    team: Team,
    receiver: Receiver,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    hook, _ = add_webhook(client, team, receiver.url)
    client.post(f"{hook}/test", headers=team.engineer)
    wrong = in_production_with(settings, new_key())
    assert deliver_due(session_factory, settings=wrong, http=http) == 1
    assert receiver.received == []
    [delivery] = client.get(f"{hook}/deliveries", headers=team.viewer).json()["items"]
    [attempt] = delivery["log"]
    assert delivery["status"] == "pending"  # retried later, once the key is fixed
    assert attempt["status_code"] is None
    assert "secrets_key_mismatch" in attempt["error"]
    assert "DRIFTGUARD_SECRETS_KEY" in attempt["error"]


def test_rotation_re_encrypts_under_the_new_key(
    client: TestClient,
    team: Team,
    receiver: Receiver,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = new_key(), new_key()
    monkeypatch.setenv("DRIFTGUARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DRIFTGUARD_ENVIRONMENT", "test")
    hook, secret = add_webhook(client, team, receiver.url)  # under the derived key
    before = stored(session_factory)

    # The new key first, the old one after it: rotate moves every secret to the new key.
    monkeypatch.setenv("DRIFTGUARD_JWT_SECRET", settings.jwt_secret.get_secret_value())
    monkeypatch.setenv("DRIFTGUARD_SECRETS_KEY", f"{old}")
    first = runner.invoke(app, ["secrets", "rotate"])
    assert first.exit_code == 0, first.output
    assert "re-encrypted 1 webhook" in first.output
    monkeypatch.setenv("DRIFTGUARD_SECRETS_KEY", f"{new},{old}")
    second = runner.invoke(app, ["secrets", "rotate"])
    assert second.exit_code == 0, second.output
    after = stored(session_factory)
    assert after != before
    assert secret not in after[0]

    # Only the new key now: the old ones (and the derived one, in production) are not needed.
    only_new = in_production_with(settings, new)
    client.post(f"{hook}/test", headers=team.engineer)
    assert deliver_due(session_factory, settings=only_new, http=http) == 1
    [got] = receiver.received
    assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"
    with session_factory() as s:
        rotations = s.scalars(
            select(AuditRecord.after).where(AuditRecord.action == "secrets.rotate")
        ).all()
    assert rotations == [{"webhooks": 1}, {"webhooks": 1}]


def test_rotation_without_the_old_key_changes_nothing_and_says_why(
    client: TestClient,
    team: Team,
    session_factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_webhook(client, team, "https://hooks.example.com/a")
    before = stored(session_factory)
    monkeypatch.setenv("DRIFTGUARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DRIFTGUARD_ENVIRONMENT", "test")
    monkeypatch.delenv("DRIFTGUARD_JWT_SECRET", raising=False)
    monkeypatch.setenv("DRIFTGUARD_SECRETS_KEY", new_key())
    result = runner.invoke(app, ["secrets", "rotate"])
    assert result.exit_code == 7, result.output
    assert "cannot be decrypted with any key of DRIFTGUARD_SECRETS_KEY" in result.output
    assert stored(session_factory) == before


def test_new_key_prints_a_usable_key() -> None:
    result = runner.invoke(app, ["secrets", "new-key"])
    assert result.exit_code == 0
    key = result.output.strip()
    assert Settings(secrets_key=key).secrets_key[0].get_secret_value() == key  # type: ignore[arg-type]
