"""The web router: pages whose errors are pages too (a sign-in redirect, a 403 or 404 page),
never the API's JSON."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from driftguard.errors import (
    DriftGuardError,
    ErrorDetail,
    ErrorKind,
    RateLimitedError,
    UnauthenticatedError,
)
from driftguard.http.status import STATUS_BY_KIND
from driftguard.web.security import SEEN_COOKIE, SESSION_COOKIE, clear_cookie, set_cookie
from driftguard.web.templating import render

TITLES = {
    ErrorKind.NOT_FOUND: "Not found",
    ErrorKind.FORBIDDEN: "Not allowed",
    ErrorKind.CONFLICT: "Not possible right now",
    ErrorKind.STALE: "Changed meanwhile",
    ErrorKind.INVALID: "Check your input",
    ErrorKind.RATE_LIMITED: "Too many requests",
    ErrorKind.UNAVAILABLE: "Temporarily unavailable",
    ErrorKind.TOO_LARGE: "Too large",
}


def sign_in_redirect(request: Request) -> Response:
    """To the sign-in form (and back here after it, for a GET); a session that had a cookie is
    named as expired on the form, and its cookies are cleared."""
    query: list[str] = []
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query.append("next=" + quote(here, safe=""))
    had_session = SESSION_COOKIE in request.cookies
    if had_session:
        query.append("expired=1")
    response = RedirectResponse("/login" + ("?" + "&".join(query) if query else ""), 303)
    if had_session:
        for name in (SESSION_COOKIE, SEEN_COOKIE):
            clear_cookie(response, request, request.app.state.settings, name)
    return response


def _renew_idle_clock(request: Request, response: Response) -> None:
    stamp: str | None = getattr(request.state, "seen_stamp", None)
    if stamp is not None:
        set_cookie(response, request, request.app.state.settings, SEEN_COOKIE, stamp)


def error_page(request: Request, exc: DriftGuardError) -> Response:
    """The error page of a domain error, with the status its kind maps to (and ``Retry-After``
    when rate limited)."""
    status = STATUS_BY_KIND[exc.kind]
    context = {
        "title": TITLES.get(exc.kind, "Something went wrong"),
        "message": exc.message,
        "details": exc.details,
    }
    response = render(request, "error.html", context, status_code=status)
    if isinstance(exc, RateLimitedError):
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


def validation_page(request: Request, exc: RequestValidationError) -> Response:
    """422 naming each invalid field, or 404 when the path itself is not valid (no such page)."""
    errors = list(exc.errors())
    if any(e["loc"] and e["loc"][0] == "path" for e in errors):
        missing = {"title": "Not found", "message": "there is no such page", "details": []}
        return render(request, "error.html", missing, status_code=404)
    details = [
        ErrorDetail(loc=".".join(str(p) for p in e["loc"][1:]), msg=str(e["msg"])) for e in errors
    ]
    context = {
        "title": "Check your input",
        "message": "the request is not valid",
        "details": details,
    }
    return render(request, "error.html", context, status_code=422)


class WebRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, answering sign-in redirects and error pages instead of JSON
        errors."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except UnauthenticatedError:
                return sign_in_redirect(request)
            except DriftGuardError as exc:
                return error_page(request, exc)
            except RequestValidationError as exc:
                return validation_page(request, exc)
            _renew_idle_clock(request, response)
            return response

        return handle


def install_page_errors(app: FastAPI) -> None:
    """A browser asking for an unknown page outside the API gets a 404 page; the API (and any
    client that does not ask for HTML) keeps the JSON error body."""
    json_handler = app.exception_handlers[StarletteHTTPException]

    async def handler(request: Request, exc: Exception) -> Response:
        if (
            isinstance(exc, StarletteHTTPException)
            and exc.status_code == 404
            and not request.url.path.startswith("/api/")
            and "text/html" in request.headers.get("accept", "")
        ):
            missing = {"title": "Not found", "message": "there is no such page", "details": []}
            return render(request, "error.html", missing, status_code=404)
        response = json_handler(request, exc)
        return await response if inspect.isawaitable(response) else response

    app.add_exception_handler(StarletteHTTPException, handler)


def web_router() -> APIRouter:
    """A router for pages: its routes render errors as pages and stay out of the OpenAPI schema."""
    return APIRouter(route_class=WebRoute, include_in_schema=False)
