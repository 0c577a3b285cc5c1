"""Teams, users, memberships and API keys. Functions flush; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.audit.schemas import SYSTEM, Actor
from driftguard.db.base import utcnow
from driftguard.errors import (
    ConflictError,
    ErrorDetail,
    ForbiddenError,
    InvalidError,
    NotFoundError,
)
from driftguard.identity import repository
from driftguard.identity.orm import ApiKey, Membership, Team, User
from driftguard.identity.passwords import check_password_policy
from driftguard.identity.permissions import PLATFORM_ROLES, TEAM_ROLES, Permission, Role
from driftguard.identity.principal import Principal
from driftguard.identity.schemas import ApiKeyCreate, MembershipCreate, TeamCreate, UserCreate
from driftguard.identity.tokens import API_KEY_PREFIX, hash_secret, new_secret


def create_team(session: Session, *, actor: Actor, data: TeamCreate) -> Team:
    """Create a team with a unique name (409 otherwise), audited."""
    if repository.get_team_by_name(session, data.name) is not None:
        raise ConflictError(f"a team named {data.name!r} already exists", code="team_exists")
    team = Team(name=data.name, description=data.description)
    session.add(team)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="team.create",
        object_type="team",
        object_id=team.id,
        after={"name": team.name, "description": team.description},
    )
    return team


def visible_teams(session: Session, *, principal: Principal) -> Sequence[Team]:
    """The teams the principal may read, by name."""
    return repository.list_teams(session, visible=principal.teams_with(Permission.TEAMS_READ))


def get_team(session: Session, *, principal: Principal, team_id: int) -> Team:
    """A team the principal may read; any other is ``NotFoundError``."""
    team = repository.get_team(
        session, team_id, visible=principal.teams_with(Permission.TEAMS_READ)
    )
    if team is None:
        raise NotFoundError(f"team {team_id} not found")
    return team


def create_user(
    session: Session, *, actor: Actor, data: UserCreate, hasher: PasswordHasher
) -> User:
    """Create a user: a lower-cased unique email, a password that passes the policy (hashed), at
    most a platform role; audited."""
    email = data.email.lower()
    if data.platform_role is not None and data.platform_role not in PLATFORM_ROLES:
        raise InvalidError(
            "platform_role must be admin or auditor; team roles are given by membership",
            details=[ErrorDetail(loc="platform_role", msg="must be admin or auditor")],
        )
    check_password_policy(data.password, email=email)
    if repository.get_user_by_email(session, email) is not None:
        raise ConflictError("a user with this email already exists", code="user_exists")
    user = User(
        email=email,
        display_name=data.display_name,
        password_hash=hasher.hash(data.password),
        platform_role=data.platform_role,
        is_active=True,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        object_type="user",
        object_id=user.id,
        after={
            "email": user.email,
            "display_name": user.display_name,
            "platform_role": user.platform_role,
            "is_active": user.is_active,
        },
    )
    return user


def add_membership(
    session: Session, *, principal: Principal, team_id: int, data: MembershipCreate
) -> Membership:
    """Give a user a team role (or change it) in a team the principal can see, audited."""
    get_team(session, principal=principal, team_id=team_id)
    if data.role not in TEAM_ROLES:
        raise InvalidError(
            "role must be a team role: ml_engineer, approver or viewer",
            details=[ErrorDetail(loc="role", msg="must be ml_engineer, approver or viewer")],
        )
    if repository.get_user(session, data.user_id) is None:
        raise NotFoundError(f"user {data.user_id} not found")
    membership = repository.get_membership(session, team_id, data.user_id)
    before = None if membership is None else {"role": membership.role}
    if membership is None:
        membership = Membership(team_id=team_id, user_id=data.user_id, role=data.role)
        session.add(membership)
    else:
        membership.role = data.role
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="membership.set",
        object_type="membership",
        object_id=f"{team_id}:{data.user_id}",
        before=before,
        after={"team_id": team_id, "user_id": data.user_id, "role": data.role},
    )
    return membership


def create_api_key(
    session: Session, *, principal: Principal, team_id: int, data: ApiKeyCreate
) -> tuple[ApiKey, str]:
    """Create a key for ``team_id``; the clear secret is returned once and never stored."""
    _require_key_manager(session, principal=principal, team_id=team_id)
    if data.role not in TEAM_ROLES:
        raise InvalidError(
            "an API key's role must be a team role",
            details=[ErrorDetail(loc="role", msg="must be ml_engineer, approver or viewer")],
        )
    # A key acts with no more than its creator may: their own role in the team, or viewer.
    own = principal.team_roles.get(team_id)
    if principal.platform_role is not Role.ADMIN and data.role not in (own, Role.VIEWER):
        raise ForbiddenError(
            f"you may create keys with your own role in this team ({own}) or viewer",
            details=[ErrorDetail(loc="role", msg=f"must be {own} or viewer")],
        )
    if any(k.name == data.name for k in repository.list_api_keys(session, team_id)):
        raise ConflictError(f"this team already has an API key named {data.name!r}")
    secret = API_KEY_PREFIX + new_secret()
    key = ApiKey(
        team_id=team_id,
        name=data.name,
        prefix=secret[:12],
        key_hash=hash_secret(secret),
        role=data.role,
        created_by_id=principal.user_id,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="api_key.create",
        object_type="api_key",
        object_id=key.id,
        after={"team_id": team_id, "name": key.name, "prefix": key.prefix, "role": key.role},
    )
    return key, secret


def list_api_keys(session: Session, *, principal: Principal, team_id: int) -> Sequence[ApiKey]:
    """A team's API keys, for a principal who manages them there."""
    _require_key_manager(session, principal=principal, team_id=team_id)
    return repository.list_api_keys(session, team_id)


def revoke_api_key(session: Session, *, principal: Principal, team_id: int, key_id: int) -> ApiKey:
    """Revoke a team's API key (a no-op if it already is), audited."""
    _require_key_manager(session, principal=principal, team_id=team_id)
    key = repository.get_api_key(session, team_id, key_id)
    if key is None:
        raise NotFoundError(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
        audit.record(
            session,
            actor=principal,
            action="api_key.revoke",
            object_type="api_key",
            object_id=key.id,
            before={"revoked_at": None},
            after={"revoked_at": key.revoked_at},
        )
    return key


def _require_key_manager(session: Session, *, principal: Principal, team_id: int) -> None:
    get_team(session, principal=principal, team_id=team_id)
    principal.require_in_team(Permission.API_KEYS_MANAGE, team_id)
    # A leaked key must not be able to mint its own successor or revoke the others.
    if principal.api_key_id is not None:
        raise ForbiddenError("API keys are managed by people, not by other API keys")


def bootstrap_admin(
    session: Session, *, email: str, display_name: str, password: str, hasher: PasswordHasher
) -> User:
    """The first administrator, created from the command line."""
    data = UserCreate(
        email=email, display_name=display_name, password=password, platform_role=Role.ADMIN
    )
    return create_user(session, actor=SYSTEM, data=data, hasher=hasher)


def list_users(session: Session, *, limit: int, offset: int) -> tuple[Sequence[User], int]:
    """A page of every user, and how many there are."""
    return repository.list_users(session, limit=limit, offset=offset)


def display_names(session: Session, *, user_ids: Collection[int]) -> dict[int, str]:
    """Who requested or reviewed something the caller can already see, by name (one query)."""
    return repository.display_names(session, user_ids)
