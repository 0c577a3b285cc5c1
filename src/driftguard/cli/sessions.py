"""Session factories for CLI commands, bound to the configured audit keys."""

from __future__ import annotations

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
