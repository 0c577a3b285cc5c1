"""The database of CLI commands: an engine disposed when the command is done, and session
factories bound to the configured audit keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from driftguard.settings import Settings


def session_factory(
    engine: Engine, settings: Settings, *, read_only: bool = False
) -> sessionmaker[Session]:
    """Sessions on ``engine`` whose audit records are sealed with the configured key."""
    from driftguard.audit.keys import AuditKeyring, bind_keyring
    from driftguard.db.session import build_session_factory

    factory = build_session_factory(engine, read_only=read_only)
    return bind_keyring(factory, AuditKeyring(settings.audit_chain_keys()))


@contextmanager
def engine_for(settings: Settings) -> Iterator[Engine]:
    """An engine over the configured database, disposed when the command is done."""
    from driftguard.db.engine import build_engine

    engine = build_engine(settings)
    try:
        yield engine
    finally:
        engine.dispose()
