from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.identity.orm import RefreshToken
from driftguard.identity.permissions import Role
from support.config import TEST_SECRET
from support.identity import PASSWORD, login, make_team, make_user
from support.tokens import claims_of, forged_tokens, sign

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def email(session_factory: sessionmaker[Session], hasher: PasswordHasher) -> str:
    team = make_team(session_factory)
    return make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})


def test_login_returns_a_short_lived_access_token_and_a_refresh_token(
    client: TestClient, email: str
) -> None:
    tokens = login(client, email)
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "bearer"
    assert 0 < int(tokens["expires_in"]) <= 900
    claims = jwt.decode(
        tokens["access_token"], TEST_SECRET, algorithms=["HS256"], audience="driftguard-api"
    )
    assert {"exp", "iat", "iss", "aud", "sub", "typ"} <= set(claims)
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] <= 900
    me = client.get(ME, headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json()["user"]["email"] == email


def test_unknown_user_and_wrong_password_get_the_same_answer(
    client: TestClient, email: str
) -> None:
    wrong = client.post(LOGIN, json={"email": email, "password": "not-the-password-at-all"})
    unknown = client.post(LOGIN, json={"email": "nobody@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert {k: v for k, v in wrong.json().items() if k != "request_id"} == {
        k: v for k, v in unknown.json().items() if k != "request_id"
    }


def test_refresh_rotates_and_reuse_revokes_the_whole_family(
    client: TestClient, email: str, session_factory: sessionmaker[Session]
) -> None:
    first = login(client, email)
    second = client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert client.get(ME, headers=bearer(rotated["access_token"])).status_code == 200

    # The spent token comes back: someone else holds a copy. Everything in the family dies.
    reuse = client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["error"] == "token_reused"
    assert client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]}).status_code == 401
    assert client.get(ME, headers=bearer(rotated["access_token"])).status_code == 401
    with session_factory() as s:
        live = s.scalar(
            select(func.count()).select_from(RefreshToken).where(RefreshToken.revoked_at.is_(None))
        )
    assert live == 0


def test_logout_ends_the_session_at_once(client: TestClient, email: str) -> None:
    tokens = login(client, email)
    assert client.post(LOGOUT, json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 401
    assert client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_other_sessions_survive_a_logout(client: TestClient, email: str) -> None:
    laptop, phone = login(client, email), login(client, email)
    client.post(LOGOUT, json={"refresh_token": laptop["refresh_token"]})
    assert client.get(ME, headers=bearer(phone["access_token"])).status_code == 200


def test_refresh_tokens_are_stored_hashed(
    client: TestClient, email: str, session_factory: sessionmaker[Session]
) -> None:
    tokens = login(client, email)
    with session_factory() as s:
        stored = s.scalars(select(RefreshToken.token_hash)).all()
    assert stored
    assert tokens["refresh_token"] not in stored


def test_forged_and_expired_tokens_are_refused(client: TestClient, email: str) -> None:
    forged = forged_tokens(claims_of(login(client, email)["access_token"]))
    for name, token in forged.items():
        response = client.get(ME, headers=bearer(token))
        assert response.status_code == 401, name
        assert response.json()["error"] in {"invalid_token", "token_expired"}, name
    expired = client.get(ME, headers=bearer(forged["expired"]))
    assert expired.json()["error"] == "token_expired"


def test_a_refresh_token_is_not_an_access_token(client: TestClient, email: str) -> None:
    tokens = login(client, email)
    assert client.get(ME, headers=bearer(tokens["refresh_token"])).status_code == 401
    # ...and an access token is not a refresh token.
    response = client.post(REFRESH, json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401


def test_expired_refresh_token_is_refused(
    client: TestClient, email: str, session_factory: sessionmaker[Session]
) -> None:
    tokens = login(client, email)
    with session_factory.begin() as s:
        for row in s.scalars(select(RefreshToken)):
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    response = client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401
    assert response.json()["error"] == "token_expired"


def test_no_credentials_is_401_with_the_error_body(client: TestClient) -> None:
    response = client.get("/api/v1/models")
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "unauthenticated"
    assert body["request_id"] == response.headers["x-request-id"]
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": 5},
        {"email": "a@example.com", "password": "x", "extra": 1},
        {"email": "a" * 400, "password": "x"},
    ],
)
def test_malformed_login_is_422_naming_the_field(
    client: TestClient, body: dict[str, object]
) -> None:
    response = client.post(LOGIN, json=body)
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"].startswith("body.")


def test_a_token_cannot_borrow_another_users_session(
    client: TestClient, email: str, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    """Even with the signing key, a token naming user B inside A's session is refused."""
    other = make_user(session_factory, hasher, platform_role=Role.ADMIN)
    mine = claims_of(login(client, email)["access_token"])
    theirs = claims_of(login(client, other)["access_token"])
    forged = sign({**mine, "sub": theirs["sub"]})
    assert client.get(ME, headers=bearer(forged)).status_code == 401


def test_settings_without_a_secret_sign_with_a_random_one() -> None:
    from driftguard.settings import Settings

    first, second = Settings(), Settings()
    assert first.jwt_secret.get_secret_value() != second.jwt_secret.get_secret_value()
    assert len(first.jwt_secret.get_secret_value()) >= 48
