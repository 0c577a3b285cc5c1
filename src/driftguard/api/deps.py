"""The API's own dependencies: who the caller is (an access token or a team API key), the
permission guard bound to that caller, and the metrics scrape credential. What the API shares with
the web UI (sessions, settings, the rate limiter, object ids, the guard itself) is in ``http/``.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from driftguard.errors import NotFoundError, UnauthenticatedError
from driftguard.http.deps import DbSession, SettingsDep
from driftguard.http.guards import permission_guard
from driftguard.http.ratelimit import RateLimiter
from driftguard.identity import auth
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.identity.tokens import API_KEY_PREFIX
from driftguard.settings import Environment, Settings

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
    """``Depends`` marker: the caller, by access token or API key, must hold ``permission`` in
    at least one scope (the one guard of ``http/guards.py``)."""
    return permission_guard(permission, identity=_principal)


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
