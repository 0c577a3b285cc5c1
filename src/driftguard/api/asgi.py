"""ASGI entry for process managers: ``uvicorn driftguard.api.asgi:app --factory --http
driftguard.api.http_protocol:GuardedH11Protocol`` (the protocol enforces the header deadline
and the per-address connection cap that ``driftguard serve`` has)."""

from __future__ import annotations

import gc

from fastapi import FastAPI

from driftguard.app import create_app
from driftguard.settings import Settings, load_settings


def serving_app(settings: Settings) -> FastAPI:
    """The app a server process runs (``driftguard serve`` and :func:`app`)."""
    application = create_app(settings)
    # What exists now (modules, the app, templates) lives as long as the process: keep it out
    # of the collector's full passes, which would otherwise rescan it whenever a request
    # allocates heavily (a portfolio simulation builds tens of thousands of objects).
    gc.collect()
    gc.freeze()
    return application


def app() -> FastAPI:
    """The app process managers start (``--factory``): the serving app, with settings from the
    environment."""
    return serving_app(load_settings())
