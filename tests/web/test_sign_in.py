"""Sign-in and sign-out through the form: cookie flags, CSRF, redirects, revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import create_app
from driftguard.db.base import utcnow
from driftguard.db.session import unit_of_work
from driftguard.identity.orm import RefreshToken
from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from driftguard.web.pages.auth import SESSION_EXPIRED
from driftguard.web.security import SESSION_COOKIE, safe_next
from support.identity import PASSWORD, make_team, make_user
from support.web import csrf_of, web_sign_in


@pytest.fixture
def email(session_factory: sessionmaker[Session], hasher: PasswordHasher) -> str:
    team = make_team(session_factory)
    return make_user(session_factory, hasher, teams={team: Role.VIEWER})


def _post_login(client: TestClient, **fields: str) -> tuple[str, Any]:
    form = client.get("/login")
    data = {"csrf_token": csrf_of(form.text), **fields}
    response = client.post("/login", data=data, follow_redirects=False)
    return response.text, response


def test_a_page_without_a_session_redirects_to_sign_in_and_back(
    client: TestClient, email: str
) -> None:
    response = client.get("/models?q=abc", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fmodels%3Fq%3Dabc"
    form = client.get(response.headers["location"])
    assert 'name="next" value="/models?q=abc"' in form.text
    signed_in = client.post(
        "/login",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "/models?q=abc",
        },
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/models?q=abc"


def test_session_cookie_is_httponly_lax_and_not_readable_as_a_token(
    client: TestClient, email: str
) -> None:
    _, response = _post_login(client, email=email, password=PASSWORD)
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in this test, and not configured
    assert "Max-Age" not in cookie  # a browser-session cookie


def test_cookies_are_secure_over_https(client: TestClient, email: str) -> None:
    client.base_url = client.base_url.copy_with(scheme="https")
    _, response = _post_login(client, email=email, password=PASSWORD)
    assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith(SESSION_COOKIE) and "Secure" in c for c in cookies)


def test_cookies_are_secure_when_configured_behind_a_tls_proxy(
    settings: Settings, engine: Engine
) -> None:
    secure = settings.model_copy(update={"web_cookie_secure": True})
    with TestClient(create_app(secure, engine=engine)) as client:
        response = client.get("/login")
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_shows_one_message_and_sets_no_session(
    client: TestClient, email: str
) -> None:
    text, response = _post_login(client, email=email, password="not-the-password-at-all")
    assert response.status_code == 401
    assert "email or password is incorrect" in text
    assert SESSION_COOKIE not in client.cookies
    assert f'value="{email}"' in text  # the email is kept, the password is not


def test_empty_fields_are_named_beside_the_field(client: TestClient) -> None:
    text, response = _post_login(client, email="", password="")
    assert response.status_code == 422
    assert '<p class="field-error" id="email-error">enter your email</p>' in text
    assert '<p class="field-error" id="password-error">enter your password</p>' in text
    assert 'aria-describedby="email-error"' in text


@pytest.mark.parametrize("token", ["", "forged", "0" * 64])
def test_sign_in_without_its_csrf_token_is_refused(
    client: TestClient, email: str, token: str
) -> None:
    client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert SESSION_COOKIE not in client.cookies


def test_a_token_from_another_browser_is_refused(client: TestClient, email: str) -> None:
    stolen = csrf_of(client.get("/login").text)
    client.cookies.clear()
    client.get("/login")  # this browser's own pre-session cookie
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": stolen}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/models/3?version=2", "/models/3?version=2"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("models", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("", "/"),
    ],
)
def test_next_is_only_ever_a_same_site_path(raw: str, expected: str) -> None:
    assert safe_next(raw) == expected


def test_sign_out_needs_the_csrf_token_and_then_ends_the_session(
    client: TestClient, email: str
) -> None:
    token = web_sign_in(client, email)
    session_cookie = client.cookies[SESSION_COOKIE]
    refused = client.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200

    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    # The old cookie is dead on the server, not just deleted from this browser.
    client.cookies.set(SESSION_COOKIE, session_cookie)
    again = client.get("/", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")
    # It was the refresh token of an API session, revoked with its family.
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": session_cookie})
    assert refresh.status_code == 401


def test_an_expired_session_sends_the_browser_to_sign_in(
    client: TestClient, email: str, session_factory: sessionmaker[Session]
) -> None:
    web_sign_in(client, email)
    with unit_of_work(session_factory) as session:
        session.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.get("/alerts", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Falerts&expired=1"
    form = client.get(response.headers["location"])
    assert SESSION_EXPIRED in form.text
    assert 'name="next" value="/alerts"' in form.text


def test_a_garbage_cookie_is_not_a_session(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "x" * 500)
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.set(SESSION_COOKIE, "not-a-session")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_attempts_and_page_views_are_rate_limited(
    settings: Settings, engine: Engine, email: str
) -> None:
    limited = settings.model_copy(
        update={"rate_limit_login": "2/minute", "rate_limit_api": "3/minute"}
    )
    with TestClient(create_app(limited, engine=engine)) as client:
        for _ in range(2):
            _, response = _post_login(client, email=email, password="not-the-password-at-all")
            assert response.status_code == 401
        text, response = _post_login(client, email=email, password=PASSWORD)
        assert response.status_code == 429
        assert "too many requests" in text
        assert 0 < int(response.headers["retry-after"]) <= 60
    with TestClient(create_app(limited, engine=engine)) as client:
        web_sign_in(client, email)  # its overview is the first page view
        assert client.get("/models").status_code == 200
        assert client.get("/alerts").status_code == 200
        refused = client.get("/models")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Too many requests" in refused.text
