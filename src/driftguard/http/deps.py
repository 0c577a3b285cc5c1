"""Request dependencies shared by the API and the web UI, each defined once as an ``Annotated``
alias: the unit of work per request, settings, the password hasher, the rate limiter, the
dashboard cache and the caller's address. Who the caller is (a token or API key for the API, a
browser session for the pages) is each entry point's own; what a caller may do is checked by one
guard (``http/guards.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from argon2 import PasswordHasher
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from driftguard.dashboard.cache import DashboardCache
from driftguard.db.session import finish, sandbox
from driftguard.http.ratelimit import RateLimiter
from driftguard.settings import Settings

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POSTs that only compute an answer: on SQLite they must not hold the write lock meanwhile (a
# portfolio simulation takes seconds).
READ_ONLY_POSTS = frozenset({"/api/v1/simulations", "/api/v1/policies/validate"})
# Routes whose statements may rightly outlast an ordinary request's database bound: a million
# rows copied in, a monitoring run over a whole window. Every other route gets the short bound.
_VERSION = "/api/v1/models/{model_id}/versions/{number}"
BULK_ROUTES = frozenset(
    {
        f"{_VERSION}/predictions/upload",
        f"{_VERSION}/reference/upload",
        f"{_VERSION}/monitoring/runs",
    }
)


# Dependencies that do no I/O are ``async def`` so they run on the event loop: each sync
# dependency costs a hop to the thread pool.


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


async def _client_address(request: Request) -> str | None:
    address: str | None = request.state.client_addr
    return address


async def _dashboard_cache(request: Request) -> DashboardCache:
    cache: DashboardCache = request.app.state.dashboard_cache
    return cache


async def _hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


def _unit_of_work(
    pick: Callable[[Request], sessionmaker[Session]],
) -> Callable[[Request], AsyncIterator[Session]]:
    """A session dependency on the factory ``pick`` chooses. Opening a session does no I/O;
    ending it (commit, or roll back unless the error keeps its changes) runs in a thread."""

    async def dependency(request: Request) -> AsyncIterator[Session]:
        session: Session = pick(request)()
        try:
            yield session
        except BaseException as exc:
            await run_in_threadpool(finish, session, exc)
            raise
        await run_in_threadpool(finish, session, None)

    return dependency


def _request_factory(request: Request) -> sessionmaker[Session]:
    """Read-only for GET and the computing POSTs, so SQLite readers never queue behind a writer
    (nor hold writers back); the long budget for the bulk routes (see ``db/budget.py``)."""
    state = request.app.state
    if getattr(request.scope.get("route"), "path", None) in BULK_ROUTES:
        bulk: sessionmaker[Session] = state.bulk_session_factory
        return bulk
    read = request.method in READ_METHODS or (
        request.method == "POST" and request.url.path in READ_ONLY_POSTS
    )
    factory: sessionmaker[Session] = state.read_session_factory if read else state.session_factory
    return factory


def _read_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.read_session_factory
    return factory


# The request's unit of work, and a read-only one beside it for slow checks that must not hold
# the write lock (password hashing at sign-in).
_session = _unit_of_work(_request_factory)
_read_session = _unit_of_work(_read_factory)


async def _sandbox_session(request: Request) -> AsyncIterator[Session]:
    factory: sessionmaker[Session] = request.app.state.read_session_factory
    manager = sandbox(factory)
    session = await run_in_threadpool(manager.__enter__)
    try:
        yield session
    finally:
        await run_in_threadpool(manager.__exit__, None, None, None)


SettingsDep = Annotated[Settings, Depends(_settings)]
HasherDep = Annotated[PasswordHasher, Depends(_hasher)]
RateLimiterDep = Annotated[RateLimiter, Depends(_rate_limiter)]
DashboardCacheDep = Annotated[DashboardCache, Depends(_dashboard_cache)]
# The caller's address, from the peer or a trusted proxy's X-Forwarded-For (api/clients.py).
ClientAddress = Annotated[str | None, Depends(_client_address)]
# "function" scope: the transaction commits before the response is sent, so a failed commit is
# an error response rather than a success the database never saw.
DbSession = Annotated[Session, Depends(_session, scope="function")]
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]
# What-if computations: a transaction the database holds read-only, always rolled back.
SandboxSession = Annotated[Session, Depends(_sandbox_session, scope="function")]
