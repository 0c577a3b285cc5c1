"""The application factory: the API and the web UI in one ASGI app. Engines and clients are built
in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from driftguard import __version__
from driftguard.api.admission import Admission, AdmissionMiddleware
from driftguard.api.docs import OPENAPI_PATH, docs_enabled, install_api_docs
from driftguard.api.errors import ERROR_RESPONSES, install_error_handlers
from driftguard.api.middleware import (
    BodySizeLimitMiddleware,
    NoStoreMiddleware,
    RequestIdMiddleware,
    RequireCredentialsMiddleware,
)
from driftguard.api.observe import ObserveMiddleware
from driftguard.api.readiness import Readiness, database_answers
from driftguard.api.routes import (
    alerts,
    audit,
    auth,
    cards,
    dashboard,
    dead_letters,
    deployments,
    evidence,
    findings,
    health,
    incidents,
    metrics,
    models,
    monitoring,
    policies,
    prediction_files,
    predictions,
    retention,
    reviews,
    risk,
    simulations,
    teams,
    users,
    validations,
    webhooks,
)
from driftguard.api.slow_clients import BodyDeadline, BodyDeadlineMiddleware
from driftguard.audit.keys import AuditKeyring, bind_keyring
from driftguard.dashboard.cache import build_cache
from driftguard.dashboard.invalidation import invalidate_on_commit
from driftguard.db.budget import BUDGET_OPTION, Budget
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from driftguard.error_reports import configure_error_reports
from driftguard.http.guards import route_guard
from driftguard.http.ratelimit import RateLimiter
from driftguard.identity.passwords import build_hasher
from driftguard.jobs import dead_letters as dead_letter_service
from driftguard.jobs import maintenance, scheduler
from driftguard.jobs.periodic import run_periodically
from driftguard.lifecycle import retention as retention_floor
from driftguard.logs import configure_logging
from driftguard.settings import Settings
from driftguard.telemetry import Telemetry
from driftguard.web.pages import alerts as alert_pages
from driftguard.web.pages import approvals as approval_pages
from driftguard.web.pages import assets as asset_pages
from driftguard.web.pages import audit as audit_pages
from driftguard.web.pages import auth as auth_pages
from driftguard.web.pages import deployments as deployment_pages
from driftguard.web.pages import evidence as evidence_pages
from driftguard.web.pages import lifecycle as lifecycle_pages
from driftguard.web.pages import models as model_pages
from driftguard.web.pages import overview as overview_pages
from driftguard.web.pages import policies as policy_pages
from driftguard.web.routing import install_page_errors
from driftguard.web.templating import build_templates, load_assets
from driftguard.webhooks import delivery

API_PREFIX = "/api/v1"

# Reviewed list of routes that need no credentials. Anything else must declare a permission.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/livez"),
        ("GET", "/readyz"),
        ("POST", f"{API_PREFIX}/auth/login"),
        ("POST", f"{API_PREFIX}/auth/refresh"),
        ("POST", f"{API_PREFIX}/auth/logout"),
        # The web UI's sign-in form (CSRF-checked) and its stylesheet.
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/static/{name}"),
    }
)


def _guards(dependant: Dependant) -> Iterator[str]:
    if dependant.call is not None and (guard := route_guard(dependant.call)) is not None:
        yield guard
    for sub in dependant.dependencies:
        yield from _guards(sub)


def route_permissions(app: FastAPI) -> dict[tuple[str, str], set[str]]:
    """Every API route with the guards it declares (permission values or ``"public"``)."""
    table: dict[tuple[str, str], set[str]] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path is not None:
            for method in route.methods or ():
                table[(method, context.path)] = set(_guards(route.dependant))
    return table


def route_templates(app: FastAPI) -> dict[int, str]:
    """Each route object's full path template, by identity (as the router puts it in the scope)."""
    return {
        id(context.original_route): context.path
        for context in iter_route_contexts(app.routes)
        if context.path is not None
    }


def check_route_guards(app: FastAPI) -> None:
    """Deny by default: refuse to build an app with an unguarded or unlisted public route."""
    for key, guards in route_permissions(app).items():
        if not guards:
            raise RuntimeError(f"route {key} declares no permission")
        if "public" in guards and key not in PUBLIC_ROUTES:
            raise RuntimeError(f"route {key} is public but not on the reviewed PUBLIC_ROUTES list")


