"""Queries for identity objects. Visibility is part of each query, never a filter afterwards."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from driftguard.db.base import utcnow
from driftguard.identity.orm import ApiKey, Membership, RefreshToken, Team, User
from driftguard.identity.permissions import Role


def get_user_by_email(session: Session, email: str) -> User | None:
    """The user with this email (compared lower-cased), or None."""
    return session.scalar(select(User).where(User.email == email.lower()))


def get_user(session: Session, user_id: int) -> User | None:
    """The user with this id, or None."""
    return session.get(User, user_id)


def list_users(session: Session, *, limit: int, offset: int) -> tuple[Sequence[User], int]:
    """A page of users by id, and how many there are."""
    total = session.scalar(select(func.count()).select_from(User)) or 0
    rows = session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)).all()
    return rows, total


def memberships_of(session: Session, user_id: int) -> Sequence[Membership]:
    """A user's team memberships, by team id."""
    return session.scalars(
        select(Membership).where(Membership.user_id == user_id).order_by(Membership.team_id)
    ).all()


def get_membership(session: Session, team_id: int, user_id: int) -> Membership | None:
    """A user's membership of a team, or None."""
    return session.get(Membership, (team_id, user_id))


def get_team(session: Session, team_id: int, *, visible: frozenset[int] | None) -> Team | None:
    """The team with this id if it is among ``visible`` (None: every team), else None."""
    query = select(Team).where(Team.id == team_id)
    if visible is not None:
        query = query.where(Team.id.in_(visible))
    return session.scalar(query)


def get_team_by_name(session: Session, name: str) -> Team | None:
    """The team with this exact name, or None."""
    return session.scalar(select(Team).where(Team.name == name))


def list_teams(session: Session, *, visible: frozenset[int] | None) -> Sequence[Team]:
    """The teams among ``visible`` (None: every team), by name."""
    query = select(Team).order_by(Team.name)
    if visible is not None:
        query = query.where(Team.id.in_(visible))
    return session.scalars(query).all()


def get_refresh_token(session: Session, token_hash: str) -> RefreshToken | None:
    """The refresh token with this hash (live or not), or None."""
    return session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


def claim_refresh_token(session: Session, token_id: str) -> bool:
    """Mark a live token rotated; False if another request rotated or revoked it first."""
    result = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == token_id,
            RefreshToken.rotated_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(rotated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_family(session: Session, family_id: str) -> None:
    """Revoke every live token of a refresh-token family (one sign-in session)."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def live_session_roles(
    session: Session, user_id: int, family_id: str
) -> tuple[Role | None, dict[int, Role]] | None:
    """The user's platform role and team roles, if the user is active and their own sign-in
    session (refresh-token family) is unrevoked; None otherwise.

    One round trip per authenticated request: the session check, the user and the memberships
    together. The session must belong to the same user, so a token cannot borrow someone else's.
    """
    in_family = (RefreshToken.family_id == family_id) & (RefreshToken.user_id == user_id)
    revoked = (
        select(RefreshToken.id).where(in_family, RefreshToken.revoked_at.is_not(None)).exists()
    )
    started = select(RefreshToken.id).where(in_family).exists()
    rows = session.execute(
        select(User.platform_role, Membership.team_id, Membership.role)
        .outerjoin(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, User.is_active.is_(True), started, ~revoked)
    ).all()
    if not rows:
        return None
    return rows[0][0], {team: role for _, team, role in rows if team is not None}


def get_api_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    """The API key with this hash (revoked or not), or None."""
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


def touch_api_key(session: Session, key_id: int, *, now: datetime, stale_before: datetime) -> bool:
    """Set ``last_used_at`` unless another request already did after ``stale_before``."""
    result = session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < stale_before),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def get_api_key(session: Session, team_id: int, key_id: int) -> ApiKey | None:
    """A team's API key by id, or None (another team's key is not found)."""
    return session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.team_id == team_id))


def list_api_keys(session: Session, team_id: int) -> Sequence[ApiKey]:
    """A team's API keys, revoked ones included, oldest first."""
    return session.scalars(
        select(ApiKey).where(ApiKey.team_id == team_id).order_by(ApiKey.id)
    ).all()


def display_names(session: Session, user_ids: Collection[int]) -> dict[int, str]:
    """Display names by user id, in one query (unknown ids are left out)."""
    if not user_ids:
        return {}
    query = select(User.id, User.display_name).where(User.id.in_(set(user_ids)))
    return {user_id: name for user_id, name in session.execute(query)}  # noqa: C416
