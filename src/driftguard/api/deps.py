"""Request dependencies, each defined once as an ``Annotated`` alias.

Authorization is deny-by-default: a route states what it needs with :func:`require`, or is
declared :func:`public`; ``create_app`` refuses to start if a route does neither.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from argon2 import PasswordHasher
from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from driftguard.api.ratelimit import RateLimiter
from driftguard.dashboard.cache import DashboardCache
from driftguard.db.session import finish, sandbox
from driftguard.errors import ForbiddenError, NotFoundError, UnauthenticatedError
from driftguard.identity import auth
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.identity.tokens import API_KEY_PREFIX
from driftguard.settings import Environment, Settings

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

_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="Team API key")


def _principal(
    request: Request,
    session: DbSession,
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal:
    principal = _authenticate(session, settings, bearer, api_key)
    # The request's audit record and log line name the caller (see api/observe.py).
    request.state.principal = principal
    limiter: RateLimiter = request.app.state.rate_limiter
    caller = f"key:{principal.api_key_id}" if principal.api_key_id else f"user:{principal.user_id}"
    limiter.hit(limiter.api, "api", caller)
    return principal


def _authenticate(
    session: Session,
    settings: Settings,
    bearer: HTTPAuthorizationCredentials | None,
    api_key: str | None,
) -> Principal:
    if api_key:
        return auth.principal_from_api_key(session, key=api_key)
    if bearer is None:
        raise UnauthenticatedError("authentication required", code="unauthenticated")
    if bearer.credentials.startswith(API_KEY_PREFIX):
        return auth.principal_from_api_key(session, key=bearer.credentials)
    return auth.principal_from_access_token(session, token=bearer.credentials, settings=settings)


CurrentPrincipal = Annotated[Principal, Depends(_principal)]


def require(permission: Permission) -> Any:
    """``Depends`` marker: the caller must hold ``permission`` in at least one scope.

    Object-level checks (which team) happen in the service, against the object's team.
    """

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise ForbiddenError(f"your role does not allow {permission.value}")
        return principal

    check.required_permission = permission  # type: ignore[attr-defined]
    return Depends(check)


async def _public() -> None:
    return None


_public.is_public = True  # type: ignore[attr-defined]


def public() -> Any:
    """``Depends`` marker for the few routes that need no credentials (see PUBLIC_ROUTES)."""
    return Depends(_public)


async def _metrics_token(request: Request, settings: SettingsDep) -> None:
    """The scrape credential: a bearer token of its own, not a user's session.

    With ``DRIFTGUARD_METRICS_TOKEN`` set, it must be presented; unset, metrics are open outside
    production (keep them on an internal network) and switched off (404) in production.
    """
    expected = settings.metrics_token
    if expected is None:
        if settings.environment is Environment.PRODUCTION:
            raise NotFoundError("metrics are off; set DRIFTGUARD_METRICS_TOKEN")
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.get_secret_value().encode()
    ):
        raise UnauthenticatedError("metrics token required", code="unauthenticated")


_metrics_token.guard_name = "metrics-token"  # type: ignore[attr-defined]


def metrics_token() -> Any:
    """``Depends`` marker for the Prometheus scrape endpoint (its own guard, not a permission)."""
    return Depends(_metrics_token)


def route_guard(call: Callable[..., Any]) -> str | None:
    """What a dependency callable declares: a permission value, ``"public"``, a named guard of
    its own (``"metrics-token"``), or nothing."""
    permission = getattr(call, "required_permission", None)
    if permission is not None:
        return str(permission.value)
    guard: str | None = getattr(call, "guard_name", None)
    if guard is not None:
        return guard
    return "public" if getattr(call, "is_public", False) else None
