"""Test fixtures: every database test runs on SQLite, and on PostgreSQL when
``DRIFTGUARD_TEST_POSTGRES_URL`` names a server (each run gets its own throwaway database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import create_app
from driftguard.audit.keys import AuditKeyring, bind_keyring
from driftguard.db import migrate
from driftguard.db.base import Base
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.identity.passwords import build_hasher
from driftguard.settings import Settings
from driftguard.tables import import_all_tables
from support.config import POSTGRES_URL, make_settings


def _create_postgres_database() -> str:
    assert POSTGRES_URL is not None
    name = f"dg_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    assert POSTGRES_URL is not None
    name = make_url(url).database
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", *(["postgresql"] if POSTGRES_URL else [])])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database of each backend, for the whole session."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'driftguard.db'}"
        return
    url = _create_postgres_database()
    try:
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = build_engine(make_settings(database_url))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    import_all_tables()
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def engine(migrated_engine: Engine) -> Iterator[Engine]:
    """The migrated database, emptied after each test (tests commit for real)."""
    yield migrated_engine
    _empty_all_tables(migrated_engine)


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(engine.url.render_as_string(hide_password=False))


@pytest.fixture
def hasher(settings: Settings) -> PasswordHasher:
    return build_hasher(settings)


@pytest.fixture
def session_factory(engine: Engine, settings: Settings) -> sessionmaker[Session]:
    """Sessions that seal audit records with the test settings' key, as the app's do."""
    return bind_keyring(build_session_factory(engine), AuditKeyring(settings.audit_chain_keys()))


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One committed unit of work, for arranging data and for service-level tests."""
    with unit_of_work(session_factory) as s:
        yield s


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine=engine)) as test_client:
        yield test_client


@pytest.fixture
def scratch_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database on the same backend as ``database_url``, dropped after the test."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    url = _create_postgres_database()
    try:
        yield url
    finally:
        _drop_postgres_database(url)


@pytest.fixture
def tmp_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'scratch.db'}"
