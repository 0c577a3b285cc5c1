from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from driftguard.api.deps import require
from driftguard.http.deps import DbSession
from driftguard.http.params import ObjectId
from driftguard.identity import service
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    MembershipCreate,
    MembershipRead,
    TeamCreate,
    TeamRead,
)

router = APIRouter(prefix="/teams", tags=["teams"])
TeamId = ObjectId


@router.get("")
def list_teams(
    session: DbSession, principal: Annotated[Principal, require(Permission.TEAMS_READ)]
) -> list[TeamRead]:
    """The teams the caller can see: their own, or all for admins and auditors."""
    return [TeamRead.model_validate(t) for t in service.visible_teams(session, principal=principal)]


@router.post("", status_code=201)
def create_team(
    body: TeamCreate,
    session: DbSession,
    principal: Annotated[Principal, require(Permission.TEAMS_WRITE)],
) -> TeamRead:
    """A new team, named uniquely (409 if the name is taken)."""
    return TeamRead.model_validate(service.create_team(session, actor=principal, data=body))


@router.get("/{team_id}")
def get_team(
    team_id: TeamId,
    session: DbSession,
    principal: Annotated[Principal, require(Permission.TEAMS_READ)],
) -> TeamRead:
    """One team the caller can see (another team's is 404)."""
    return TeamRead.model_validate(service.get_team(session, principal=principal, team_id=team_id))


@router.put("/{team_id}/members", status_code=200)
def set_membership(
    team_id: TeamId,
    body: MembershipCreate,
    session: DbSession,
    principal: Annotated[Principal, require(Permission.TEAMS_WRITE)],
) -> MembershipRead:
    """Add a user to the team, or change their role in it."""
    membership = service.add_membership(session, principal=principal, team_id=team_id, data=body)
    return MembershipRead.model_validate(membership)


@router.post("/{team_id}/api-keys", status_code=201)
def create_api_key(
    team_id: TeamId,
    body: ApiKeyCreate,
    session: DbSession,
    principal: Annotated[Principal, require(Permission.API_KEYS_MANAGE)],
) -> ApiKeyCreated:
    """Create a team API key. The secret is in this response only."""
    key, secret = service.create_api_key(session, principal=principal, team_id=team_id, data=body)
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=secret)


@router.get("/{team_id}/api-keys")
def list_api_keys(
    team_id: TeamId,
    session: DbSession,
    principal: Annotated[Principal, require(Permission.API_KEYS_MANAGE)],
) -> list[ApiKeyRead]:
    """The team's API keys (their prefixes and metadata; never the secret)."""
    keys = service.list_api_keys(session, principal=principal, team_id=team_id)
    return [ApiKeyRead.model_validate(k) for k in keys]


@router.delete("/{team_id}/api-keys/{key_id}")
def revoke_api_key(
    team_id: TeamId,
    key_id: ObjectId,
    session: DbSession,
    principal: Annotated[Principal, require(Permission.API_KEYS_MANAGE)],
) -> ApiKeyRead:
    """Revoke one of the team's API keys; requests made with it fail from now on."""
    key = service.revoke_api_key(session, principal=principal, team_id=team_id, key_id=key_id)
    return ApiKeyRead.model_validate(key)
