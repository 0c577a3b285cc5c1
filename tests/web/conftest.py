from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from support.web import Portfolio, seed_portfolio


@pytest.fixture
def portfolio(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Portfolio:
    return seed_portfolio(client, session_factory, hasher)
