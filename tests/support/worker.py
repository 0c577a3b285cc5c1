"""Background-task helpers shared by the worker tests."""

from __future__ import annotations

from typing import Any

from celery import Celery
from sqlalchemy.exc import OperationalError

from driftguard.worker.runtime import Runtime
from driftguard.worker.tasks import task_options


def flaky_task(app: Celery, runtime: Runtime, calls: list[int]) -> Any:
    """Register ``test.flaky``: it fails with a transient database error until it has been
    called more than ``times`` times (counted in ``calls``), then returns the number of calls."""

    @app.task(name="test.flaky", **task_options(runtime))
    def flaky(times: int) -> int:
        calls.append(times)
        if len(calls) <= times:
            raise OperationalError("SELECT 1", {}, ConnectionError("database went away"))
        return len(calls)

    return flaky
