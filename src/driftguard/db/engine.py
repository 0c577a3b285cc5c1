from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from driftguard.settings import Settings

READ_ONLY_OPTION = "driftguard_read_only"


def build_engine(settings: Settings) -> Engine:
    """The process's one engine, configured for the embedded or the production database."""
    if settings.is_sqlite:
        return _sqlite_engine(settings)
    return create_engine(
        settings.database_url,
        echo=settings.db_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": max(1, int(settings.db_pool_timeout_seconds)),
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
        },
    )


def _sqlite_engine(settings: Settings) -> Engine:
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
    engine = create_engine(
        settings.database_url,
        echo=settings.db_echo,
        **pool,
        connect_args={
            "check_same_thread": False,
            "timeout": settings.sqlite_busy_timeout_ms / 1000,
        },
    )
    busy_ms = settings.sqlite_busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # pysqlite's own BEGIN handling is disabled so that "BEGIN IMMEDIATE" below is ours:
        # writers take the lock up front instead of failing on upgrade from a read lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers share the file (WAL); a unit of work that may write locks it from the start.
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
