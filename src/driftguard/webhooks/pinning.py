"""An HTTP transport that connects only to the addresses it has checked.

Checking a URL's host and then handing the URL to an HTTP client resolves the name twice, and a
DNS answer that changes in between (DNS rebinding) would send the request to an address nobody
checked. Here the check happens where the socket is opened: the connection pool asks this
network backend for a TCP connection to ``host``; the backend resolves ``host`` once, refuses
it unless every address is allowed, and connects to one of those very addresses. The request
keeps the name for its ``Host`` header and for TLS (SNI and certificate checks), because the
pool still knows its origin by name.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import httpcore2
import httpx2

from driftguard.webhooks.targets import Resolver, resolve_checked, system_resolver


class PinnedBackend(httpcore2.NetworkBackend):
    """A network backend that resolves once, checks every address, and dials a checked one."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolve: Resolver = system_resolver,
        dial: httpcore2.NetworkBackend | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolve = resolve
        self._dial = dial or httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.NetworkStream:
        """Connect to the first checked address of ``host`` that answers, within ``timeout``."""
        addresses = resolve_checked(
            host, port, allow_private=self._allow_private, resolve=self._resolve
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        failure: httpcore2.ConnectError | httpcore2.ConnectTimeout | None = None
        for address in addresses:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            try:
                return self._dial.connect_tcp(
                    str(address),
                    port,
                    timeout=left,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc  # try the next address, as socket.create_connection does
        raise failure or httpcore2.ConnectTimeout(f"no address of {host} answered in time")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.NetworkStream:
        """Refused: webhooks are sent over TCP only."""
        raise httpcore2.ConnectError("webhooks are sent over TCP only")

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (httpcore's retry pause)."""
        time.sleep(seconds)


class PinnedTransport(httpx2.HTTPTransport):
    """``httpx2.HTTPTransport`` whose connections are opened by a :class:`PinnedBackend`."""

    def __init__(self, backend: PinnedBackend, *, limits: httpx2.Limits | None = None) -> None:
        limits = limits or httpx2.Limits()
        super().__init__(trust_env=False, limits=limits)
        # httpx2's transport takes no network backend, so its pool is rebuilt around one;
        # the delivery tests fail if a release renames the attribute (the fake resolver
        # would go unasked).
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
