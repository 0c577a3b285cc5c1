from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db import partitions as pg
from support.versions import Setup, make_setup


@pytest.fixture
def setup(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Setup:
    return make_setup(client, session_factory, hasher)


@pytest.fixture
def no_dated_partitions(engine: Engine) -> Iterator[None]:
    """Purges create dated partitions on PostgreSQL, which outlive the per-test TRUNCATE: end
    the test without them."""
    yield
    if engine.dialect.name == "postgresql":
        with Session(engine) as s, s.begin():
            for table in pg.partitioned_tables():
                for part in pg.partitions(s, table.name):
                    if not part.is_default:
                        pg.drop_partition(s, table.name, part.name)
