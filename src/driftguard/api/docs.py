"""The interactive API documentation, served from this process only.

FastAPI's default ``/docs`` page loads Swagger UI from a CDN, so it is blank on an air-gapped
network and tells a third party who reads the docs. Here the page's script, stylesheet and icon
come from the ``swagger-ui-py`` package's own copy of the Swagger UI distribution (package data,
never copied into this repository), mounted under ``/docs/assets``.

In production the documentation and ``/openapi.json`` are off (404) unless
``DRIFTGUARD_API_DOCS_ENABLED`` turns them on: the schema is a map of every route.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from driftguard.settings import Environment, Settings

DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"
ASSETS_PATH = "/docs/assets"


def docs_enabled(settings: Settings) -> bool:
    """On unless production, where only ``api_docs_enabled`` turns it on."""
    if settings.api_docs_enabled is not None:
        return settings.api_docs_enabled
    return settings.environment is not Environment.PRODUCTION


def swagger_ui_assets() -> Path:
    """The Swagger UI distribution shipped inside the swagger-ui-py package."""
    return Path(str(files("swagger_ui").joinpath("static")))


def install_api_docs(app: FastAPI) -> None:
    """Serve ``/docs`` with locally served assets (the app's ``openapi_url`` serves the schema)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_assets()), name="docs-assets")

    async def docs_page(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_PATH,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        )

    app.add_route(DOCS_PATH, docs_page, include_in_schema=False)
