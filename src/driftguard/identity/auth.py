"""Sign-in sessions: login, refresh-token rotation with reuse detection, logout, and turning a
presented credential into a :class:`Principal`."""

from __future__ import annotations

import uuid
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.audit.schemas import AuditActor
from driftguard.db.base import utcnow
from driftguard.errors import UnauthenticatedError
from driftguard.identity import repository
from driftguard.identity.orm import RefreshToken, User
from driftguard.identity.passwords import verify_password
from driftguard.identity.principal import Principal
from driftguard.identity.schemas import TokenPair
from driftguard.identity.tokens import (
    API_KEY_PREFIX,
    decode_access_token,
    hash_secret,
    issue_access_token,
    new_secret,
)
from driftguard.settings import Settings

BAD_CREDENTIALS = "email or password is incorrect"
# ``ApiKey.last_used_at`` is kept to this resolution: one write per key per minute, not per call.
KEY_USE_RESOLUTION = timedelta(minutes=1)


def verify_credentials(
    session: Session, *, email: str, password: str, hasher: PasswordHasher
) -> int:
    """The user id for a correct email and password (only reads; hashing is slow on purpose)."""
    user = repository.get_user_by_email(session, email.strip())
    # Verify against a throwaway hash for unknown users, so both failures cost the same time.
    password_hash = user.password_hash if user is not None else _dummy_hash(hasher)
    if not verify_password(hasher, password_hash, password) or user is None or not user.is_active:
        raise UnauthenticatedError(BAD_CREDENTIALS, code="bad_credentials")
    return user.id


def start_session(
    session: Session, *, user_id: int, password: str, hasher: PasswordHasher, settings: Settings
) -> TokenPair:
    """Open a sign-in session for a user whose credentials were just verified."""
    user = repository.get_user(session, user_id)
    if user is None or not user.is_active:
        raise UnauthenticatedError(BAD_CREDENTIALS, code="bad_credentials")
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    family_id = str(uuid.uuid4())
    pair = _issue_pair(session, user=user, family_id=family_id, settings=settings)
    _record_session_event(session, "auth.login", user_id=user.id, family_id=family_id)
    return pair


def refresh(session: Session, *, refresh_token: str, settings: Settings) -> TokenPair:
    """Rotate: the presented token is spent and a new pair issued in the same family.

    A token presented after it was rotated means the chain leaked: the whole family is revoked.
    """
    stored = repository.get_refresh_token(session, hash_secret(refresh_token))
    if stored is None or stored.revoked_at is not None:
        raise UnauthenticatedError("refresh token is invalid", code="invalid_token")
    if stored.rotated_at is not None or not repository.claim_refresh_token(session, stored.id):
        repository.revoke_family(session, stored.family_id)
        _record_session_event(
            session, "auth.refresh_reuse", user_id=stored.user_id, family_id=stored.family_id
        )
        raise UnauthenticatedError(
            "refresh token was already used; the session has been revoked",
            code="token_reused",
            keep_changes=True,
        )
    if stored.expires_at <= utcnow():
        raise UnauthenticatedError("refresh token has expired", code="token_expired")
    user = repository.get_user(session, stored.user_id)
    if user is None or not user.is_active:
        raise UnauthenticatedError("refresh token is invalid", code="invalid_token")
    pair = _issue_pair(session, user=user, family_id=stored.family_id, settings=settings)
    _record_session_event(session, "auth.refresh", user_id=user.id, family_id=stored.family_id)
    return pair


def logout(session: Session, *, refresh_token: str) -> None:
    """End the session a refresh token belongs to: revoke its whole token family, audited."""
    stored = repository.get_refresh_token(session, hash_secret(refresh_token))
    if stored is None:
        raise UnauthenticatedError("refresh token is invalid", code="invalid_token")
    repository.revoke_family(session, stored.family_id)
    _record_session_event(
        session, "auth.logout", user_id=stored.user_id, family_id=stored.family_id
    )


def open_web_session(session: Session, *, secret: str, max_lifetime: timedelta) -> tuple[User, str]:
    """The user and session id (refresh-token family) a browser's session cookie names.

    The web UI keeps the session's refresh token in an HttpOnly cookie and never rotates it: it is
    the server-side session id. Sign-out revokes the family (:func:`logout`), as the API does. A
    session older than ``max_lifetime`` has ended, however active it was.
    """
    stored = repository.get_refresh_token(session, hash_secret(secret))
    now = utcnow()
    if (
        stored is None
        or stored.revoked_at is not None
        or stored.rotated_at is not None
        or stored.expires_at <= now
        or stored.created_at + max_lifetime <= now
    ):
        raise UnauthenticatedError("session has ended; sign in again", code="session_ended")
    user = repository.get_user(session, stored.user_id)
    if user is None or not user.is_active:
        raise UnauthenticatedError("session has ended; sign in again", code="session_ended")
    return user, stored.family_id


def principal_from_access_token(session: Session, *, token: str, settings: Settings) -> Principal:
    """The caller an access token names, as long as its session is still live (a logout ends it
    at once)."""
    claims = decode_access_token(settings, token)
    # Logout and refresh-token reuse end the session at once, not when the JWT expires.
    roles = repository.live_session_roles(session, claims.user_id, claims.session_id)
    if roles is None:
        raise UnauthenticatedError("session has ended; sign in again", code="session_ended")
    platform_role, team_roles = roles
    return Principal(user_id=claims.user_id, platform_role=platform_role, team_roles=team_roles)


def principal_for_user(session: Session, user: User) -> Principal:
    """A user's principal: their platform role and their role in each team."""
    roles = {m.team_id: m.role for m in repository.memberships_of(session, user.id)}
    return Principal(user_id=user.id, platform_role=user.platform_role, team_roles=roles)


def principal_from_api_key(session: Session, *, key: str) -> Principal:
    """The principal of a live API key: its role in its one team, no user."""
    if not key.startswith(API_KEY_PREFIX):
        raise UnauthenticatedError("API key is invalid", code="invalid_api_key")
    stored = repository.get_api_key_by_hash(session, hash_secret(key))
    if stored is None or stored.revoked_at is not None:
        raise UnauthenticatedError("API key is invalid", code="invalid_api_key")
    return Principal(user_id=None, team_roles={stored.team_id: stored.role}, api_key_id=stored.id)


def record_api_key_use(session: Session, *, api_key_id: int) -> bool:
    """Note that a key was used, at most once per :data:`KEY_USE_RESOLUTION` across processes."""
    now = utcnow()
    return repository.touch_api_key(
        session, api_key_id, now=now, stale_before=now - KEY_USE_RESOLUTION
    )


def _record_session_event(session: Session, action: str, *, user_id: int, family_id: str) -> None:
    # The session id (refresh-token family) is not a secret: it names the session, it opens nothing.
    audit.record(
        session,
        actor=AuditActor(user_id=user_id),
        action=action,
        object_type="session",
        object_id=family_id,
    )


def _issue_pair(session: Session, *, user: User, family_id: str, settings: Settings) -> TokenPair:
    now = utcnow()
    secret = new_secret()
    session.add(
        RefreshToken(
            id=str(uuid.uuid4()),
            family_id=family_id,
            user_id=user.id,
            token_hash=hash_secret(secret),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    session.flush()
    access = issue_access_token(settings, user_id=user.id, session_id=family_id, now=now)
    return TokenPair(
        access_token=access, refresh_token=secret, expires_in=settings.access_token_ttl_seconds
    )


_DUMMY_HASHES: dict[tuple[int, int, int], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hasher.hash(new_secret())
    return _DUMMY_HASHES[key]
