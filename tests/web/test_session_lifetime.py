"""Web sessions end after an idle timeout and an absolute lifetime, and send the browser to
sign in. The idle clock is a signed cookie, so tests forge old stamps with the server's key."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.base import utcnow
from driftguard.db.session import unit_of_work
from driftguard.identity.orm import RefreshToken
from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from driftguard.web.pages.auth import SESSION_EXPIRED
from driftguard.web.security import SEEN_COOKIE, SESSION_COOKIE, last_seen, seen_stamp
from support.identity import make_team, make_user
from support.web import web_sign_in


@pytest.fixture
def signed_in(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> str:
    """Signs ``client`` in; returns the session id (the refresh-token family)."""
    team = make_team(session_factory)
    web_sign_in(client, make_user(session_factory, hasher, teams={team: Role.VIEWER}))
    with unit_of_work(session_factory) as session:
        return session.scalars(select(RefreshToken.family_id)).one()


def _set_stamp(client: TestClient, value: str | None) -> None:
    """Replace the browser's idle stamp (the jar holds one per domain: drop it first)."""
    client.cookies.delete(SEEN_COOKIE)
    if value is not None:
        client.cookies.set(SEEN_COOKIE, value)


def _expect_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert response.headers["location"].endswith("&expired=1")
    cleared = response.headers.get_list("set-cookie")
    assert any(c.startswith(f'{SESSION_COOKIE}=""') for c in cleared)
    assert any(c.startswith(f'{SEEN_COOKIE}=""') for c in cleared)
    assert SESSION_EXPIRED in client.get(response.headers["location"]).text


def test_sign_in_starts_the_idle_clock_and_each_page_renews_it(
    client: TestClient, settings: Settings, signed_in: str
) -> None:
    started = last_seen(settings, signed_in, client.cookies[SEEN_COOKIE])
    assert started is not None
    assert abs(started - time.time()) < 60
    # A page request made just before the timeout keeps the session and resets the clock.
    almost = int(time.time()) - settings.web_session_idle_seconds + 30
    _set_stamp(client, seen_stamp(settings, signed_in, almost))
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 200
    renewed = last_seen(settings, signed_in, page.cookies[SEEN_COOKIE])
    assert renewed is not None
    assert renewed > almost + 20


def test_an_idle_session_sends_the_browser_to_sign_in(
    client: TestClient, settings: Settings, signed_in: str
) -> None:
    idle = int(time.time()) - settings.web_session_idle_seconds - 1
    _set_stamp(client, seen_stamp(settings, signed_in, idle))
    _expect_sign_in(client, "/models")


@pytest.mark.parametrize("forged", ["", "garbage", "99999999999.abc", "{now}.{mac}x"])
def test_a_missing_or_forged_idle_stamp_ends_the_session(
    client: TestClient, settings: Settings, signed_in: str, forged: str
) -> None:
    now = int(time.time())
    genuine = seen_stamp(settings, signed_in, now)
    _set_stamp(client, forged.format(now=now, mac=genuine.partition(".")[2]) or None)
    _expect_sign_in(client, "/")


def test_another_sessions_stamp_does_not_keep_this_one_alive(
    client: TestClient, settings: Settings, signed_in: str
) -> None:
    _set_stamp(client, seen_stamp(settings, "another-session", int(time.time())))
    _expect_sign_in(client, "/")


def test_a_session_past_its_absolute_lifetime_ends_however_active(
    client: TestClient,
    settings: Settings,
    signed_in: str,
    session_factory: sessionmaker[Session],
) -> None:
    assert client.get("/", follow_redirects=False).status_code == 200
    signed_in_at = utcnow() - timedelta(seconds=settings.web_session_max_seconds + 1)
    with unit_of_work(session_factory) as session:
        session.execute(update(RefreshToken).values(created_at=signed_in_at))
    _set_stamp(client, seen_stamp(settings, signed_in, int(time.time())))
    _expect_sign_in(client, "/alerts")


def test_sign_out_clears_the_idle_stamp_too(client: TestClient, signed_in: str) -> None:
    page = client.get("/")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert any(c.startswith(f'{SEEN_COOKIE}=""') for c in out.headers.get_list("set-cookie"))
