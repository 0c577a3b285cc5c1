"""Admission control: a bounded number of requests in flight per process, a short bounded wait
for a free slot, and 503 with ``Retry-After`` beyond that.

Why the bound matters: a request's session holds its database connection from its first query
until it commits, across several hops to the worker thread pool (dependencies, handler, commit).
With more requests in flight than worker threads, admitted requests wait for threads while
holding connections ("idle in transaction"), new ones wait for connections while holding threads,
and latency grows until clients time out. Each request uses at most one worker thread at a time,
so with at most ``worker_threads - RESERVED_THREADS`` requests in flight a request never waits
for a thread, and with at most half as many requests in flight as the pool has connections (a few
routes open a second session) it never waits for a connection either
(``Settings.admission_ceiling``).

Probes and the metrics scrape are exempt: they must answer while the server sheds load. The slot
is held until the request's audit record is written (``ObserveMiddleware`` runs inside this one),
so that write is bounded too.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from driftguard.api.middleware import send_error
from driftguard.logs import get_logger

EXEMPT_PATHS = frozenset({"/livez", "/readyz", "/metrics"})

access_log = get_logger("driftguard.access")


class Admission:
    """Slots for requests in flight, and a bounded first-come queue of requests waiting, each
    for at most ``wait_seconds``, for a slot. Used from one event loop; built outside any."""

    def __init__(self, *, limit: int, queue_size: int, wait_seconds: float) -> None:
        self.limit = limit
        self.queue_size = queue_size
        self.wait_seconds = wait_seconds
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """How many requests are queued for a slot."""
        return len(self._waiters)

    def try_enter(self) -> bool:
        """Take a free slot without waiting (never ahead of a request already waiting)."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return True
        return False

    async def enter(self) -> bool:
        """Take a slot, waiting for one if the queue has room; False if none came in time."""
        if self.try_enter():
            return True
        if self.wait_seconds <= 0 or len(self._waiters) >= self.queue_size:
            return False
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(granted)
        try:
            async with asyncio.timeout(self.wait_seconds):
                await granted
        except BaseException as exc:
            handed_over = granted.done() and not granted.cancelled()
            if not handed_over and granted in self._waiters:  # leave() drops cancelled ones
                self._waiters.remove(granted)
            if isinstance(exc, TimeoutError):
                # A slot handed over as the wait ran out is still a slot.
                return handed_over
            if handed_over:
                self.leave()
            raise
        return True

    def leave(self) -> None:
        """Free a slot: hand it to the longest-waiting request, if any."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.in_flight -= 1


class AdmissionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        admission: Admission,
        retry_after_seconds: int,
        on_reject: Callable[[], None],
    ) -> None:
        self.app = app
        self.admission = admission
        self.retry_after = str(retry_after_seconds).encode()
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if not await self.admission.enter():
            await self._reject(scope, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.leave()

    async def _reject(self, scope: Scope, send: Send) -> None:
        self.on_reject()
        # Shed before routing and authentication: no route template, no caller, no audit record
        # (writing one would spend the database time the shedding is saving).
        access_log.warning(
            "request shed",
            method=scope["method"],
            status=503,
            in_flight=self.admission.in_flight,
            waiting=self.admission.waiting,
        )
        await send_error(
            scope,
            send,
            503,
            "overloaded",
            "the server is busy; retry after the delay given in the Retry-After header",
            extra_headers=[(b"retry-after", self.retry_after)],
        )
