"""The Celery application, built from settings (never at import)."""

from __future__ import annotations

from typing import Any

from celery import Celery
from sqlalchemy import Engine

from driftguard.settings import Settings
from driftguard.worker.names import DELIVER_WEBHOOKS, MAINTENANCE, PLAN_WINDOWS
from driftguard.worker.runtime import Runtime
from driftguard.worker.telemetry import stamp_published_messages


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """What the scheduler enqueues. A tick's message expires when the next one is due, so a
    backlog (workers down) does not pile up stale ticks."""

    def every(seconds: float, task: str) -> dict[str, Any]:
        return {"task": task, "schedule": seconds, "options": {"expires": seconds}}

    return {
        "plan-monitoring-windows": every(settings.scheduler_tick_seconds, PLAN_WINDOWS),
        "deliver-webhooks": every(settings.webhook_tick_seconds, DELIVER_WEBHOOKS),
        "maintenance": every(settings.maintenance_interval_seconds, MAINTENANCE),
    }


def _transport_options(settings: Settings) -> dict[str, Any]:
    """Redis: a task whose worker died unacknowledged is handed out again once the visibility
    timeout has passed; live workers look for such tasks every quarter of it (at most every
    10 s), not Kombu's default of every 100 s."""
    timeout = settings.broker_visibility_timeout_seconds
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1, min(10, timeout // 4)),
        "unacked_restore_throttle": 1,
    }


def build_celery(
    settings: Settings, *, engine: Engine | None = None, eager: bool = False, tasks: bool = True
) -> tuple[Celery, Runtime]:
    """The application and the runtime its tasks use. ``eager`` runs tasks in the calling
    process (tests); without ``tasks`` the application only sends them by name (the scheduler,
    which then does not load the monitoring code)."""
    broker = settings.broker_url.get_secret_value() if settings.broker_url else "memory://"
    app = Celery("driftguard", set_as_current=False)
    app.conf.update(
        broker_url=broker,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings),
        task_default_queue=settings.broker_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Late acknowledgement: take one task at a time, so a slow one holds back no others.
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
        timezone="UTC",
        beat_schedule=beat_schedule(settings),
        # Nothing to persist: every entry is an interval and every task is idempotent.
        beat_scheduler="celery.beat:Scheduler",
        task_always_eager=eager,
        task_eager_propagates=False,
    )
    # Publishers (the scheduler, workers enqueueing runs and retries) stamp the time, so workers
    # can measure each task's wait in the queue.
    stamp_published_messages()
    runtime = Runtime(settings, engine=engine)
    if tasks:
        from driftguard.worker.tasks import register_tasks

        register_tasks(app, runtime)
    return app, runtime
