"""A real worker on each configured broker (Redis, RabbitMQ): a tick enqueued to the broker
ends with every due window reported once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.settings import Settings
from driftguard.worker.app import build_celery
from driftguard.worker.names import PLAN_WINDOWS
from support.config import AMQP_URL, REDIS_URL

from .conftest import NOW, WINDOWS, Scheduled, run_counts

BROKERS = {name: url for name, url in (("redis", REDIS_URL), ("amqp", AMQP_URL)) if url}


@pytest.fixture(params=sorted(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> Iterator[str]:
    return BROKERS[request.param]


def test_a_worker_on_the_broker_runs_each_window_once(
    broker_url: str,
    settings: Settings,
    engine: Engine,
    scheduled: Scheduled,
    session_factory: sessionmaker[Session],
) -> None:
    configured = Settings.model_validate({**settings.model_dump(), "broker_url": broker_url})
    app, runtime = build_celery(configured, engine=engine)
    queue = f"driftguard-test-{uuid.uuid4().hex[:8]}"  # no other run's tasks on it
    app.conf.task_default_queue = queue
    # The in-thread test worker consumes RabbitMQ one message per poll when it prefetches only
    # one; a `driftguard worker` process does not (its event loop is not the test harness's).
    app.conf.worker_prefetch_multiplier = 4
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            # The same tick twice, as two schedulers would send it.
            for _ in range(2):
                app.tasks[PLAN_WINDOWS].apply_async(kwargs={"now": NOW.isoformat()})
            deadline = time.monotonic() + 45
            while run_counts(session_factory)[0] < WINDOWS and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(0.5)  # a duplicate would land now
            assert run_counts(session_factory) == (WINDOWS, WINDOWS)
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)
        runtime.close()
