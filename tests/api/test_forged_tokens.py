"""Every protected API route refuses every forged access token with 401, before it reads any
input, and accepts the genuine one (so the walk proves the refusal comes from the token). Web
pages take no bearer tokens at all: their cookie sessions are tested in tests/web."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import route_permissions
from driftguard.identity.permissions import Role
from support.identity import login, make_user
from support.tokens import claims_of, forged_tokens

OWN_GUARDS = {"public", "metrics-token"}


def _protected_routes(client: TestClient) -> list[tuple[str, str]]:
    table = route_permissions(client.app)  # type: ignore[arg-type]
    return sorted(
        (method, re.sub(r"\{[^}]+\}", "1", path))
        for (method, path), guards in table.items()
        if not guards & OWN_GUARDS and path.startswith("/api/")
    )


def test_every_protected_route_refuses_forged_tokens(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    email = make_user(session_factory, hasher, platform_role=Role.ADMIN)
    genuine = login(client, email)["access_token"]
    forged = forged_tokens(claims_of(genuine))
    routes = _protected_routes(client)
    assert len(routes) > 25

    refused: dict[str, set[int]] = {}
    for method, path in routes:
        for name, token in forged.items():
            response = client.request(method, path, headers={"Authorization": f"Bearer {token}"})
            refused.setdefault(name, set()).add(response.status_code)
            assert response.status_code == 401, (method, path, name, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
        anonymous = client.request(method, path)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        # The genuine admin token gets past authentication on the same request.
        real = client.request(method, path, headers={"Authorization": f"Bearer {genuine}"})
        assert real.status_code != 401, (method, path, real.text)
    assert set(refused) == set(forged)
