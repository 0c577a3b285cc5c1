"""Pure ASGI middleware: request ids, credentials before bodies, the body size limit."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"
# Accept a caller's id only if it cannot smuggle anything into headers or logs.
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


Headers = list[tuple[bytes, bytes]]


def editing_headers(send: Send, edit: Callable[[Headers], Headers]) -> Send:
    """``send``, with ``edit`` applied to the response's headers as they start."""

    async def send_edited(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = edit(list(message.get("headers", [])))
        await send(message)

    return send_edited


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"")
        request_id = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        def with_id(headers: Headers) -> Headers:
            return [(k, v) for k, v in headers if k != REQUEST_ID_HEADER] + [
                (REQUEST_ID_HEADER, request_id)
            ]

        await self.app(scope, receive, editing_headers(send, with_id))


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response that does not choose its own: API answers
    carry tokens and other teams' data, and nothing but the static assets may be kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        await self.app(scope, receive, editing_headers(send, _no_store_unless_chosen))


def _no_store_unless_chosen(headers: Headers) -> Headers:
    if any(name.lower() == b"cache-control" for name, _ in headers):
        return headers
    return [*headers, (b"cache-control", b"no-store")]


class BodySizeLimitMiddleware:
    """413 for a body over the limit: at once from Content-Length, or while streaming.

    ``overrides`` raise the limit for the data-ingest paths that match them.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        overrides: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.overrides = tuple(overrides)

    def limit_for(self, path: str) -> int:
        """The body size limit of a path: the first override whose pattern matches, else the
        default."""
        for pattern, limit in self.overrides:
            if pattern.match(path):
                return limit
        return self.default_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await self._reject(scope, send, max_bytes)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    # FastAPI passes an HTTPException from the body stream through unchanged.
                    raise HTTPException(413, f"request body exceeds {max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)

    async def _reject(self, scope: Scope, send: Send, max_bytes: int) -> None:
        await send_error(scope, send, 413, "too_large", f"request body exceeds {max_bytes} bytes")


class RequireCredentialsMiddleware:
    """401 at once for a request that could carry a body but carries no credentials at all,
    before anything reads the body (FastAPI parses a body before it runs the dependencies that
    authenticate). Whether credentials are *valid* is the routes' business; only the reviewed
    public routes are let through without any.
    """

    def __init__(self, app: ASGIApp, *, prefix: str, public: frozenset[tuple[str, str]]) -> None:
        self.app = app
        self.prefix = prefix
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and lacks_credentials(
            scope, prefix=self.prefix, public=self.public
        ):
            await send_error(
                scope,
                send,
                401,
                "unauthenticated",
                "authentication required",
                extra_headers=[(b"www-authenticate", b"Bearer")],
            )
            return
        await self.app(scope, receive, send)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def lacks_credentials(scope: Scope, *, prefix: str, public: frozenset[tuple[str, str]]) -> bool:
    """A request that could carry a body to a route under ``prefix`` that needs credentials,
    carrying none at all (whether they are *valid* is the routes' business)."""
    method, path = scope["method"], scope["path"]
    if method not in _BODY_METHODS or not path.startswith(prefix) or (method, path) in public:
        return False
    headers = dict(scope["headers"])
    return b"authorization" not in headers and b"x-api-key" not in headers


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    *,
    extra_headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """An error in the API's one shape, sent without reading the request body."""
    request_id = scope.get("state", {}).get("request_id", "")
    body = json.dumps(
        {"error": code, "message": message, "details": [], "request_id": request_id}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *extra_headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
