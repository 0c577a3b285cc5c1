"""A real server on loopback and one headless Chromium for the browser tests.

Chromium is Debian's package (``/usr/bin/chromium``; ``scripts/check`` installs it): Playwright's
own browser download cannot work on an air-gapped machine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from driftguard.app import create_app
from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from driftguard.identity.passwords import build_hasher
from support.config import make_settings
from support.identity import PASSWORD
from support.processes import BOOT_SECONDS
from support.web import PendingReview, Portfolio, seed_pending_review, seed_portfolio

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

# Free text a user can type, each a script that would set window.__xss if it ever ran.
HOSTILE = {
    "model_name": '<script>window.__xss="name"</script>',
    "description": "<img src=x onerror=\"window.__xss='description'\">",
    "use_case": '"><svg onload="window.__xss=\'use_case\'"></svg>',
    "team_name": '<script>window.__xss="team"</script>',
    "display_name": '<b onmouseover="window.__xss=1">Eve</b><script>window.__xss="who"</script>',
    "group": '<script>window.__xss="group"</script>',
    "reason": '<script>window.__xss="reason"</script>',
    "policy_description": "<img src=x onerror=\"window.__xss='policy'\">",
    "policy_source": '</textarea><pre><script>window.__xss="source"</script>',
}
HOSTILE_NOTE = "<script>window.__xss='note'</script><iframe src=javascript:window.__xss=2>"
HOSTILE_COMMENT = "</textarea><script>window.__xss='comment'</script>"


@dataclass
class LiveServer:
    url: str
    portfolio: Portfolio
    review: PendingReview  # two approvers wanted; nobody has approved yet
    http: httpx2.Client


@contextmanager
def live_server(directory: Path) -> Iterator[LiveServer]:
    settings = make_settings(f"sqlite:///{directory / 'driftguard.db'}", rate_limit_enabled=False)
    engine = build_engine(settings)
    migrate.upgrade(engine)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    config = uvicorn.Config(
        create_app(settings, engine=engine), log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + BOOT_SECONDS  # generous: a loaded machine imports slowly
    while not server.started:
        assert time.monotonic() < deadline, f"the server did not start in {BOOT_SECONDS} s"
        time.sleep(0.05)
    http = httpx2.Client(base_url=url, timeout=30)
    try:
        factory, hasher = build_session_factory(engine), build_hasher(settings)
        portfolio = seed_portfolio(
            http,
            factory,
            hasher,
            model_name=HOSTILE["model_name"],
            description=HOSTILE["description"],
            use_case=HOSTILE["use_case"],
            team_name=HOSTILE["team_name"],
            display_name=HOSTILE["display_name"],
            group=HOSTILE["group"],
        )
        review = seed_pending_review(
            http,
            factory,
            hasher,
            portfolio,
            reason=HOSTILE["reason"],
            policy_description=HOSTILE["policy_description"],
            policy_comment=HOSTILE["policy_source"],
        )
        yield LiveServer(url=url, portfolio=portfolio, review=review, http=http)
    finally:
        http.close()
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
        engine.dispose()


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
