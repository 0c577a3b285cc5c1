"""Access tokens (JWT, one pinned algorithm) and opaque secrets (refresh tokens, API keys)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from driftguard.errors import UnauthenticatedError
from driftguard.settings import Settings

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
API_KEY_PREFIX = "dgk_"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "typ", "sid"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    session_id: str


def issue_access_token(settings: Settings, *, user_id: int, session_id: str, now: datetime) -> str:
    """A signed JWT access token for a user's session, expiring after the configured TTL."""
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.access_token_ttl_seconds)).timestamp()),
        "typ": ACCESS_TOKEN_TYPE,
        "sid": session_id,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verify signature, algorithm, issuer, audience, expiry and type; never trust the header."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise UnauthenticatedError("access token has expired", code="token_expired") from exc
    except jwt.PyJWTError as exc:
        raise UnauthenticatedError("access token is invalid", code="invalid_token") from exc
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise UnauthenticatedError("token is not an access token", code="invalid_token")
    subject, session_id = claims["sub"], claims["sid"]
    if not (isinstance(subject, str) and subject.isdigit() and isinstance(session_id, str)):
        raise UnauthenticatedError("access token is invalid", code="invalid_token")
    return AccessClaims(user_id=int(subject), session_id=session_id)


def new_secret() -> str:
    """A fresh random secret of 256 bits, URL-safe (refresh tokens, API keys)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Secrets here carry 256 random bits, so a fast hash is enough (no dictionary to try)."""
    return hashlib.sha256(secret.encode()).hexdigest()
