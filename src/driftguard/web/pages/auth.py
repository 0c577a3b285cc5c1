"""Sign-in and sign-out."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, StringConstraints

from driftguard.errors import RateLimitedError, UnauthenticatedError
from driftguard.http.deps import (
    ClientAddress,
    DbSession,
    HasherDep,
    RateLimiterDep,
    ReadSession,
    SettingsDep,
)
from driftguard.http.guards import public
from driftguard.identity import auth
from driftguard.identity.auth import BAD_CREDENTIALS
from driftguard.identity.permissions import Permission
from driftguard.identity.tokens import decode_access_token
from driftguard.web.forms import FieldErrors, parse_fields
from driftguard.web.routing import web_router
from driftguard.web.security import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SEEN_COOKIE,
    SESSION_COOKIE,
    CheckedForm,
    check_csrf,
    clear_cookie,
    cookie,
    csrf_token,
    new_login_binding,
    page_permission,
    safe_next,
    seen_stamp,
    set_cookie,
)
from driftguard.web.templating import render

router = web_router()
SESSION_EXPIRED = "Your session has expired. Sign in again."


class SignInFields(BaseModel):
    email: Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=320, pattern=r"^[^\x00-\x1f\x7f]+$"),
    ] = ""
    password: Annotated[str, StringConstraints(max_length=1024)] = ""


def _form_page(
    request: Request,
    *,
    binding: str,
    next_path: str,
    email: str = "",
    errors: FieldErrors | None = None,
    message: str = "",
    status_code: int = 200,
) -> Response:
    settings = request.app.state.settings
    context = {
        "csrf_token": csrf_token(settings, binding),
        "next": next_path,
        "email": email,
        "errors": errors or {},
        "message": message,
    }
    response = render(request, "login.html", context, status_code=status_code)
    set_cookie(response, request, settings, LOGIN_COOKIE, binding)
    return response


@router.get("/login", dependencies=[public()])
def sign_in_page(
    request: Request,
    next_path: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
    expired: bool = False,
) -> Response:
    """The sign-in form, its CSRF token bound to this browser's login cookie."""
    binding = cookie(request, LOGIN_COOKIE) or new_login_binding()
    return _form_page(
        request,
        binding=binding,
        next_path=safe_next(next_path),
        message=SESSION_EXPIRED if expired else "",
    )


FormText = Annotated[str, Form(max_length=4096)]


@router.post("/login", dependencies=[public()])
def sign_in(
    request: Request,
    session: DbSession,
    reader: ReadSession,
    hasher: HasherDep,
    settings: SettingsDep,
    limiter: RateLimiterDep,
    client: ClientAddress,
    email: FormText = "",
    password: FormText = "",
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=128)] = "",
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    """Check the credentials (rate limited per address and account) and start a browser session."""
    binding = cookie(request, LOGIN_COOKIE)
    check_csrf(settings, binding, csrf)
    assert binding is not None
    target = safe_next(next_path)
    fields, errors = parse_fields(SignInFields, {"email": email, "password": password})
    for name, value in (("email", email), ("password", password)):
        if not value:
            errors[name] = f"enter your {name}"
    if errors:
        return _form_page(
            request,
            binding=binding,
            next_path=target,
            email=email[:320],
            errors=errors,
            status_code=422,
        )
    try:
        limiter.hit(limiter.login, "login:account", fields.email.lower())
        limiter.hit(limiter.login, "login:address", client or "unknown")
        # The password is checked outside the write transaction: hashing is slow on purpose.
        user_id = auth.verify_credentials(
            reader, email=fields.email, password=fields.password, hasher=hasher
        )
    except UnauthenticatedError:
        return _form_page(
            request,
            binding=binding,
            next_path=target,
            email=email[:320],
            message=BAD_CREDENTIALS,
            status_code=401,
        )
    except RateLimitedError as exc:
        page = _form_page(
            request,
            binding=binding,
            next_path=target,
            email=email[:320],
            message=exc.message,
            status_code=429,
        )
        page.headers["Retry-After"] = str(exc.retry_after_seconds)
        return page
    tokens = auth.start_session(
        session, user_id=user_id, password=fields.password, hasher=hasher, settings=settings
    )
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, settings, SESSION_COOKIE, tokens.refresh_token)
    session_id = decode_access_token(settings, tokens.access_token).session_id
    stamp = seen_stamp(settings, session_id, int(time.time()))
    set_cookie(response, request, settings, SEEN_COOKIE, stamp)
    clear_cookie(response, request, settings, LOGIN_COOKIE)
    return response


@router.post("/logout", dependencies=[page_permission(Permission.SELF_READ)])
def sign_out(
    request: Request, form: CheckedForm, session: DbSession, settings: SettingsDep
) -> Response:
    """End the browser session: revoke its refresh token and clear the session cookies."""
    secret = cookie(request, SESSION_COOKIE)
    assert secret is not None  # the page permission found the session
    auth.logout(session, refresh_token=secret)
    response = RedirectResponse("/login", status_code=303)
    clear_cookie(response, request, settings, SESSION_COOKIE)
    clear_cookie(response, request, settings, SEEN_COOKIE)
    return response
