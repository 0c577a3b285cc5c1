"""The audit trail through the API: every call and every change leaves a record."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit import service as audit
from driftguard.audit.orm import AuditRecord
from driftguard.audit.schemas import AuditRecordRead
from driftguard.db.session import unit_of_work
from driftguard.identity.permissions import Role
from support.identity import PASSWORD, auth_headers, login, make_team, make_user
from support.registry import create_model

AUDIT = "/api/v1/audit"


def records(factory: sessionmaker[Session], **where: Any) -> list[AuditRecord]:
    with factory() as s:
        query = select(AuditRecord).order_by(AuditRecord.seq)
        for key, value in where.items():
            query = query.where(getattr(AuditRecord, key) == value)
        return list(s.scalars(query).all())


@pytest.fixture
def team(session_factory: sessionmaker[Session]) -> int:
    return make_team(session_factory)


def test_changes_are_recorded_with_actor_and_before_after(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher, team: int
) -> None:
    email = make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    headers = auth_headers(client, email)
    me = client.get("/api/v1/auth/me", headers=headers).json()["user"]["id"]
    model = create_model(client, headers, team, name="pd")
    client.patch(f"/api/v1/models/{model['id']}", json={"name": "pd-2"}, headers=headers)
    created, updated = (
        records(session_factory, action=a)[0] for a in ("model.create", "model.update")
    )
    assert (created.actor_user_id, created.object_type, created.object_id) == (
        me,
        "model",
        str(model["id"]),
    )
    assert created.before is None
    assert created.after is not None
    assert created.after["name"] == "pd"
    assert updated.before is not None
    assert updated.after is not None
    assert (updated.before["name"], updated.after["name"]) == ("pd", "pd-2")
    assert {r.action for r in records(session_factory, kind="change")} >= {
        "team.create",
        "user.create",
        "membership.set",
        "auth.login",
        "model.create",
        "model.update",
    }


def test_every_call_is_recorded_including_refused_ones(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher, team: int
) -> None:
    viewer = auth_headers(
        client, make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    )
    calls = [
        (client.get("/api/v1/models"), 401, "/api/v1/models"),
        (client.get("/api/v1/nowhere"), 404, "<unmatched>"),
        (client.post("/api/v1/models", json={}, headers=viewer), 422, "/api/v1/models"),
        (client.get("/api/v1/models/999", headers=viewer), 404, "/api/v1/models/{model_id}"),
        (client.get(AUDIT, headers=viewer), 403, "/api/v1/audit"),
    ]
    for response, status, _route in calls:
        assert response.status_code == status
    requests = {r.request_id: r for r in records(session_factory, kind="request")}
    for response, status, route in calls:
        row = requests[response.headers["x-request-id"]]
        assert (row.status, row.route, row.method) == (status, route, response.request.method)
        assert row.latency_ms is not None
        assert row.latency_ms >= 0
        assert row.client_addr == "testclient"
    assert requests[calls[-1][0].headers["x-request-id"]].actor_user_id is not None
    assert requests[calls[0][0].headers["x-request-id"]].actor_user_id is None
    assert client.get("/livez").status_code == 200
    assert len(records(session_factory, kind="request")) == len(requests)  # probes are not calls
    with unit_of_work(session_factory) as session:
        assert audit.verify(session).ok


def test_sign_in_events_are_recorded_without_secrets(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher, team: int
) -> None:
    email = make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    first = login(client, email)
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    third = login(client, email)
    client.post("/api/v1/auth/logout", json={"refresh_token": third["refresh_token"]})
    changes = records(session_factory, kind="change")
    assert [r.action for r in changes][-5:] == [
        "auth.login",
        "auth.refresh",
        "auth.refresh_reuse",
        "auth.login",
        "auth.logout",
    ]
    # A refresh is its own event: the user, and the session (refresh-token family) it renewed.
    signed_in, refreshed = changes[-5:-3]
    assert second.status_code == 200
    assert (refreshed.actor_user_id, refreshed.object_type) == (signed_in.actor_user_id, "session")
    assert refreshed.object_id == signed_in.object_id is not None
    rows = records(session_factory)
    dump = json.dumps([AuditRecordRead.model_validate(r).model_dump(mode="json") for r in rows])
    secrets = [PASSWORD, *first.values(), *second.json().values(), *third.values()]
    for secret in secrets:
        if isinstance(secret, str) and len(secret) > 8:
            assert secret not in dump


def test_api_key_calls_name_the_key(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher, team: int
) -> None:
    engineer = auth_headers(
        client, make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    )
    created = client.post(f"/api/v1/teams/{team}/api-keys", json={"name": "ci"}, headers=engineer)
    key = created.json()
    response = client.get("/api/v1/models", headers={"X-API-Key": key["key"]})
    row = records(session_factory, request_id=response.headers["x-request-id"])[0]
    assert (row.actor_api_key_id, row.actor_user_id) == (key["id"], None)
    client.delete(f"/api/v1/teams/{team}/api-keys/{key['id']}", headers=engineer)
    actions = {r.action for r in records(session_factory, object_type="api_key")}
    assert actions == {"api_key.create", "api_key.revoke"}


@pytest.fixture
def auditor(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> dict[str, str]:
    return auth_headers(client, make_user(session_factory, hasher, platform_role=Role.AUDITOR))


def test_auditors_and_admins_read_the_trail_with_filters(
    client: TestClient,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
    team: int,
    auditor: dict[str, str],
) -> None:
    admin = auth_headers(client, make_user(session_factory, hasher, platform_role=Role.ADMIN))
    engineer = auth_headers(
        client, make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    )
    model = create_model(client, engineer, team)
    assert client.get(AUDIT, headers=engineer).status_code == 403
    page = client.get(AUDIT, params={"action": "model.create"}, headers=auditor).json()
    assert page["total"] == 1
    assert page["items"][0]["object_id"] == str(model["id"])
    by_object = client.get(
        AUDIT, params={"object_type": "model", "object_id": str(model["id"])}, headers=admin
    ).json()
    assert [i["action"] for i in by_object["items"]] == ["model.create"]
    everything = client.get(AUDIT, params={"limit": 3, "offset": 1}, headers=admin).json()
    assert (everything["limit"], everything["offset"], len(everything["items"])) == (3, 1, 3)
    seqs = [i["seq"] for i in everything["items"]]
    assert seqs == sorted(seqs, reverse=True)
    future = client.get(AUDIT, params={"from": "2999-01-01T00:00:00Z"}, headers=admin).json()
    assert future["total"] == 0
    past = client.get(AUDIT, params={"to": "2000-01-01T00:00:00Z"}, headers=admin).json()
    assert past["total"] == 0
    naive = client.get(AUDIT, params={"from": "2020-01-01T00:00:00"}, headers=admin)
    assert naive.status_code == 422
    assert naive.json()["details"][0]["loc"] == "query.from"
    bad = client.get(AUDIT, params={"actor_user_id": "x"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["details"][0]["loc"] == "query.actor_user_id"


class _BrokenFactory:
    def __call__(self) -> Session:
        raise RuntimeError("audit storage is down")


@pytest.fixture
def broken_audit(client: TestClient) -> Iterator[None]:
    app = client.app
    original = app.state.session_factory  # type: ignore[attr-defined]
    app.state.session_factory = _BrokenFactory()  # type: ignore[attr-defined]
    yield
    app.state.session_factory = original  # type: ignore[attr-defined]


def test_a_failed_audit_write_is_logged_not_a_failed_request(
    client: TestClient,
    auditor: dict[str, str],
    broken_audit: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="driftguard.api"):
        response = client.get("/api/v1/models", headers=auditor)
    assert response.status_code == 200
    assert any("audit record" in r.getMessage() for r in caplog.records)
