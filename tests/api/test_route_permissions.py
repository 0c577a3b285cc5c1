"""Deny by default: every route of the app declares a permission or is on the public list."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI

from driftguard.app import PUBLIC_ROUTES, check_route_guards, create_app, route_permissions
from driftguard.http.guards import public
from driftguard.web.routing import web_router
from support.config import make_settings


def app() -> FastAPI:
    return create_app(make_settings("sqlite://"))


def test_every_route_declares_a_permission_or_is_reviewed_public() -> None:
    table = route_permissions(app())
    assert len(table) > 20
    unguarded = sorted(key for key, guards in table.items() if not guards)
    assert unguarded == []
    public_routes = {key for key, guards in table.items() if "public" in guards}
    assert public_routes == PUBLIC_ROUTES
    # The scrape endpoint has a guard of its own (DRIFTGUARD_METRICS_TOKEN), reviewed here.
    own_guards = {key: guards for key, guards in table.items() if guards == {"metrics-token"}}
    assert own_guards == {("GET", "/metrics"): {"metrics-token"}}
    # A route is either public or permissioned, never both.
    assert all(len(guards) == 1 for guards in table.values())


def test_an_unguarded_route_stops_the_app_from_being_built() -> None:
    application = app()
    router = APIRouter()

    @router.get("/api/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    application.include_router(router)
    with pytest.raises(RuntimeError, match="declares no permission"):
        check_route_guards(application)


def test_a_public_route_off_the_reviewed_list_stops_the_app() -> None:
    application = app()
    router = APIRouter()

    @router.get("/api/v1/sneaky", dependencies=[public()])
    def sneaky() -> dict[str, str]:
        return {}

    application.include_router(router)
    with pytest.raises(RuntimeError, match="PUBLIC_ROUTES"):
        check_route_guards(application)


def test_a_web_page_without_a_permission_stops_the_app() -> None:
    application = app()
    router = web_router()

    @router.get("/forgotten-page")
    def forgotten() -> dict[str, str]:
        return {}

    application.include_router(router)
    with pytest.raises(RuntimeError, match="declares no permission"):
        check_route_guards(application)


def test_every_web_page_declares_its_permission() -> None:
    table = route_permissions(app())
    pages = {key: guards for key, guards in table.items() if not key[1].startswith("/api/")}
    assert pages[("GET", "/")] == {"models:read"}
    assert pages[("GET", "/models/{model_id}")] == {"models:read"}
    assert pages[("GET", "/audit")] == {"audit:read"}
    assert pages[("POST", "/alerts/{alert_id}/acknowledge")] == {"alerts:manage"}
    assert pages[("POST", "/alerts/{alert_id}/resolve")] == {"alerts:manage"}
    assert pages[("POST", "/logout")] == {"self:read"}
    assert pages[("GET", "/login")] == pages[("POST", "/login")] == {"public"}
