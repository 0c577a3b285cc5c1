from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page
from sqlalchemy.orm import Session, sessionmaker

from support.browser import LiveServer, chromium, live_server
from support.web import Portfolio, seed_portfolio


@pytest.fixture
def portfolio(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Portfolio:
    return seed_portfolio(client, session_factory, hasher)


# Module-scoped, not session-scoped: Playwright's sync API keeps an asyncio loop running in the
# worker's main thread while it is open, and a later test on the same worker that calls
# asyncio.run() would find it (xdist's "browser" group keeps these tests on one worker).
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test: its own cookies, nothing shared."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()
