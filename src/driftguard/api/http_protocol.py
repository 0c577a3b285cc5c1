"""The server's HTTP/1.1 protocol: uvicorn's h11 protocol with a deadline for request headers
and a cap on connections per client address.

uvicorn starts no timer until a connection's first response is sent, so a client that opens a
connection and sends nothing, or sends its headers a byte a second, holds it for ever. Here every
request's headers must be complete ``header_timeout_seconds`` after the connection opened, or
after the request's first byte on a kept-alive connection (idle time between requests stays the
keep-alive timeout's business); a late client gets 408 and the connection is closed. The same
timer covers the rest of a body the app did not read after it answered, which uvicorn would
otherwise keep reading for ever. Bodies are timed by the app (:mod:`driftguard.api.slow_clients`).

One address may hold at most ``max_connections_per_client`` connections; beyond that a new one
is answered 429 and closed at once. Addresses of ``trusted_proxies`` are not capped: every
client behind the proxy shares them, and the proxy bounds its own connections.

``driftguard serve`` uses :func:`guarded_protocol`; a process manager running uvicorn itself
passes ``--http driftguard.api.http_protocol:GuardedH11Protocol``, which reads the settings from
the environment at its first connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

from driftguard.api.clients import Networks
from driftguard.logs import get_logger
from driftguard.settings import Settings, load_settings

access_log = get_logger("driftguard.access")


def _raw_response(status: bytes, message: bytes, *headers: bytes) -> bytes:
    # Written straight to the socket: no request may have been parsed, so h11 cannot send it.
    lines = [
        b"HTTP/1.1 " + status,
        b"content-type: text/plain; charset=utf-8",
        b"content-length: " + str(len(message)).encode(),
        b"connection: close",
        *headers,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + message


HEADERS_TOO_SLOW = _raw_response(b"408 Request Timeout", b"request headers arrived too slowly")
TOO_MANY_CONNECTIONS = _raw_response(
    b"429 Too Many Requests", b"too many connections from this address", b"retry-after: 1"
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_seconds: float
    max_connections_per_client: int
    uncapped: Networks

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        """The limits the settings configure; trusted proxies are never capped per address."""
        return cls(
            header_timeout_seconds=settings.http_header_timeout_seconds,
            max_connections_per_client=settings.http_max_connections_per_client,
            uncapped=tuple(settings.trusted_proxies),
        )

    def capped(self, address: str) -> bool:
        """Whether connections from this address count against the per-client cap (not a trusted
        proxy's)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return True
        return not any(ip in network for network in self.uncapped)


class GuardedH11Protocol(H11Protocol):
    """One connection. The limits and the open-connection counts are per server class
    (:func:`guarded_protocol` makes one per server)."""

    limits: ClassVar[ConnectionLimits | None] = None
    open_by_address: ClassVar[Counter[str]] = Counter()

    _header_timer: asyncio.TimerHandle | None = None
    _counted: str | None = None

    @classmethod
    def _limits(cls) -> ConnectionLimits:
        if cls.limits is None:
            cls.limits = ConnectionLimits.from_settings(load_settings())
        return cls.limits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Count the connection against its address and refuse it (429) past the per-client cap."""
        super().connection_made(transport)
        limits = self._limits()
        address = self.client[0] if self.client else None
        if address is not None and limits.capped(address):
            self._counted = address
            self.open_by_address[address] += 1
            if self.open_by_address[address] > limits.max_connections_per_client:
                access_log.warning("connection refused", status=429, reason="per-address cap")
                self.transport.write(TOO_MANY_CONNECTIONS)
                self.transport.close()
                return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Release the connection's place in its address's count."""
        self._disarm_header_timer()
        if self._counted is not None:
            self.open_by_address[self._counted] -= 1
            if self.open_by_address[self._counted] <= 0:
                del self.open_by_address[self._counted]
            self._counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed bytes to h11, timing how long a request's headers take to arrive."""
        cycle = self.cycle
        waiting_for_headers = cycle is None or cycle.response_complete
        if waiting_for_headers and self._header_timer is None:
            self._arm_header_timer()  # the first byte of a request on a kept-alive connection
        super().data_received(data)
        if self.cycle is not cycle:
            self._disarm_header_timer()  # the headers are in: a request cycle began

    def _arm_header_timer(self) -> None:
        seconds = self._limits().header_timeout_seconds
        self._header_timer = self.loop.call_later(seconds, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        access_log.warning("request headers too slow", status=408)
        self.transport.write(HEADERS_TOO_SLOW)
        self.transport.close()


def guarded_protocol(settings: Settings) -> type[GuardedH11Protocol]:
    """A protocol class for one server, with the settings' limits and its own counts."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"limits": ConnectionLimits.from_settings(settings), "open_by_address": Counter()},
    )
