"""ASGI entry for process managers: ``uvicorn driftguard.api.asgi:app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from driftguard.api.app import create_app
from driftguard.settings import load_settings


def app() -> FastAPI:
    return create_app(load_settings())
