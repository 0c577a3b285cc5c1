"""Run Alembic migrations from code (CLI, tests, the demo) on a given engine."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from driftguard.db.partitions import is_partition_name
from driftguard.settings import Settings, load_settings


def alembic_config() -> Config:
    """Alembic's configuration for DriftGuard's migrations (no ``alembic.ini`` needed)."""
    config = Config()
    config.set_main_option("script_location", "driftguard:migrations")
    return config


def _with_connection(engine: Engine, action: str, revision: str, settings: Settings | None) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        # Data migrations that need a key (stored secrets) read it from these settings, or
        # load them from the environment when none are given.
        config.attributes["settings"] = settings
        getattr(command, action)(config, revision)


def upgrade(engine: Engine, revision: str = "head", *, settings: Settings | None = None) -> None:
    """Migrate the database up to ``revision`` in one transaction; data migrations get
    ``settings``."""
    _with_connection(engine, "upgrade", revision, settings)


def downgrade(engine: Engine, revision: str, *, settings: Settings | None = None) -> None:
    """Migrate the database down to ``revision`` in one transaction."""
    _with_connection(engine, "downgrade", revision, settings)


def migration_settings(config: Config) -> Settings:
    """The settings a migration runs under (see :func:`upgrade`)."""
    given = config.attributes.get("settings")
    return given if isinstance(given, Settings) else load_settings()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def include_name(name: str | None, type_: str, parent_names: MutableMapping[Any, Any]) -> bool:
    """Autogenerate's filter: a table's time partitions are made by maintenance, not
    migrations (their parent is what the metadata describes)."""
    return not (type_ == "table" and name is not None and is_partition_name(name))
