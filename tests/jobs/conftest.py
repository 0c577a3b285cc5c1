from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from support.versions import Setup, make_setup


@pytest.fixture
def setup(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Setup:
    return make_setup(client, session_factory, hasher)
