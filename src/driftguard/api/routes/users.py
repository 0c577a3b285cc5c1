from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from driftguard.api.deps import require
from driftguard.http.deps import DbSession, HasherDep
from driftguard.http.params import LimitQuery, OffsetQuery
from driftguard.identity import service
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.identity.schemas import UserCreate, UserRead
from driftguard.schemas import Page

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=201)
def create_user(
    body: UserCreate,
    session: DbSession,
    hasher: HasherDep,
    principal: Annotated[Principal, require(Permission.USERS_WRITE)],
) -> UserRead:
    """Create a user with a password (hashed with Argon2id)."""
    user = service.create_user(session, actor=principal, data=body, hasher=hasher)
    return UserRead.model_validate(user)


@router.get("")
def list_users(
    session: DbSession,
    _principal: Annotated[Principal, require(Permission.USERS_READ)],
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[UserRead]:
    """Every user of the installation, paged (users are not team-scoped)."""
    rows, total = service.list_users(session, limit=limit, offset=offset)
    return Page(
        items=[UserRead.model_validate(u) for u in rows], total=total, limit=limit, offset=offset
    )
