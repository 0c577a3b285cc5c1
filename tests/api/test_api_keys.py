from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import create_app
from driftguard.identity.orm import ApiKey
from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from support.identity import auth_headers, make_team, make_user
from support.registry import create_model, model_body


def test_team_api_key_acts_within_its_team_only(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    mine, theirs = make_team(session_factory), make_team(session_factory)
    engineer = auth_headers(
        client, make_user(session_factory, hasher, teams={mine: Role.ML_ENGINEER})
    )
    other = auth_headers(
        client, make_user(session_factory, hasher, teams={theirs: Role.ML_ENGINEER})
    )
    their_model = create_model(client, other, theirs)

    created = client.post(f"/api/v1/teams/{mine}/api-keys", json={"name": "ci"}, headers=engineer)
    assert created.status_code == 201
    secret = created.json()["key"]
    assert secret.startswith("dgk_")
    with session_factory() as s:
        stored = s.scalars(select(ApiKey.key_hash)).all()
    assert secret not in stored

    as_key = {"X-API-Key": secret}
    made = client.post("/api/v1/models", json=model_body(mine), headers=as_key)
    assert made.status_code == 201
    assert made.json()["owner_id"] is None
    assert client.get("/api/v1/models", headers=as_key).json()["total"] == 1
    assert client.get(f"/api/v1/models/{their_model['id']}", headers=as_key).status_code == 404
    bearer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/models", headers=bearer).status_code == 200

    listed = client.get(f"/api/v1/teams/{mine}/api-keys", headers=engineer).json()
    assert [k["name"] for k in listed] == ["ci"]
    assert "key" not in listed[0]
    key_id = listed[0]["id"]
    revoked = client.delete(f"/api/v1/teams/{mine}/api-keys/{key_id}", headers=engineer)
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/models", headers=as_key).status_code == 401


def test_keys_are_managed_only_by_the_team(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    mine, theirs = make_team(session_factory), make_team(session_factory)
    viewer = auth_headers(client, make_user(session_factory, hasher, teams={mine: Role.VIEWER}))
    outsider = auth_headers(
        client, make_user(session_factory, hasher, teams={theirs: Role.ML_ENGINEER})
    )
    assert (
        client.post(
            f"/api/v1/teams/{mine}/api-keys", json={"name": "x"}, headers=viewer
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/teams/{mine}/api-keys", json={"name": "x"}, headers=outsider
        ).status_code
        == 404
    )
    assert client.get("/api/v1/models", headers={"X-API-Key": "dgk_forged"}).status_code == 401
    assert client.get("/api/v1/models", headers={"X-API-Key": "nonsense"}).status_code == 401


def test_admin_manages_teams_and_users(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    admin = auth_headers(client, make_user(session_factory, hasher, platform_role=Role.ADMIN))
    team = client.post("/api/v1/teams", json={"name": "Risk"}, headers=admin)
    assert team.status_code == 201
    team_id = team.json()["id"]
    assert client.post("/api/v1/teams", json={"name": "Risk"}, headers=admin).status_code == 409
    weak = client.post(
        "/api/v1/users",
        json={"email": "new@example.com", "display_name": "New", "password": "password"},
        headers=admin,
    )
    assert weak.status_code == 422
    assert weak.json()["details"][0]["loc"] == "password"
    user = client.post(
        "/api/v1/users",
        json={
            "email": "New@Example.com",
            "display_name": "New",
            "password": "quiet-harbor-copper-violin",
        },
        headers=admin,
    )
    assert user.status_code == 201
    assert user.json()["email"] == "new@example.com"
    assert "password" not in user.text
    joined = client.put(
        f"/api/v1/teams/{team_id}/members",
        json={"user_id": user.json()["id"], "role": "approver"},
        headers=admin,
    )
    assert joined.json()["role"] == "approver"
    as_admin_role = client.put(
        f"/api/v1/teams/{team_id}/members",
        json={"user_id": user.json()["id"], "role": "admin"},
        headers=admin,
    )
    assert as_admin_role.status_code == 422
    new_user = auth_headers(client, "new@example.com", "quiet-harbor-copper-violin")
    assert [t["name"] for t in client.get("/api/v1/teams", headers=new_user).json()] == ["Risk"]
    assert client.post("/api/v1/teams", json={"name": "Mine"}, headers=new_user).status_code == 403
    assert client.get("/api/v1/users", headers=new_user).status_code == 403
    assert client.get("/api/v1/users", headers=admin).json()["total"] == 2


def test_a_key_cannot_manage_keys_or_outrank_its_creator(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    team = make_team(session_factory)
    engineer = auth_headers(
        client, make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    )
    url = f"/api/v1/teams/{team}/api-keys"
    first = client.post(url, json={"name": "ingest"}, headers=engineer).json()
    as_key = {"X-API-Key": first["key"]}
    assert client.post(url, json={"name": "successor"}, headers=as_key).status_code == 403
    assert client.delete(f"{url}/{first['id']}", headers=as_key).status_code == 403
    assert client.get(url, headers=as_key).status_code == 403
    approver_key = client.post(url, json={"name": "x", "role": "approver"}, headers=engineer)
    assert approver_key.status_code == 403
    assert approver_key.json()["details"][0]["loc"] == "role"
    viewer_key = client.post(url, json={"name": "y", "role": "viewer"}, headers=engineer)
    assert viewer_key.status_code == 201


def test_last_used_at_is_written_at_most_once_a_minute(
    settings: Settings,
    engine: Engine,
    client: TestClient,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    team = make_team(session_factory)
    engineer = auth_headers(
        client, make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    )
    created = client.post(f"/api/v1/teams/{team}/api-keys", json={"name": "ci"}, headers=engineer)
    as_key = {"X-API-Key": created.json()["key"]}

    def last_used() -> datetime | None:
        with session_factory() as s:
            return s.scalar(select(ApiKey.last_used_at))

    assert last_used() is None
    assert client.get("/api/v1/models", headers=as_key).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/api/v1/models", headers=as_key).status_code == 200
    assert last_used() == first  # this process noted the key less than a minute ago
    # Another process (a fresh app) checks the stored time instead of its own memory.
    with TestClient(create_app(settings, engine=engine)) as other_process:
        assert other_process.get("/api/v1/models", headers=as_key).status_code == 200
        assert last_used() == first
        with session_factory() as s, s.begin():
            s.execute(update(ApiKey).values(last_used_at=first - timedelta(minutes=2)))
    with TestClient(create_app(settings, engine=engine)) as later_process:
        assert later_process.get("/api/v1/models", headers=as_key).status_code == 200
    refreshed = last_used()
    assert refreshed is not None
    assert refreshed >= first
