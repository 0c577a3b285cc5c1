"""One pass around every HTTP request: time it, name its route, log it (one JSON line), and
record it in the audit trail.

The audit record of a call is written after the response has been sent, in a short transaction
of its own or shared with the records of requests finishing at the same time
(:mod:`driftguard.api.recorder`): a refused request (401, 403, 404, 422) leaves a record as well,
and a failed audit write is logged, never turned into a failed request. The same transaction
refreshes the API key's ``last_used_at`` when the call used a key, at most once a minute per key.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from driftguard.api.clients import Networks, client_address
from driftguard.api.recorder import RequestRecorder
from driftguard.audit.schemas import SYSTEM, Actor, RequestFacts
from driftguard.identity import auth
from driftguard.logs import get_logger
from driftguard.telemetry import Telemetry

logger = logging.getLogger("driftguard.api")
access_log = get_logger("driftguard.access")

UNMATCHED_ROUTE = "<unmatched>"
# Probes and scrapes are not API calls: recording them would bury the trail in noise.
UNAUDITED_PATHS = frozenset({"/livez", "/readyz", "/metrics"})
# The web UI's stylesheet: fetched with every page, tells nothing the page's own record does not.
UNAUDITED_PREFIXES = ("/static/",)


def route_template(scope: Scope, templates: Mapping[int, str]) -> str:
    """The matched route's path template (``/models/{model_id}``), for logs and metric labels that
    stay few."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    return templates.get(id(route)) or str(getattr(route, "path", UNMATCHED_ROUTE))


class ObserveMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        templates: Mapping[int, str],
        trusted_proxies: Networks,
        telemetry: Telemetry,
        group_commit: bool,
    ) -> None:
        self.app = app
        self.telemetry = telemetry
        self.templates = templates
        self.trusted_proxies = trusted_proxies
        # When this process last noted each API key's use (monotonic seconds).
        self._key_noted: dict[int, float] = {}
        self._recorder = RequestRecorder(group_commit=group_commit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        state["client_addr"] = client_address(scope, self.trusted_proxies)
        status = 500
        # Every log line written while this request runs carries its id.
        context = structlog.contextvars.bind_contextvars(request_id=state.get("request_id"))

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            seconds = time.perf_counter() - started
            principal: Actor = state.get("principal") or SYSTEM
            facts = RequestFacts(
                method=scope["method"],
                route=route_template(scope, self.templates),
                status=status,
                latency_ms=seconds * 1000,
                client_addr=state["client_addr"],
                request_id=state.get("request_id"),
                actor=principal,
            )
            access_log.info(
                "request",
                method=facts.method,
                route=facts.route,
                status=facts.status,
                latency_ms=round(facts.latency_ms, 3),
                user_id=principal.user_id,
                api_key_id=principal.api_key_id,
                client=facts.client_addr,
            )
            self.telemetry.observe_request(
                method=facts.method, route=facts.route, status=status, seconds=seconds
            )
            path = scope["path"]
            if path not in UNAUDITED_PATHS and not path.startswith(UNAUDITED_PREFIXES):
                await self._audit(scope, facts)
            structlog.contextvars.reset_contextvars(**context)

    def _key_to_note(self, api_key_id: int | None) -> int | None:
        """The key whose ``last_used_at`` this request should refresh, if it is due."""
        if api_key_id is None:
            return None
        now = time.monotonic()
        resolution = auth.KEY_USE_RESOLUTION.total_seconds()
        if now - self._key_noted.get(api_key_id, -math.inf) < resolution:
            return None
        self._key_noted[api_key_id] = now
        return api_key_id

    async def _audit(self, scope: Scope, facts: RequestFacts) -> None:
        try:
            factory = scope["app"].state.session_factory
            used_key = self._key_to_note(facts.actor.api_key_id)
            await self._recorder.record(factory, facts, used_key=used_key)
        except Exception:
            self.telemetry.audit_write_failures.inc()
            logger.exception("could not write the audit record of request %s", facts.request_id)