def background_loops(settings: Settings) -> tuple[str, ...]:
    """The loops a server process runs: none when a broker hands the work to the scheduler and
    the workers (both doing it would only waste work, but would)."""
    if not settings.embedded_jobs:
        return ()
    return (
        *(("scheduler", "maintenance") if settings.scheduler_enabled else ()),
        *(("webhooks",) if settings.webhook_delivery_enabled else ()),
    )


def _dead_letter_count(factory: sessionmaker[Session]) -> float:
    try:
        with factory() as session:
            return float(dead_letter_service.count(session))
    except SQLAlchemyError:  # a scrape must not fail with the database: report "unknown"
        return math.nan


def _scheduled_versions(factory: sessionmaker[Session]) -> float:
    try:
        with factory() as session:
            return float(scheduler.scheduled_versions(session))
    except SQLAlchemyError:
        return math.nan


def _last_scheduled_run(factory: sessionmaker[Session]) -> float:
    try:
        with factory() as session:
            moment = scheduler.last_scheduled_run_at(session)
    except SQLAlchemyError:
        return math.nan
    return math.nan if moment is None else moment.timestamp()


def _checked_out(engine: Engine) -> float:
    pool = engine.pool
    return float(pool.checkedout()) if isinstance(pool, QueuePool) else 0.0


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """The API and the web UI in one ASGI app: the lifespan builds engines, caches and background
    loops; every route must carry a permission guard or be a reviewed public route."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        # Every blocking step of a request runs on these threads; admission is sized to them.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        app.state.engine = (
            engine if engine is not None else build_engine(settings, budget=Budget.REQUEST)
        )
        keyring = AuditKeyring(settings.audit_chain_keys())
        app.state.session_factory = bind_keyring(build_session_factory(app.state.engine), keyring)
        app.state.read_session_factory = bind_keyring(
            build_session_factory(app.state.engine, read_only=True), keyring
        )
        # Bulk routes and the background loops: statements that may rightly take long.
        app.state.bulk_session_factory = bind_keyring(
            build_session_factory(
                app.state.engine.execution_options(**{BUDGET_OPTION: Budget.LONG})
            ),
            keyring,
        )
        app.state.readiness = Readiness(lambda: database_answers(app.state.engine))
        # The EU AI Act retention floor: a setting below it cannot be refused at load (no
        # database then), so start-up warns, naming setting and article; the purges keep it.
        with contextlib.suppress(SQLAlchemyError):  # a database not migrated yet: no warning
            retention_floor.warn_if_below_floor(app.state.read_session_factory, settings)
        app.state.rate_limiter = RateLimiter(
            settings,
            on_fallback=telemetry.rate_limit_fallbacks.inc,
            on_reject=lambda limit: telemetry.rate_limit_rejections.labels(limit).inc(),
        )
        app.state.dashboard_cache = build_cache(
            redis_url=settings.redis_url,
            ttl_seconds=settings.dashboard_cache_seconds,
            prefix=settings.rate_limit_key_prefix,
            on_fallback=telemetry.dashboard_cache_fallbacks.inc,
        )
        # Writes through this process's sessions make the cached dashboard stale at once.
        for writer in (app.state.session_factory, app.state.bulk_session_factory):
            invalidate_on_commit(writer, app.state.dashboard_cache.invalidate)
        telemetry.watch_pool(lambda: _checked_out(app.state.engine))
        telemetry.watch_in_flight(lambda: float(admission.in_flight))
        telemetry.watch_dead_letters(lambda: _dead_letter_count(app.state.read_session_factory))
        telemetry.watch_monitoring(
            lambda: _scheduled_versions(app.state.read_session_factory),
            lambda: _last_scheduled_run(app.state.read_session_factory),
        )
        factory = app.state.bulk_session_factory
        background = contextlib.ExitStack()
        loops = {
            "scheduler": lambda: run_periodically(
                partial(scheduler.run_due, factory, spread=settings.scheduler_stagger),
                every_seconds=settings.scheduler_tick_seconds,
                what="scheduled monitoring tick",
                logger=scheduler.logger,
            ),
            "maintenance": lambda: run_periodically(
                partial(maintenance.run_maintenance, factory, settings),
                every_seconds=settings.maintenance_interval_seconds,
                what="maintenance round",
                logger=maintenance.logger,
                at_start=True,
            ),
            "webhooks": lambda: run_periodically(
                partial(
                    delivery.deliver_all_due,
                    factory,
                    settings=settings,
                    http=background.enter_context(delivery.build_http_client(settings)),
                ),
                every_seconds=settings.webhook_tick_seconds,
                what="webhook delivery tick",
                logger=delivery.logger,
            ),
        }
        tasks = [asyncio.create_task(loops[name]()) for name in background_loops(settings)]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            background.close()
            app.state.rate_limiter.close()
            app.state.dashboard_cache.close()
            if own_engine:
                app.state.engine.dispose()

    app = FastAPI(
        title="DriftGuard",
        version=__version__,
        summary="ML model governance and monitoring",
        lifespan=lifespan,
        # Docs and schema only where allowed (api/docs.py); the page is ours, not the CDN one.
        openapi_url=OPENAPI_PATH if docs_enabled(settings) else None,
        docs_url=None,
        redoc_url=None,
    )
    if docs_enabled(settings):
        install_api_docs(app)
    configure_logging(settings)
    configure_error_reports(settings)
    telemetry = Telemetry()
    app.state.telemetry = telemetry
    app.state.settings = settings
    app.state.hasher = build_hasher(settings)
    admission = Admission(
        limit=settings.admission_limit,
        queue_size=settings.admission_queue,
        wait_seconds=settings.admission_wait_seconds,
    )
    app.state.admission = admission
    app.state.assets = load_assets()
    app.state.templates = build_templates(app.state.assets)
    install_error_handlers(app)
    install_page_errors(app)

    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
    for module in (
        auth,
        teams,
        users,
        models,
        predictions,
        monitoring,
        prediction_files,
        alerts,
        webhooks,
        audit,
        policies,
        deployments,
        risk,
        simulations,
        dashboard,
        dead_letters,
        cards,
        validations,
        findings,
        incidents,
        evidence,
        retention,
        reviews,
    ):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for page in (
        auth_pages,
        overview_pages,
        model_pages,
        alert_pages,
        approval_pages,
        deployment_pages,
        policy_pages,
        audit_pages,
        asset_pages,
        evidence_pages,
        lifecycle_pages,
    ):
        app.include_router(page.router)

    # Outermost last: no-store → request id → body deadline (the body read before a slot is
    # taken) → admission (503 when overloaded) → observe (audit) → CORS → credentials present →
    # body size limit → routes.
    version_path = rf"^{API_PREFIX}/models/\d+/versions/\d+"
    uploads = re.compile(version_path + r"/(reference|predictions)/upload$")
    batches = re.compile(version_path + r"/(predictions|labels|reference)$")
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        overrides=[(uploads, settings.max_upload_bytes), (batches, settings.max_batch_bytes)],
    )
    app.add_middleware(RequireCredentialsMiddleware, prefix=API_PREFIX, public=PUBLIC_ROUTES)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "X-Request-ID",
                "Idempotency-Key",
            ],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(
        ObserveMiddleware,
        templates=route_templates(app),
        trusted_proxies=settings.trusted_proxies,
        telemetry=telemetry,
        group_commit=not settings.is_sqlite,
    )
    app.add_middleware(
        AdmissionMiddleware,
        admission=admission,
        retry_after_seconds=settings.admission_retry_after_seconds,
        on_reject=telemetry.admission_rejections.inc,
    )
    app.add_middleware(
        BodyDeadlineMiddleware,
        deadline=BodyDeadline(
            timeout_seconds=settings.http_body_timeout_seconds,
            min_rate_bytes=settings.http_body_min_rate_bytes,
        ),
        max_buffered_bytes=settings.max_body_bytes,
        streamed=[uploads, batches],
        credentials_prefix=API_PREFIX,
        public=PUBLIC_ROUTES,
        on_too_slow=telemetry.slow_request_bodies.inc,
    )
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(NoStoreMiddleware)
    check_route_guards(app)
    return app
