"""Worker metrics: what each task did, how long it took and how long it waited in the queue.

Celery's prefork pool runs tasks in child processes, which serve no HTTP. The metrics therefore
use prometheus_client's multiprocess mode: every process of a worker writes its counters to
files in ``PROMETHEUS_MULTIPROC_DIR``, and ``driftguard worker --metrics-port`` serves their sum
from the worker's main process (:func:`serve_metrics`). Counters of a pool child that exited
stay in the sum, so totals survive child restarts. Without that directory (tests, eager mode)
the same objects count in memory in :attr:`WorkerTelemetry.registry`.

Each attempt of a task is counted once as ``started`` and once as ``finished`` with an
``outcome``: ``succeeded``, ``retried`` (it raised and will run again) or ``failed`` (it gave
up: retries exhausted, or a domain error that no retry can fix). A task that gave up is
recorded as a dead letter, counted by ``dead_lettered`` when the record was written by this
attempt (a task id is recorded once).
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from celery.signals import before_task_publish
from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.multiprocess import MultiProcessCollector

# The header a publisher stamps on every task message, read by the worker for the queue wait.
PUBLISHED_AT = "driftguard_published_at"
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
WAIT_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)
OUTCOMES = ("succeeded", "retried", "failed")


class WorkerTelemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.started = Counter(
            "driftguard_worker_tasks_started",
            "Task attempts started, by task name.",
            ["task"],
            registry=self.registry,
        )
        self.finished = Counter(
            "driftguard_worker_tasks_finished",
            "Task attempts finished, by task name and outcome (succeeded, retried, failed).",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "driftguard_worker_tasks_dead_lettered",
            "Tasks that gave up and were recorded as dead letters, by task name.",
            ["task"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "driftguard_worker_task_duration_seconds",
            "Time a task attempt ran, by task name.",
            ["task"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "driftguard_worker_task_queue_wait_seconds",
            "Time from publishing a task (or its retry's due time) to its start, by task name.",
            ["task"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        # Attempt start times, keyed by task id and attempt (eager retries nest).
        self._running: dict[tuple[str, int], float] = {}

    def attempt_started(
        self, task: str, *, task_id: str, attempt: int, published_at: float | None
    ) -> None:
        """Count a task attempt that started, and how long its message waited in the queue."""
        self.started.labels(task).inc()
        self._running[(task_id, attempt)] = time.perf_counter()
        if published_at is not None:
            # Clocks of the publisher and the worker may disagree: never a negative wait.
            self.queue_wait.labels(task).observe(max(0.0, time.time() - published_at))

    def attempt_finished(self, task: str, *, task_id: str, attempt: int, outcome: str) -> None:
        """Count a task attempt's outcome and observe how long it ran."""
        assert outcome in OUTCOMES
        self.finished.labels(task, outcome).inc()
        began = self._running.pop((task_id, attempt), None)
        if began is not None:
            self.duration.labels(task).observe(time.perf_counter() - began)


def published_at(headers: dict[str, Any] | None, eta: object) -> float | None:
    """When the message became runnable: its publication, or a retry's due time (``eta``) when
    later. None when the message carries no publication stamp."""
    if not headers or not isinstance(headers.get(PUBLISHED_AT), int | float):
        return None
    moment = float(headers[PUBLISHED_AT])
    if isinstance(eta, str):
        moment = max(moment, datetime.fromisoformat(eta).timestamp())
    return moment


def _stamp(headers: dict[str, Any] | None = None, **_: object) -> None:
    if headers is not None:
        headers[PUBLISHED_AT] = time.time()


def stamp_published_messages() -> None:
    """Stamp every task message this process publishes with its publication time (idempotent:
    a process connects the handler once)."""
    before_task_publish.connect(_stamp, weak=False, dispatch_uid="driftguard-published-at")


# Serving: the worker's main process sums the files of all its processes.


def prepare_multiprocess_dir() -> Path:
    """Create ``PROMETHEUS_MULTIPROC_DIR`` or empty it of a previous run's files
    (prometheus_client requires a clean directory at start). Raises ValueError when unset."""
    configured = os.environ.get(MULTIPROC_DIR)
    if not configured:
        raise ValueError(f"{MULTIPROC_DIR} is not set")
    directory = Path(configured)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Scrapes are not logged (the base class writes every request to stderr)."""


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def metrics_app(registry: CollectorRegistry, token: str | None) -> WsgiApp:
    """The exposition app; with a token, a scrape must send ``Authorization: Bearer <token>``."""
    exposition = make_wsgi_app(registry)
    expected = f"Bearer {token}".encode() if token else None

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sent = str(environ.get("HTTP_AUTHORIZATION", "")).encode()
        if expected is not None and not hmac.compare_digest(sent, expected):
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [b"unauthenticated\n"]
        body: Iterable[bytes] = exposition(environ, start_response)
        return body

    return app


def serve_metrics(
    directory: Path, *, host: str, port: int, token: str | None
) -> tuple[WSGIServer, threading.Thread]:
    """Serve the sum of every process's metrics files on ``host:port`` from a daemon thread."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    server = make_server(host, port, metrics_app(registry, token), handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return server, thread
