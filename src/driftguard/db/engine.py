from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, Dialect
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from driftguard.db.budget import (
    PING_SECONDS,
    BoundedConnection,
    Budget,
    budget_of,
    limits_for,
    set_round_trip,
)
from driftguard.settings import Settings

READ_ONLY_OPTION = "driftguard_read_only"


def build_engine(settings: Settings, *, budget: Budget = Budget.LONG) -> Engine:
    """The process's one engine, configured for the embedded or the production database.

    ``budget`` bounds each round trip of a unit of work that names none (see ``db/budget.py``):
    the API server's engine is built with ``Budget.REQUEST``, every other with ``LONG``.
    """
    if settings.is_sqlite:
        return _sqlite_engine(settings, budget)
    return _postgres_engine(settings, budget)


def _postgres_engine(settings: Settings, default: Budget) -> Engine:
    default_ms = limits_for(settings, default).server_ms
    engine = create_engine(
        settings.database_url,
        echo=settings.db_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": settings.db_connect_timeout_seconds,
            "options": f"-c statement_timeout={default_ms}",
        },
    )

    @event.listens_for(engine, "do_connect")
    def _connect(
        _dialect: Dialect, _record: ConnectionPoolEntry, cargs: Any, cparams: Any
    ) -> DBAPIConnection:
        connection = BoundedConnection.connect(*cargs, **cparams)
        set_round_trip(connection, limits_for(settings, default).client_seconds)
        return connection  # type: ignore[return-value]

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # The next checkout's liveness ping gets a ping's bound, not a statement's.
        set_round_trip(dbapi_connection, PING_SECONDS)

    @event.listens_for(engine, "checkout")
    def _checkout(
        dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry, _proxy: Any
    ) -> None:
        # Raw connections (no Connection around them) run under the engine's budget.
        set_round_trip(dbapi_connection, limits_for(settings, default).client_seconds)

    def _apply(conn: Connection, options: Mapping[str, Any]) -> None:
        budget = budget_of(options, default)
        client_seconds = limits_for(settings, budget).client_seconds
        set_round_trip(conn.connection.dbapi_connection, client_seconds)

    @event.listens_for(engine, "engine_connect")
    def _engine_connect(conn: Connection) -> None:
        _apply(conn, conn.get_execution_options())

    @event.listens_for(engine, "set_connection_execution_options")
    def _options(conn: Connection, options: dict[str, Any]) -> None:
        # Fired before the new options are merged into the connection's.
        _apply(conn, {**conn.get_execution_options(), **options})

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # The server-side bound, when the unit of work's budget is not the connection's own.
        options = conn.get_execution_options()
        server_ms = limits_for(settings, budget_of(options, default)).server_ms
        if server_ms != default_ms and options.get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {server_ms}")

    return engine


def _sqlite_engine(settings: Settings, default: Budget) -> Engine:
    # A file database gets the configured pool, which admission control is sized against; an
    # in-memory one keeps SQLAlchemy's single-connection pool.
    pool: dict[str, Any] = (
        {}
        if make_url(settings.database_url).database in (None, "", ":memory:")
        else {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_pool_timeout_seconds,
        }
    )
    default_ms = limits_for(settings, default).server_ms
    engine = create_engine(
        settings.database_url,
        echo=settings.db_echo,
        **pool,
        connect_args={"check_same_thread": False, "timeout": default_ms / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        # pysqlite's own BEGIN handling is disabled so that "BEGIN IMMEDIATE" below is ours:
        # writers take the lock up front instead of failing on upgrade from a read lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(default_ms)}")
        cursor.close()
        record.info[_BUSY_MS] = default_ms

    def _busy_timeout(connection: PoolProxiedConnection, budget: Budget) -> None:
        # How long this unit of work waits for another writer's lock: a local setting, no I/O.
        busy_ms = limits_for(settings, budget).server_ms
        if connection.info.get(_BUSY_MS) != busy_ms:
            connection.driver_connection.execute(f"PRAGMA busy_timeout={int(busy_ms)}")  # type: ignore[union-attr]
            connection.info[_BUSY_MS] = busy_ms

    @event.listens_for(engine, "engine_connect")
    def _engine_connect(conn: Connection) -> None:
        _busy_timeout(conn.connection, budget_of(conn.get_execution_options(), default))

    @event.listens_for(engine, "set_connection_execution_options")
    def _options(conn: Connection, options: dict[str, Any]) -> None:
        merged = {**conn.get_execution_options(), **options}
        _busy_timeout(conn.connection, budget_of(merged, default))

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers share the file (WAL); a unit of work that may write locks it from the start.
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


_BUSY_MS = "driftguard_busy_ms"
