"""A DriftGuard server process whose database freezes: PostgreSQL behind a freezable proxy, or an
SQLite file whose write lock another process holds. Used by the tests (which bound the figures)
and by ``benchmarks/frozen_database.py`` (which prints them)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from driftguard.identity.passwords import build_hasher
from driftguard.identity.permissions import Role
from support.config import TEST_SECRET, make_settings
from support.databases import throwaway_postgres
from support.freezable_proxy import FreezableProxy, freezable_proxy
from support.identity import PASSWORD, make_user
from support.processes import Server

LOGIN = "/api/v1/auth/login"
MODELS = "/api/v1/models"
# Generous: a hung request would wait far longer; a loaded machine must not fail the check.
HTTP_TIMEOUT = 60.0
WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Served:
    server: Server
    headers: dict[str, str]
    email: str


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    seconds: float


@dataclass(frozen=True)
class FreezeFigures:
    in_flight: Answer  # a request whose statement was in flight when the database froze
    arriving: list[Answer]  # requests sent while it was frozen
    readyz: list[Answer]  # /readyz while it was frozen
    recovery_seconds: float  # thaw → the first successful request


def _env(database_url: str) -> dict[str, str]:
    return {
        "DRIFTGUARD_DATABASE_URL": database_url,
        "DRIFTGUARD_ENVIRONMENT": "test",
        "DRIFTGUARD_JWT_SECRET": TEST_SECRET,
        "DRIFTGUARD_RATE_LIMIT_ENABLED": "false",
        "DRIFTGUARD_SCHEDULER_ENABLED": "false",
        "DRIFTGUARD_WEBHOOK_DELIVERY_ENABLED": "false",
        "DRIFTGUARD_ARGON2_TIME_COST": "1",
        "DRIFTGUARD_ARGON2_MEMORY_COST_KIB": "1024",
        "DRIFTGUARD_ARGON2_PARALLELISM": "1",
        "DRIFTGUARD_LOG_LEVEL": "WARNING",
    }


def _migrated_user(database_url: str) -> str:
    settings = make_settings(database_url)
    engine = build_engine(settings)
    try:
        migrate.upgrade(engine)
        return make_user(
            build_session_factory(engine), build_hasher(settings), platform_role=Role.AUDITOR
        )
    finally:
        engine.dispose()


def timed(method: str, url: str, **kwargs: object) -> Answer:
    """The answer and how long it took; status 0 when none came within ``HTTP_TIMEOUT``."""
    started = time.monotonic()
    try:
        response = httpx2.request(method, url, timeout=HTTP_TIMEOUT, **kwargs)  # type: ignore[arg-type]
    except httpx2.TimeoutException:
        return Answer(0, None, time.monotonic() - started)
    return Answer(
        response.status_code, response.headers.get("retry-after"), time.monotonic() - started
    )


@contextmanager
def _serving(database_url: str, email: str, logs: Path) -> Iterator[Served]:
    server = Server("frozen-db-server", _env(database_url), logs)
    server.start()
    try:
        server.wait_ready()
        login = httpx2.post(
            server.url + LOGIN, json={"email": email, "password": PASSWORD}, timeout=HTTP_TIMEOUT
        )
        assert login.status_code == 200, f"{login.text}\n{server.output()[-4000:]}"
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        yield Served(server, headers, email)
    finally:
        server.kill()


@contextmanager
def postgres_behind_proxy(
    admin_url: str, logs: Path
) -> Iterator[tuple[Served, FreezableProxy, str]]:
    """A migrated throwaway database, a proxy in front of its server, and a DriftGuard server
    process connected through the proxy; also the database's direct URL."""
    with throwaway_postgres(admin_url, "dg_frozen") as direct_url:
        email = _migrated_user(direct_url)
        url = make_url(direct_url)
        with freezable_proxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
            proxied = url.set(host="127.0.0.1", port=proxy.port)
            with _serving(proxied.render_as_string(hide_password=False), email, logs) as served:
                yield served, proxy, direct_url


def _wait_for_lock_waiter(direct_url: str) -> None:
    """Until a backend of the database waits for a lock: the request's statement is in flight."""
    engine = create_engine(direct_url)
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                if connection.execute(query).scalar_one():
                    return
            time.sleep(0.05)
        raise AssertionError("the request never reached the database")
    finally:
        engine.dispose()


def measure_postgres_freeze(
    served: Served, proxy: FreezableProxy, direct_url: str, *, arriving: int = 2, probes: int = 3
) -> FreezeFigures:
    """Freeze the database under an in-flight request, send requests and probes while frozen,
    thaw, and time each answer."""
    url = served.server.url
    answers: list[Answer] = []
    blocker = create_engine(direct_url)
    try:
        with blocker.connect() as connection:
            # The request's first statement waits on this lock, so it is in flight at the freeze.
            connection.execute(text("LOCK TABLE users, registered_models IN ACCESS EXCLUSIVE MODE"))
            request = threading.Thread(
                target=lambda: answers.append(timed("GET", url + MODELS, headers=served.headers))
            )
            request.start()
            _wait_for_lock_waiter(direct_url)
            proxy.freeze()
            frozen_at = time.monotonic()
            connection.rollback()  # the server could answer now; the freeze keeps it from it
        request.join(HTTP_TIMEOUT + 10)
        assert answers, "the in-flight request's thread never finished"
        in_flight = Answer(answers[0].status, answers[0].retry_after, time.monotonic() - frozen_at)
        sent = [timed("GET", url + MODELS, headers=served.headers) for _ in range(arriving)]
        ready = [timed("GET", url + "/readyz") for _ in range(probes)]
    finally:
        proxy.thaw()
        blocker.dispose()
    thawed_at = time.monotonic()
    deadline = thawed_at + WAIT_SECONDS
    while time.monotonic() < deadline:
        if timed("GET", url + MODELS, headers=served.headers).status == 200:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"no recovery after thaw:\n{served.server.output()[-4000:]}")
    return FreezeFigures(in_flight, sent, ready, time.monotonic() - thawed_at)


@contextmanager
def sqlite_server(path: Path, logs: Path) -> Iterator[Served]:
    email = _migrated_user(f"sqlite:///{path}")
    with _serving(f"sqlite:///{path}", email, logs) as served:
        yield served


def measure_sqlite_lock(served: Served, path: Path) -> tuple[Answer, Answer, Answer]:
    """A sign-in (a writer) while another process holds the write lock, /readyz meanwhile, and
    the same sign-in once the lock is released."""
    url = served.server.url
    body = {"email": served.email, "password": PASSWORD}
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        locked = timed("POST", url + LOGIN, json=body)
        ready = timed("GET", url + "/readyz")
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()
    return locked, ready, timed("POST", url + LOGIN, json=body)
