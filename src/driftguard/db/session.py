from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.engine import READ_ONLY_OPTION
from driftguard.errors import DriftGuardError


def build_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions on ``engine``. ``read_only`` sessions let SQLite readers run beside a writer
    instead of queueing for the write lock (see ``db/engine.py``)."""
    bind = engine.execution_options(**{READ_ONLY_OPTION: True}) if read_only else engine
    # Objects stay readable after commit: responses are built from them after the unit of work.
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=False)


def finish(session: Session, error: BaseException | None) -> None:
    """End a unit of work: commit on success, roll back on error, and close.

    A domain error raised with ``keep_changes`` (a refused request that records a security event)
    still commits.
    """
    try:
        if error is None or (isinstance(error, DriftGuardError) and error.keep_changes):
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    session = factory()
    try:
        yield session
    except BaseException as exc:
        finish(session, exc)
        raise
    finish(session, None)


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that only reads, rolled back when done. On SQLite it begins without the
    write lock (``BEGIN``, not ``BEGIN IMMEDIATE``), so it neither waits for writers nor holds
    them back (see ``db/engine.py``)."""
    bind = factory.kw["bind"]
    session = factory(bind=bind.execution_options(**{READ_ONLY_OPTION: True}))
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@contextmanager
def sandbox(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction the database itself refuses to write in, always rolled back.

    PostgreSQL: ``SET TRANSACTION READ ONLY``; SQLite: ``PRAGMA query_only`` for the duration.
    For what-if computations that must provably change nothing.
    """
    session = factory()
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    try:
        connection.exec_driver_sql(
            "PRAGMA query_only = ON" if sqlite else "SET TRANSACTION READ ONLY"
        )
        yield session
    finally:
        try:
            if sqlite:  # a per-connection setting: the connection goes back to the pool writable
                connection.exec_driver_sql("PRAGMA query_only = OFF")
            session.rollback()
        finally:
            session.close()


def is_transient(exc: Exception) -> bool:
    """A database that is down, busy or timing out (retry) rather than a bug (a missing table):
    for SQLAlchemy's ``OperationalError``."""
    cause = getattr(exc, "orig", None)
    if isinstance(cause, sqlite3.OperationalError):
        message = str(cause).lower()
        return "locked" in message or "busy" in message or "unable to open" in message
    return True  # PostgreSQL's operational errors: connection lost, shutdown, statement timeout


def driver_message(exc: Exception) -> str:
    """The first line of the database driver's own message, for a log line: SQLAlchemy's
    wrapper would add the statement and its parameters."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).splitlines()
    return lines[0][:200] if lines else type(cause).__name__
