"""Storage plumbing shared by every domain package: engine, session, declarative base."""

from driftguard.db.base import Base, utcnow
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work

__all__ = ["Base", "build_engine", "build_session_factory", "unit_of_work", "utcnow"]
