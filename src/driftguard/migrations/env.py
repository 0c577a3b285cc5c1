"""Alembic environment. The database URL comes from DriftGuard's settings, never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from driftguard.db.base import Base
from driftguard.db.engine import build_engine
from driftguard.db.migrate import include_name
from driftguard.settings import load_settings
from driftguard.tables import import_all_tables

import_all_tables()
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = build_engine(load_settings())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()
