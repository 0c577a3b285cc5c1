"""Prometheus metrics, in a registry of the app's own (built with the app, never at import).

Counters are per process, and every server process is scraped on its own (one process per
container; Prometheus labels each series with its ``instance``): sum over instances for the
service's totals. Facts that live in the database, such as the dead-letter count and the newest
scheduled monitoring run, are read from it at scrape time, so every process reports the same,
correct value.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "driftguard_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "driftguard_http_request_duration_seconds",
            "Time from request to complete response, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limit_rejections = Counter(
            "driftguard_rate_limit_rejections",
            "Requests refused with 429, by limit.",
            ["limit"],
            registry=self.registry,
        )
        self.rate_limit_fallbacks = Counter(
            "driftguard_rate_limit_storage_fallbacks",
            "Times the shared rate-limit storage (Redis) failed and local counters took over.",
            registry=self.registry,
        )
        self.dashboard_cache_fallbacks = Counter(
            "driftguard_dashboard_cache_fallbacks",
            "Times the dashboard cache (Redis) failed and the dashboard was computed without it.",
            registry=self.registry,
        )
        self.audit_write_failures = Counter(
            "driftguard_audit_write_failures",
            "Request audit records that could not be written.",
            registry=self.registry,
        )
        self.admission_rejections = Counter(
            "driftguard_admission_rejections",
            "Requests shed with 503 because the process had too many in flight.",
            registry=self.registry,
        )
        self.slow_request_bodies = Counter(
            "driftguard_slow_request_bodies",
            "Requests answered 408 because the body arrived below the minimum rate.",
            registry=self.registry,
        )
        self.requests_in_flight = Gauge(
            "driftguard_http_requests_in_flight",
            "Requests admitted and not yet finished (probes and scrapes not counted).",
            registry=self.registry,
        )
        self.db_pool_in_use = Gauge(
            "driftguard_db_pool_connections_in_use",
            "Database connections checked out of the pool.",
            registry=self.registry,
        )
        self.scheduled_versions = Gauge(
            "driftguard_monitoring_scheduled_versions",
            "Model versions the scheduler monitors (interval set, reference data, not archived).",
            registry=self.registry,
        )
        self.last_scheduled_run = Gauge(
            "driftguard_monitoring_last_scheduled_run_timestamp_seconds",
            "When the newest scheduled monitoring run was stored (Unix time; NaN before any).",
            registry=self.registry,
        )
        self.dead_letters = Gauge(
            "driftguard_task_dead_letters",
            "Background tasks that exhausted their retries (recorded dead letters).",
            registry=self.registry,
        )

    def watch_dead_letters(self, count: Callable[[], float]) -> None:
        """Read the number of dead-lettered tasks (a database count) at scrape time."""
        self.dead_letters.set_function(count)

    def watch_monitoring(
        self, scheduled: Callable[[], float], last_run: Callable[[], float]
    ) -> None:
        """Read the scheduled versions and the newest scheduled run (database facts) at scrape
        time: together they tell a stalled scheduler or worker fleet from an idle one."""
        self.scheduled_versions.set_function(scheduled)
        self.last_scheduled_run.set_function(last_run)

    def watch_in_flight(self, in_flight: Callable[[], float]) -> None:
        """Read the requests in flight at scrape time from ``in_flight``."""
        self.requests_in_flight.set_function(in_flight)

    def watch_pool(self, checked_out: Callable[[], float]) -> None:
        """Read the pool's checked-out count at scrape time."""
        self.db_pool_in_use.set_function(checked_out)

    def observe_request(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Count a finished request and its latency, by method, route template and status."""
        self.http_requests.labels(method, route, str(status)).inc()
        self.http_latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
