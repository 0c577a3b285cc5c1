"""What tasks need in a worker process, built on first use in that process (so a forked pool
child opens its own database connections, never its parent's)."""

from __future__ import annotations

import httpx2
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.keys import AuditKeyring, bind_keyring
from driftguard.dashboard.cache import DashboardCache, build_cache
from driftguard.dashboard.invalidation import invalidate_on_commit
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from driftguard.settings import Settings
from driftguard.webhooks.delivery import build_http_client
from driftguard.worker.telemetry import WorkerTelemetry


class Runtime:
    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        self.settings = settings
        self._engine = engine
        self._own_engine = engine is None
        self._factory: sessionmaker[Session] | None = None
        self._cache: DashboardCache | None = None
        self._http: httpx2.Client | None = None
        # Built before the pool forks: in multiprocess mode each child writes its own files.
        self.telemetry = WorkerTelemetry()

    @property
    def factory(self) -> sessionmaker[Session]:
        """The worker process's session factory, built on first use with its engine, audit keys
        and dashboard cache."""
        if self._factory is None:
            if self._engine is None:
                self._engine = build_engine(self.settings)
            self._factory = bind_keyring(
                build_session_factory(self._engine),
                AuditKeyring(self.settings.audit_chain_keys()),
            )
            # A run changes what the dashboard shows: the servers' shared cache goes stale.
            self._cache = build_cache(
                redis_url=self.settings.redis_url,
                ttl_seconds=self.settings.dashboard_cache_seconds,
                prefix=self.settings.rate_limit_key_prefix,
            )
            invalidate_on_commit(self._factory, self._cache.invalidate)
        return self._factory

    @property
    def http(self) -> httpx2.Client:
        """The webhook delivery HTTP client, built on first use."""
        if self._http is None:
            self._http = build_http_client(self.settings)
        return self._http

    def close(self) -> None:
        """Close what this runtime built: the HTTP client, the cache and (if it owns it) the
        engine."""
        if self._http is not None:
            self._http.close()
        if self._cache is not None:
            self._cache.close()
        if self._engine is not None and self._own_engine:
            self._engine.dispose()
        self._factory = self._cache = self._http = None
        if self._own_engine:
            self._engine = None
