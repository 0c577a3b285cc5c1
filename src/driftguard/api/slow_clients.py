"""Request bodies under a deadline and a minimum rate, read before the admission slot is taken.

A client that sends its body a byte a second would otherwise hold an admission slot (and a
worker's attention) for as long as it pleases: eight of them shed every other request with 503.
So a body must arrive within ``timeout_seconds``, extended by one second for every
``min_rate_bytes`` received (the rule of Apache's mod_reqtimeout): any client sending at least
that rate is never cut off, a trickle is cut off within the timeout.

Ordinary bodies (routes whose size limit is the default one) are read whole here, outside
admission, and replayed to the app: a slow upload waits without holding a slot. The ingest routes
accept bodies too large to hold in memory (their handlers stream them), so there the same rule is
applied to each read instead, inside admission. A request that could carry a body but carries no
credentials for a route that needs them is passed on unread (``RequireCredentialsMiddleware``
answers it 401 without reading it). Header deadlines and the per-address connection cap live in
the server's protocol (:mod:`driftguard.api.http_protocol`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from driftguard.api.middleware import lacks_credentials, send_error
from driftguard.logs import get_logger

access_log = get_logger("driftguard.access")

TOO_SLOW = "the request body arrived too slowly"


@dataclass(frozen=True, slots=True)
class BodyDeadline:
    """``timeout_seconds`` for the whole body, plus one second per ``min_rate_bytes`` received."""

    timeout_seconds: float
    min_rate_bytes: int

    def remaining(self, *, started: float, received: int, now: float) -> float:
        """Seconds left before the body is late (zero or less: it is)."""
        return started + self.timeout_seconds + received / self.min_rate_bytes - now


class BodyTooSlowError(Exception):
    """The client did not keep up the minimum rate."""


class _Reader:
    """Reads ``http.request`` messages under one :class:`BodyDeadline`."""

    def __init__(self, receive: Receive, deadline: BodyDeadline) -> None:
        self._receive = receive
        self._deadline = deadline
        self._started = time.monotonic()
        self.received = 0

    async def __call__(self) -> Message:
        left = self._deadline.remaining(
            started=self._started, received=self.received, now=time.monotonic()
        )
        try:
            async with asyncio.timeout(max(left, 0.0)):
                message = await self._receive()
        except TimeoutError:
            raise BodyTooSlowError from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
        return message


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length, or None for a chunked body or one the size limit will refuse."""
    value = dict(scope["headers"]).get(b"content-length")
    return int(value) if value is not None and value.isdigit() else None


def _has_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    return b"transfer-encoding" in headers or _declared_length(scope) not in (None, 0)


class BodyDeadlineMiddleware:
    """Read each request body under a :class:`BodyDeadline`: whole before the inner app runs
    when it is at most ``max_buffered_bytes``, else read by read on ``streamed`` paths."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        deadline: BodyDeadline,
        max_buffered_bytes: int,
        streamed: Sequence[re.Pattern[str]],
        credentials_prefix: str,
        public: frozenset[tuple[str, str]],
        on_too_slow: Callable[[], None],
    ) -> None:
        self.app = app
        self.deadline = deadline
        self.max_buffered_bytes = max_buffered_bytes
        self.streamed = tuple(streamed)
        self.credentials_prefix = credentials_prefix
        self.public = public
        self.on_too_slow = on_too_slow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        if lacks_credentials(scope, prefix=self.credentials_prefix, public=self.public):
            await self.app(scope, receive, send)
            return
        if any(pattern.match(scope["path"]) for pattern in self.streamed):
            await self.app(scope, self._streamed(receive), send)
            return
        declared = _declared_length(scope)
        if declared is None and b"content-length" in dict(scope["headers"]):
            await self.app(scope, receive, send)  # malformed: the size limit answers it
            return
        if declared is not None and declared > self.max_buffered_bytes:
            await self.app(scope, receive, send)  # the size limit refuses it unread
            return
        await self._buffered(scope, receive, send)

    def _streamed(self, receive: Receive) -> Receive:
        reader = _Reader(receive, self.deadline)

        async def deadline_receive() -> Message:
            try:
                return await reader()
            except BodyTooSlowError:
                self._note(reader.received)
                # FastAPI passes an HTTPException from the body stream through unchanged; the
                # connection closes, so the rest of the trickle is not read either.
                raise HTTPException(408, TOO_SLOW, headers={"Connection": "close"}) from None

        return deadline_receive

    async def _buffered(self, scope: Scope, receive: Receive, send: Send) -> None:
        reader = _Reader(receive, self.deadline)
        chunks: list[bytes] = []
        while True:
            try:
                message = await reader()
            except BodyTooSlowError:
                self._note(reader.received)
                await send_error(scope, send, 408, "request_timeout", TOO_SLOW)
                return
            if message["type"] == "http.disconnect":
                return  # nobody is left to answer
            chunks.append(message.get("body", b""))
            if reader.received > self.max_buffered_bytes:
                message_text = f"request body exceeds {self.max_buffered_bytes} bytes"
                await send_error(scope, send, 413, "too_large", message_text)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body only a disconnect can come
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _note(self, received: int) -> None:
        self.on_too_slow()
        access_log.warning("request body too slow", status=408, received_bytes=received)
