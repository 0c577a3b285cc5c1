"""The task module: every job a worker runs, each a thin wrapper over a plain function that
embedded mode calls in-process (``jobs.scheduler.run_window``, ``webhooks.delivery
.deliver_due``, ``jobs.maintenance.run_maintenance``).

Every task is acknowledged late (after it finishes) and rejected back to the queue when its
worker process dies, so a killed worker's task runs again elsewhere; every task is idempotent
(a window's run is keyed by its ``schedule_key``, deliveries are claimed rows, maintenance jobs
are idempotent by contract). An exception is retried with exponential backoff (jittered,
capped); when the retries run out, or the error is a domain error that a retry cannot fix, the
task is recorded as a dead letter (``jobs.orm.DeadLetter``) once per task id.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from billiard.einfo import ExceptionInfo
from celery import Celery, Task
from sqlalchemy.exc import StatementError

from driftguard.db.session import unit_of_work
from driftguard.errors import DriftGuardError
from driftguard.jobs import dead_letters
from driftguard.jobs.maintenance import run_maintenance
from driftguard.jobs.scheduler import Due, plan, run_window
from driftguard.webhooks.delivery import deliver_all_due
from driftguard.worker.names import DELIVER_WEBHOOKS, MAINTENANCE, PLAN_WINDOWS, RUN_WINDOW
from driftguard.worker.runtime import Runtime
from driftguard.worker.telemetry import published_at

logger = logging.getLogger("driftguard.worker")


def window_task_id(item: Due) -> str:
    """One id per window: retries and duplicates of a window's task share it."""
    return f"{RUN_WINDOW}:{item.key}"


def describe(exc: BaseException) -> str:
    """The error as stored: a statement error's SQL parameters are left out (they may hold
    secrets such as a webhook's signing key)."""
    message = str(exc.orig) if isinstance(exc, StatementError) else str(exc)
    return f"{type(exc).__name__}: {message}"


def task_options(runtime: Runtime) -> dict[str, Any]:
    """What every task is registered with: late acknowledgement, retries, the dead letter."""
    settings = runtime.settings

    telemetry = runtime.telemetry

    class DriftGuardTask(Task[Any, Any]):
        def _attempt(self) -> int:
            return int(self.request.retries or 0)

        def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            request = self.request
            telemetry.attempt_started(
                self.name,
                task_id=task_id,
                attempt=self._attempt(),
                published_at=published_at(request.headers, request.eta),
            )

        def on_success(
            self, retval: Any, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> None:
            telemetry.attempt_finished(
                self.name, task_id=task_id, attempt=self._attempt(), outcome="succeeded"
            )

        def on_retry(
            self,
            exc: Exception,
            task_id: str,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
            einfo: ExceptionInfo,
        ) -> None:
            telemetry.attempt_finished(
                self.name, task_id=task_id, attempt=self._attempt(), outcome="retried"
            )

        def on_failure(
            self,
            exc: Exception,
            task_id: str,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
            einfo: ExceptionInfo,
        ) -> None:
            attempts = self._attempt() + 1
            telemetry.attempt_finished(
                self.name, task_id=task_id, attempt=attempts - 1, outcome="failed"
            )
            logger.error(
                "task gave up", extra={"task": self.name, "task_id": task_id, "attempts": attempts}
            )
            try:
                with unit_of_work(runtime.factory) as session:
                    recorded = dead_letters.record(
                        session,
                        task_id=task_id,
                        task_name=self.name,
                        arguments=list(args),
                        error=describe(exc),
                        attempts=attempts,
                    )
            except Exception:  # the database may be what failed: the log line must survive
                logger.exception("dead letter not recorded", extra={"task_id": task_id})
                return
            if recorded:
                telemetry.dead_lettered.labels(self.name).inc()

    return {
        # Registered on this application only (Celery's default shares tasks with every app).
        "shared": False,
        "base": DriftGuardTask,
        "acks_late": True,
        "reject_on_worker_lost": True,
        "autoretry_for": (Exception,),
        "dont_autoretry_for": (DriftGuardError,),
        "max_retries": settings.task_max_retries,
        "retry_backoff": settings.task_retry_backoff_seconds,
        "retry_backoff_max": settings.task_retry_backoff_max_seconds,
        "retry_jitter": True,
    }


def register_tasks(app: Celery, runtime: Runtime) -> None:
    """Register the worker's tasks on ``app``: run a window, plan due windows, deliver webhooks,
    run maintenance."""
    settings = runtime.settings
    options = task_options(runtime)

    @app.task(name=RUN_WINDOW, **options)
    def run_window_task(model_id: int, version_id: int, start: str, end: str) -> bool:
        item = Due(model_id, version_id, datetime.fromisoformat(start), datetime.fromisoformat(end))
        return run_window(runtime.factory, item)

    @app.task(name=PLAN_WINDOWS, **options)
    def plan_windows(now: str | None = None) -> int:
        """Enqueue one run per due window (a scheduler's tick)."""
        moment = None if now is None else datetime.fromisoformat(now)
        due = plan(runtime.factory, moment, spread=settings.scheduler_stagger)
        for item in due:
            run_window_task.apply_async(
                args=[item.model_id, item.version_id, item.start.isoformat(), item.end.isoformat()],
                task_id=window_task_id(item),
            )
        return len(due)

    @app.task(name=DELIVER_WEBHOOKS, **options)
    def deliver_webhooks() -> int:
        return deliver_all_due(runtime.factory, settings=settings, http=runtime.http)

    @app.task(name=MAINTENANCE, **options)
    def maintenance() -> list[str]:
        return run_maintenance(runtime.factory, settings)
