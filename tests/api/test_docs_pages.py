"""The API documentation works offline (no CDN) and is off in production unless enabled."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from driftguard.app import create_app
from driftguard.encryption import new_key
from driftguard.settings import Settings


def app_client(settings: Settings, engine: Engine, **overrides: object) -> TestClient:
    configured = Settings.model_validate({**settings.model_dump(), **overrides})
    return TestClient(create_app(configured, engine=engine))


def test_the_docs_page_loads_only_assets_this_server_serves(
    settings: Settings, engine: Engine
) -> None:
    with app_client(settings, engine) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        html = page.text
        references = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*["']([^"']+)["']""", html)
        urls = [a or b for a, b in references]
        assert any(u.endswith("swagger-ui-bundle.js") for u in urls), urls
        assert any(u.endswith(".css") for u in urls), urls
        # Nothing from another host: the page works air-gapped.
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]", html, re.IGNORECASE), html
        for url in urls:
            absolute = urljoin("http://testserver/docs", url)
            assert urlsplit(absolute).netloc == "testserver", url
            response = client.get(urlsplit(absolute).path)
            assert response.status_code == 200, url
            assert response.content, url
        assert client.get("/openapi.json").json()["info"]["title"] == "DriftGuard"


@pytest.mark.parametrize(
    "path", ["/docs", "/openapi.json", "/redoc", "/docs/assets/swagger-ui.css"]
)
def test_production_serves_no_docs_unless_enabled(
    settings: Settings, engine: Engine, path: str
) -> None:
    production = {"environment": "production", "secrets_key": new_key()}
    with app_client(settings, engine, **production) as client:
        assert client.get(path).status_code == 404
    with app_client(settings, engine, **production, api_docs_enabled=True) as client:
        expected = 404 if path == "/redoc" else 200
        assert client.get(path).status_code == expected
