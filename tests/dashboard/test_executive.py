"""The executive dashboard API: scoped to the caller, cached per scope, fresh after writes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import create_app
from driftguard.dashboard.cache import DashboardCache
from driftguard.settings import Settings
from support.config import REDIS_URL
from support.identity import auth_headers
from support.web import Portfolio, seed_portfolio

URL = "/api/v1/dashboard/executive"


@pytest.fixture
def portfolio(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Portfolio:
    return seed_portfolio(client, session_factory, hasher)


def dashboard(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(URL, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cache_of(client: TestClient) -> DashboardCache:
    cache: DashboardCache = client.app.state.dashboard_cache  # type: ignore[attr-defined]
    return cache


def test_each_caller_sees_only_their_teams(client: TestClient, portfolio: Portfolio) -> None:
    viewer = dashboard(client, auth_headers(client, portfolio.viewer))
    assert viewer["models"]["total"] == 1
    assert viewer["models"]["by_stage"] == {"production": 0, "staging": 1, "none": 0}
    assert [r["team_id"] for r in viewer["models"]["by_team"]] == [portfolio.team]
    assert viewer["open_alerts"]["total"] > 0
    assert viewer["open_alerts"]["by_severity"]["critical"] >= 1
    assert {f["attribute"] for f in viewer["fairness_findings"]} == {"gender"}
    assert {r["model_name"] for r in viewer["recent_runs"]} == {"credit-scorecard"}
    governance = viewer["governance"]
    # The completed monitoring runs scored the model: its latest MRI is counted in its band.
    assert sum(governance["models_by_band"].values()) == 1
    (risky,) = governance["riskiest"]
    assert (risky["model_name"], risky["team_id"]) == ("credit-scorecard", portfolio.team)
    assert governance["models_by_band"][risky["band"]] == 1
    assert risky["main_driver"] in {
        "drift",
        "fairness",
        "performance",
        "data_quality",
        "staleness",
        "alerts",
    }
    assert governance["risk_trend"][-1]["scores"] >= 1
    assert (governance["pending_approvals"], governance["oldest_pending"]) == (0, [])

    outsider = dashboard(client, auth_headers(client, portfolio.outsider))
    assert outsider["models"]["total"] == 1
    assert outsider["models"]["by_stage"]["none"] == 1
    assert outsider["open_alerts"]["total"] == 0
    assert outsider["fairness_findings"] == []
    assert outsider["recent_runs"] == []
    assert outsider["governance"]["riskiest"] == []
    assert outsider["governance"]["risk_trend"] == []

    admin = dashboard(client, auth_headers(client, portfolio.admin))
    assert admin["models"]["total"] == 2
    assert admin["open_alerts"] == viewer["open_alerts"]


def test_a_repeat_is_served_from_the_cache_and_a_write_refreshes_it(
    client: TestClient, portfolio: Portfolio
) -> None:
    headers = auth_headers(client, portfolio.engineer)
    cache = cache_of(client)
    first = dashboard(client, headers)
    hits = cache.hits
    assert dashboard(client, headers) == first
    assert cache.hits == hits + 1

    alerts = client.get("/api/v1/alerts", headers=headers).json()["items"]
    acknowledged = client.post(f"/api/v1/alerts/{alerts[0]['id']}/acknowledge", headers=headers)
    assert acknowledged.status_code == 200
    after = dashboard(client, headers)
    assert after["open_alerts"]["by_status"]["acknowledged"] == 1
    assert (
        after["open_alerts"]["by_status"]["open"] == first["open_alerts"]["by_status"]["open"] - 1
    )

    created = client.post(
        "/api/v1/models", json={"team_id": portfolio.team, "name": "fresh"}, headers=headers
    )
    assert created.status_code == 201
    assert dashboard(client, headers)["models"]["total"] == 2


def test_a_read_does_not_invalidate(client: TestClient, portfolio: Portfolio) -> None:
    headers = auth_headers(client, portfolio.viewer)
    dashboard(client, headers)
    misses = cache_of(client).misses
    client.get("/api/v1/models", headers=headers)
    client.get("/api/v1/alerts", headers=headers)
    dashboard(client, headers)
    assert cache_of(client).misses == misses


def test_scopes_never_share_an_entry(client: TestClient, portfolio: Portfolio) -> None:
    admin = dashboard(client, auth_headers(client, portfolio.admin))
    viewer = dashboard(client, auth_headers(client, portfolio.viewer))
    assert admin["models"]["total"] == 2
    assert viewer["models"]["total"] == 1


def test_viewers_without_models_read_are_refused(client: TestClient) -> None:
    assert client.get(URL).status_code == 401


@pytest.fixture
def client_with_dead_redis(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    dead = settings.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"})
    with TestClient(create_app(dead, engine=engine)) as test_client:
        yield test_client


def test_a_redis_outage_computes_instead_of_failing(
    client_with_dead_redis: TestClient,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    client = client_with_dead_redis
    portfolio = seed_portfolio(client, session_factory, hasher)
    body = dashboard(client, auth_headers(client, portfolio.viewer))
    assert body["models"]["total"] == 1
    assert cache_of(client).fallbacks >= 1
    metrics = client.get("/metrics").text
    assert "driftguard_dashboard_cache_fallbacks_total" in metrics


@pytest.fixture
def client_with_redis(settings: Settings, engine: Engine) -> Iterator[tuple[TestClient, str]]:
    if REDIS_URL is None:
        pytest.skip("set DRIFTGUARD_TEST_REDIS_URL to test the shared cache")
    prefix = f"dgtest{uuid.uuid4().hex[:8]}"
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "rate_limit_key_prefix": prefix})
    with TestClient(create_app(shared, engine=engine)) as test_client:
        yield test_client, prefix
    store = redis.Redis.from_url(REDIS_URL)
    for key in store.scan_iter(f"{prefix}:*"):
        store.delete(key)
    store.close()


def test_the_cache_lives_in_redis_when_configured(
    client_with_redis: tuple[TestClient, str],
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    client, prefix = client_with_redis
    portfolio = seed_portfolio(client, session_factory, hasher)
    headers = auth_headers(client, portfolio.viewer)
    dashboard(client, headers)
    store = redis.Redis.from_url(REDIS_URL or "", decode_responses=True)
    generation = int(store.get(f"{prefix}:dashboard:generation") or 0)
    keys = list(store.scan_iter(f"{prefix}:dashboard:g{generation}:executive:*"))
    assert len(keys) == 1
    assert 0 < store.ttl(keys[0]) <= 60
    # Another replica (another app on the same Redis) is served the same entry.
    hits = cache_of(client).hits
    assert dashboard(client, headers)["models"]["total"] == 1
    assert cache_of(client).hits == hits + 1
    engineer = portfolio.engineer_headers
    created = client.post(
        "/api/v1/models", json={"team_id": portfolio.team, "name": "fresh"}, headers=engineer
    )
    assert created.status_code == 201
    assert int(store.get(f"{prefix}:dashboard:generation") or 0) > generation
    assert dashboard(client, headers)["models"]["total"] == 2
    store.close()
