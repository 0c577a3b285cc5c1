"""A database that is down, hung or locked costs a 503 with Retry-After within the configured
timeout, never a 500 or a hang, and the service recovers by itself when the database returns."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from driftguard.app import create_app
from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from driftguard.identity.passwords import build_hasher
from driftguard.identity.permissions import Role
from driftguard.settings import Settings
from support.config import POSTGRES_URL, make_settings
from support.identity import PASSWORD, make_user
from support.postgres_server import postgres_bin_dir, private_postgres

LOGIN = "/api/v1/auth/login"
MODELS = "/api/v1/models"


def _unavailable(response: Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "unavailable"
    assert int(response.headers["retry-after"]) > 0


def _timed(call: object) -> tuple[Response, float]:
    assert callable(call)
    started = time.monotonic()
    response = call()
    assert isinstance(response, Response)
    return response, time.monotonic() - started


def _migrated_with_user(settings: Settings) -> str:
    engine = build_engine(settings)
    try:
        migrate.upgrade(engine)
        factory = build_session_factory(engine)
        return make_user(factory, build_hasher(settings), platform_role=Role.AUDITOR)
    finally:
        engine.dispose()


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections and never answers: a hung database server."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield server.getsockname()[1]


def test_a_hung_database_is_503_within_the_configured_timeout(silent_listener: int) -> None:
    settings = make_settings(
        f"postgresql+psycopg://nobody@127.0.0.1:{silent_listener}/none", db_pool_timeout_seconds=1
    )
    with TestClient(create_app(settings)) as client:
        ready, ready_seconds = _timed(lambda: client.get("/readyz"))
        login, login_seconds = _timed(
            lambda: client.post(LOGIN, json={"email": "a@example.com", "password": PASSWORD})
        )
    assert ready.status_code == 503
    _unavailable(login)
    # One connect timeout (2 s, the driver's floor) for the request, one for its audit record
    # written afterwards; the margin is for a busy machine, a hang would be far longer.
    assert ready_seconds < 6
    assert login_seconds < 10


def test_a_locked_sqlite_database_is_503_and_recovers(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    settings = make_settings(f"sqlite:///{path}", sqlite_busy_timeout_ms=200)
    email = _migrated_with_user(settings)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with TestClient(create_app(settings)) as client:
            locked, seconds = _timed(
                lambda: client.post(LOGIN, json={"email": email, "password": PASSWORD})
            )
            _unavailable(locked)
            assert seconds < 5
            blocker.execute("ROLLBACK")
            again = client.post(LOGIN, json={"email": email, "password": PASSWORD})
            assert again.status_code == 200, again.text
    finally:
        blocker.close()


def test_an_unreachable_sqlite_file_is_503(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'gone' / 'driftguard.db'}")
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 503
        assert client.get("/livez").status_code == 200
        _unavailable(client.post(LOGIN, json={"email": "a@example.com", "password": PASSWORD}))


def test_a_hung_redis_never_fails_a_request(tmp_path: Path, silent_listener: int) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'redis-hung.db'}",
        redis_url=f"redis://127.0.0.1:{silent_listener}/0",
    )
    email = _migrated_with_user(settings)
    with TestClient(create_app(settings)) as client:
        login, seconds = _timed(
            lambda: client.post(LOGIN, json={"email": email, "password": PASSWORD})
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert [client.get(MODELS, headers=headers).status_code for _ in range(3)] == [200] * 3
    # One Redis timeout (0.5 s), then this process counts on its own for a while.
    assert seconds < 5


@pytest.mark.skipif(
    POSTGRES_URL is None or postgres_bin_dir() is None,
    reason="runs with DRIFTGUARD_TEST_POSTGRES_URL set and the PostgreSQL server binaries",
)
def test_postgres_stopped_then_restarted() -> None:
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None
    with private_postgres(bin_dir) as server:
        settings = make_settings(server.url, db_pool_timeout_seconds=2)
        email = _migrated_with_user(settings)
        with TestClient(create_app(settings)) as client:
            token = client.post(LOGIN, json={"email": email, "password": PASSWORD}).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            assert client.get(MODELS, headers=headers).status_code == 200

            server.stop()
            for _ in range(3):
                down, seconds = _timed(lambda: client.get(MODELS, headers=headers))
                _unavailable(down)
                assert seconds < 8
            assert client.get("/readyz").status_code == 503
            assert client.get("/livez").status_code == 200

            server.start()
            deadline = time.monotonic() + 10
            status = 0
            while time.monotonic() < deadline and status != 200:
                status = client.get(MODELS, headers=headers).status_code
                if status != 200:
                    time.sleep(0.2)
            assert status == 200
            assert client.get("/readyz").status_code == 200
