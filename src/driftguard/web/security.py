"""Browser sessions and CSRF for the web UI.

The session cookie holds the sign-in session's refresh token (``identity.auth``): an opaque,
server-side session id, HttpOnly and SameSite=Lax, never rotated by the browser, revoked at
sign-out. Every POST form carries a synchronizer token: an HMAC of the session id (or, on the
sign-in form, of a random pre-session cookie) under the server's secret.

A session ends ``web_session_max_seconds`` after sign-in (checked against the stored session)
and after ``web_session_idle_seconds`` without a page request. Idleness is carried by a second
HttpOnly cookie, the time of the last page request signed together with the session id: only the
server can mint one, a page request renews it, and one older than the idle timeout, from another
session or tampered with ends the session. This keeps page views free of database writes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from driftguard.errors import ForbiddenError, UnauthenticatedError
from driftguard.http.deps import DbSession, SettingsDep
from driftguard.http.guards import permission_guard
from driftguard.http.ratelimit import RateLimiter
from driftguard.identity import auth
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.settings import Environment, Settings

SESSION_COOKIE = "dg_session"
SEEN_COOKIE = "dg_seen"
LOGIN_COOKIE = "dg_signin"
CSRF_FIELD = "csrf_token"
MAX_COOKIE_LENGTH = 128
CSRF_FAILED = "this form has expired or did not come from DriftGuard; reload the page and retry"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The signed-in user of a page request."""

    principal: Principal
    user_id: int
    display_name: str
    session_id: str
    csrf_token: str

    def can(self, permission: Permission) -> bool:
        """Whether any of the signed-in user's roles, in any scope, grants ``permission``."""
        return self.principal.can(permission)


def _mac(settings: Settings, purpose: bytes, message: str) -> str:
    key = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(key, purpose + b"\x00" + message.encode(), hashlib.sha256).hexdigest()


def csrf_token(settings: Settings, binding: str) -> str:
    """The CSRF token of a form: an HMAC of the browser's session (or login) binding."""
    return _mac(settings, b"driftguard-csrf", binding)


def seen_stamp(settings: Settings, session_id: str, at: int) -> str:
    """The idle-timeout cookie's value: ``at`` (Unix seconds) signed with the session id."""
    return f"{at}.{_mac(settings, b'driftguard-seen', f'{session_id}:{at}')}"


def last_seen(settings: Settings, session_id: str, stamp: str | None) -> int | None:
    """When the session's last page request was, if ``stamp`` is genuine and for this session."""
    at, _, _ = (stamp or "").partition(".")
    if not at.isdigit() or len(at) > 12:
        return None
    expected = seen_stamp(settings, session_id, int(at))
    return int(at) if hmac.compare_digest(expected.encode(), (stamp or "").encode()) else None


def check_csrf(settings: Settings, binding: str | None, given: object) -> None:
    """Refuse (403) a form whose CSRF token does not match the browser's binding."""
    if (
        binding is None
        or not isinstance(given, str)
        or not hmac.compare_digest(given.encode(), csrf_token(settings, binding).encode())
    ):
        raise ForbiddenError(CSRF_FAILED, code="csrf_failed")


def _secure(request: Request, settings: Settings) -> bool:
    return (
        request.url.scheme == "https"
        or settings.web_cookie_secure
        or settings.environment is Environment.PRODUCTION
    )


def set_cookie(
    response: Response, request: Request, settings: Settings, name: str, value: str
) -> None:
    """A browser-session cookie (no Max-Age): HttpOnly, SameSite=Lax, Secure over https."""
    response.set_cookie(
        name, value, path="/", httponly=True, samesite="lax", secure=_secure(request, settings)
    )


def clear_cookie(response: Response, request: Request, settings: Settings, name: str) -> None:
    """Delete a cookie with the attributes it was set with."""
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=_secure(request, settings)
    )


def cookie(request: Request, name: str) -> str | None:
    """A cookie's value, or None when it is absent or longer than any cookie this app sets."""
    value = request.cookies.get(name)
    return value if value and len(value) <= MAX_COOKIE_LENGTH else None


def new_login_binding() -> str:
    """A random value binding a sign-in form's CSRF token to one browser."""
    return secrets.token_urlsafe(32)


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a same-site relative path, or the overview."""
    if not raw or len(raw) > 2000 or "\\" in raw or any(ord(c) < 0x20 for c in raw):
        return "/"
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc or not raw.startswith("/") or raw.startswith("//"):
        return "/"
    return raw


def _signed_in(request: Request, session: DbSession, settings: SettingsDep) -> SignedIn:
    secret = cookie(request, SESSION_COOKIE)
    if secret is None:
        raise UnauthenticatedError("sign in to continue", code="unauthenticated")
    user, session_id = auth.open_web_session(
        session, secret=secret, max_lifetime=timedelta(seconds=settings.web_session_max_seconds)
    )
    now = int(time.time())
    seen = last_seen(settings, session_id, cookie(request, SEEN_COOKIE))
    if seen is None or now - seen >= settings.web_session_idle_seconds:
        raise UnauthenticatedError("session has expired; sign in again", code="session_idle")
    # The page's response renews the idle clock (web/routing.py).
    request.state.seen_stamp = seen_stamp(settings, session_id, now)
    principal = auth.principal_for_user(session, user)
    # The request's audit record and log line name the user (see api/observe.py).
    request.state.principal = principal
    limiter: RateLimiter = request.app.state.rate_limiter
    limiter.hit(limiter.api, "api", f"user:{user.id}")
    return SignedIn(
        principal=principal,
        user_id=user.id,
        display_name=user.display_name,
        session_id=session_id,
        csrf_token=csrf_token(settings, session_id),
    )


CurrentUser = Annotated[SignedIn, Depends(_signed_in)]


def page_permission(permission: Permission) -> Any:
    """``Depends`` marker for a page: the signed-in user must hold ``permission`` somewhere (the
    one guard of ``http/guards.py``, so ``create_app``'s route guard check covers pages too)."""
    return permission_guard(permission, identity=_signed_in)


async def _checked_form(request: Request, user: CurrentUser, settings: SettingsDep) -> FormData:
    form = await request.form()
    check_csrf(settings, user.session_id, form.get(CSRF_FIELD))
    return form


# A POST form from a signed-in user, its synchronizer token checked.
CheckedForm = Annotated[FormData, Depends(_checked_form)]
