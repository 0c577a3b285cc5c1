"""Every error leaves the API in one shape:
``{"error": code, "message": text, "details": [{"loc", "msg"}], "request_id": id}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from driftguard.db.session import driver_message, is_transient
from driftguard.error_reports import report_exception
from driftguard.errors import DriftGuardError, ErrorDetail, RateLimitedError
from driftguard.http.status import STATUS_BY_KIND

logger = logging.getLogger("driftguard.api")

RETRY_AFTER_SECONDS = "5"


class ErrorDetailBody(BaseModel):
    loc: str
    msg: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str
    message: str
    details: list[ErrorDetailBody]
    request_id: str


_DESCRIPTIONS = {
    400: "Malformed request (for example, invalid JSON)",
    401: "Missing, invalid or expired credentials",
    403: "Authenticated, but the role does not allow this",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    412: "`If-Match` names a state that is no longer current; reload and retry",
    413: "Request body too large",
    429: "Too many requests; retry after `Retry-After` seconds",
    422: "Invalid input; `details` names each field",
    503: "A dependency is unavailable; retry after `Retry-After` seconds",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in _DESCRIPTIONS.items()
}


def request_id_of(request: Request) -> str:
    """The id the request-id middleware gave this request ("" outside it)."""
    return str(getattr(request.state, "request_id", ""))


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one error body (``error``, ``message``, ``details``, ``request_id``) with a status."""
    body: dict[str, Any] = {
        "error": code,
        "message": message,
        "details": [{"loc": d.loc, "msg": d.msg} for d in details or []],
        "request_id": request_id_of(request),
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _loc(parts: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in parts)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DriftGuardError)
    status = STATUS_BY_KIND[exc.kind]
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    return error_response(request, status, exc.code, exc.message, exc.details, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(
            request,
            400,
            "malformed_json",
            "request body is not valid JSON",
            [ErrorDetail(loc="body", msg=str(errors[0].get("msg", "")))],
        )
    details = [ErrorDetail(loc=_loc(tuple(e["loc"])), msg=str(e["msg"])) for e in errors]
    first = details[0]
    message = f"{first.loc}: {first.msg}"
    if len(details) > 1:
        message += f" (and {len(details) - 1} more)"
    return error_response(request, 422, "validation_error", message, details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    code = codes.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return error_response(request, exc.status_code, code, str(exc.detail), headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path (the router names only the first route
    whose path matched, so ``GET`` alone where ``POST`` is served too)."""
    methods: set[str] = set()
    path = request.url.path
    for context in iter_route_contexts(request.app.routes):
        if context.path is not None and compile_path(context.path)[0].match(path):
            methods.update(getattr(context.original_route, "methods", None) or ())
    return sorted(methods)


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # Unique keys are checked in services first; this is the race where two requests collide.
    return error_response(
        request, 409, "conflict", "the request conflicts with a concurrent change"
    )


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # Schemas should catch every value the database refuses; this keeps a gap a 4xx, not a 500.
    logger.warning("database refused a value (request_id=%s)", request_id_of(request))
    return error_response(request, 422, "invalid_value", "a value is not acceptable to storage")


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    if not is_transient(exc):
        return await _unexpected(request, exc)
    logger.warning("database unavailable: %s", driver_message(exc))
    return error_response(
        request,
        503,
        "unavailable",
        "the database is unavailable; retry shortly",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    route = getattr(request.scope.get("route"), "path", "<unmatched>")
    report_exception(
        exc, tags={"request_id": request_id_of(request), "method": request.method, "route": route}
    )
    logger.exception("unhandled error (request_id=%s)", request_id_of(request))
    # This response is sent from outside the middleware stack, past the request-id middleware.
    return error_response(
        request,
        500,
        "internal_error",
        "an unexpected error occurred",
        headers={"X-Request-ID": request_id_of(request)},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors, database errors and anything unexpected to the one
    error body."""
    app.add_exception_handler(DriftGuardError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
