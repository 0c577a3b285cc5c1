"""How long one round trip to the database may take: a statement, a commit, a ping.

A database that stops answering while the network still acknowledges its packets (a frozen
process, a paused VM) leaves a client waiting forever: TCP keepalives and ``tcp_user_timeout``
never fire, because the peer's kernel acknowledges everything. So each round trip is bounded
twice:

- on the server, ``statement_timeout`` (PostgreSQL) cancels a slow statement cleanly, and the
  connection stays usable; SQLite's busy timeout bounds the wait for another writer's lock;
- on the client, :class:`BoundedConnection` gives up ``GRACE_SECONDS`` later when the server
  says nothing at all, shuts the socket down and closes the connection (SQLAlchemy then
  discards it from the pool).

Each unit of work runs under a :class:`Budget`, chosen by the caller through the
``BUDGET_OPTION`` execution option (on an engine, a connection or a session's bind):

- ``REQUEST``: an ordinary API request, seconds (``DRIFTGUARD_DB_REQUEST_TIMEOUT_SECONDS``): a
  frozen database costs the caller a 503 with ``Retry-After``, not a hang;
- ``LONG``: CLI commands, migrations, task workers, the server's background loops and the few
  bulk request routes (file uploads, monitoring runs), ``DRIFTGUARD_DB_STATEMENT_TIMEOUT_MS``;
- ``UNBOUNDED``: backups, whose snapshot must outlive any single statement bound.

The API server's engine defaults to ``REQUEST`` (deny by default: a route is short unless it is
listed as bulk); every other engine defaults to ``LONG``. Connecting is bounded separately
(``DRIFTGUARD_DB_CONNECT_TIMEOUT_SECONDS``) and so is the pool's liveness ping
(``PING_SECONDS``): a request that arrives during a freeze pays one ping and one connect.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import psycopg
from psycopg import errors
from psycopg.abc import PQGen

from driftguard.settings import Settings

BUDGET_OPTION = "driftguard_budget"
# The client waits this much longer than the server-side bound, so a live server's own
# cancellation (clean, the connection survives) wins the race against the client's.
GRACE_SECONDS = 0.5
# A pooled connection's liveness check: one tiny round trip.
PING_SECONDS = 1.0
# psycopg's own default poll interval (a Ctrl-C is noticed this often).
_WAIT_INTERVAL = 0.1

RV = TypeVar("RV")


class Budget(StrEnum):
    REQUEST = "request"
    LONG = "long"
    UNBOUNDED = "unbounded"


@dataclass(frozen=True)
class Limits:
    """What a budget means on one backend."""

    # PostgreSQL's statement_timeout, or SQLite's busy timeout; 0: none.
    server_ms: int

    @property
    def client_seconds(self) -> float | None:
        """The client-side bound on one round trip (PostgreSQL); ``None``: none."""
        return None if self.server_ms == 0 else self.server_ms / 1000 + GRACE_SECONDS


def limits_for(settings: Settings, budget: Budget) -> Limits:
    """The bound ``budget`` stands for under ``settings``."""
    request_ms = round(settings.db_request_timeout_seconds * 1000)
    if budget is Budget.REQUEST:
        if settings.is_sqlite:  # a shorter busy timeout configured for every writer still holds
            return Limits(server_ms=min(request_ms, settings.sqlite_busy_timeout_ms))
        return Limits(server_ms=request_ms)
    if settings.is_sqlite:
        # A held write lock is waited for, however long the work may take once it is ours.
        return Limits(server_ms=settings.sqlite_busy_timeout_ms)
    if budget is Budget.UNBOUNDED:
        return Limits(server_ms=0)
    return Limits(server_ms=settings.db_statement_timeout_ms)


def budget_of(options: Mapping[str, Any], default: Budget) -> Budget:
    """The budget named by a connection's execution options."""
    value = options.get(BUDGET_OPTION)
    return default if value is None else Budget(value)


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait on the server (execute, fetch, COPY, commit,
    rollback, ping) ends after ``round_trip_seconds``: the socket is shut down, the connection
    closed, and ``OperationalError`` raised. psycopg routes each of those waits through
    :meth:`wait`."""

    round_trip_seconds: float | None = None

    def wait(
        self, gen: PQGen[RV], interval: float = _WAIT_INTERVAL, timeout: float | None = None
    ) -> RV:
        """Wait for a server round trip at most the connection's bound; past it, abandon the
        connection and raise ``OperationalError``."""
        limit = self.round_trip_seconds
        if timeout is not None or limit is None:
            # A caller's own timeout (psycopg's notifies()) is the caller's to handle.
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, limit)
        except errors._WaitTimeout:  # raised for the timeout given above, and only for it
            self._abandon()
            raise psycopg.OperationalError(
                f"the database did not answer within {limit:g} s; connection closed"
            ) from None

    def _abandon(self) -> None:
        # The protocol stopped mid-exchange: the connection can never be used again. Shutting
        # the socket down first keeps close() from blocking on a peer that reads nothing.
        with contextlib.suppress(OSError, psycopg.Error):
            fd = self.pgconn.socket
            with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as duplicate:
                duplicate.shutdown(socket.SHUT_RDWR)
        self.close()


def set_round_trip(dbapi_connection: object, seconds: float | None) -> None:
    """Bound the waits of a :class:`BoundedConnection` (no-op for any other connection)."""
    if isinstance(dbapi_connection, BoundedConnection):
        dbapi_connection.round_trip_seconds = seconds
