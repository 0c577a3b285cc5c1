from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from driftguard.api.deps import require
from driftguard.errors import NotFoundError
from driftguard.http.deps import (
    ClientAddress,
    DbSession,
    HasherDep,
    RateLimiterDep,
    ReadSession,
    SettingsDep,
)
from driftguard.http.guards import public
from driftguard.identity import auth, repository
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.identity.schemas import (
    LoginRequest,
    Me,
    MembershipRead,
    RefreshRequest,
    TokenPair,
    UserRead,
)

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", dependencies=[public()], responses={401: {"description": "bad credentials"}})
def login(
    body: LoginRequest,
    session: DbSession,
    reader: ReadSession,
    hasher: HasherDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    client: ClientAddress,
) -> TokenPair:
    """Exchange email and password for an access token and a rotating refresh token.

    Attempts are limited per account and per client address (``DRIFTGUARD_RATE_LIMIT_LOGIN``).
    """
    limiter.hit(limiter.login, "login:account", body.email.strip().lower())
    limiter.hit(limiter.login, "login:address", client or "unknown")
    # The password is checked outside the write transaction: hashing is slow on purpose.
    user_id = auth.verify_credentials(
        reader, email=body.email, password=body.password, hasher=hasher
    )
    return auth.start_session(
        session, user_id=user_id, password=body.password, hasher=hasher, settings=settings
    )


@router.post("/refresh", dependencies=[public()], responses={401: {"description": "invalid token"}})
def refresh(body: RefreshRequest, session: DbSession, settings: SettingsDep) -> TokenPair:
    """Spend a refresh token for a new pair. Re-using a spent token revokes the whole session."""
    return auth.refresh(session, refresh_token=body.refresh_token, settings=settings)


@router.post("/logout", status_code=204, dependencies=[public()])
def logout(body: RefreshRequest, session: DbSession) -> Response:
    """End the session the refresh token belongs to; its access tokens stop working at once."""
    auth.logout(session, refresh_token=body.refresh_token)
    return Response(status_code=204)


@router.get("/me")
def me(
    session: DbSession,
    principal: Annotated[Principal, require(Permission.SELF_READ)],
) -> Me:
    """The signed-in user and their team memberships."""
    if principal.user_id is None:
        raise NotFoundError("API keys have no user profile")
    user = repository.get_user(session, principal.user_id)
    if user is None:
        raise NotFoundError("user not found")
    memberships = repository.memberships_of(session, user.id)
    return Me(
        user=UserRead.model_validate(user),
        memberships=[MembershipRead.model_validate(m) for m in memberships],
    )
