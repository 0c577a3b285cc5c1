"""The worker's tasks, run eagerly (in this process) on the test database."""

from __future__ import annotations

import pytest
from celery import Celery
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from driftguard.errors import InvalidError
from driftguard.jobs.maintenance import MaintenanceFailedError, MaintenanceJob, run_maintenance
from driftguard.jobs.orm import DeadLetter
from driftguard.jobs.scheduler import plan
from driftguard.settings import Settings
from driftguard.worker.names import MAINTENANCE, PLAN_WINDOWS, RUN_WINDOW
from driftguard.worker.runtime import Runtime
from driftguard.worker.tasks import describe, task_options, window_task_id
from support.after_run import assert_followed
from support.worker import flaky_task

from .conftest import NOW, WINDOWS, Scheduled, run_counts


def dead_letters(factory: sessionmaker[Session]) -> list[DeadLetter]:
    with factory() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_a_tick_runs_every_due_window_once(
    celery: tuple[Celery, Runtime], scheduled: Scheduled, session_factory: sessionmaker[Session]
) -> None:
    app, _ = celery
    assert app.tasks[PLAN_WINDOWS].apply(kwargs={"now": NOW.isoformat()}).get() == WINDOWS
    assert run_counts(session_factory) == (WINDOWS, WINDOWS)
    # The next tick finds nothing left to do.
    assert app.tasks[PLAN_WINDOWS].apply(kwargs={"now": NOW.isoformat()}).get() == 0
    assert run_counts(session_factory) == (WINDOWS, WINDOWS)


def test_a_second_scheduler_never_runs_a_window_twice(
    celery: tuple[Celery, Runtime], scheduled: Scheduled, session_factory: sessionmaker[Session]
) -> None:
    """Two schedulers tick before any worker has run anything: every window is enqueued twice,
    and each runs once."""
    app, _ = celery
    first, second = plan(session_factory, NOW), plan(session_factory, NOW)
    assert first == second
    assert len(first) == WINDOWS
    outcomes = [
        app.tasks[RUN_WINDOW]
        .apply(
            args=[i.model_id, i.version_id, i.start.isoformat(), i.end.isoformat()],
            task_id=window_task_id(i),
        )
        .get()
        for i in [*first, *second]
    ]
    assert outcomes.count(True) == WINDOWS
    assert outcomes.count(False) == WINDOWS
    assert run_counts(session_factory) == (WINDOWS, WINDOWS)
    assert dead_letters(session_factory) == []


def test_a_failing_task_is_retried_then_dead_lettered(
    celery: tuple[Celery, Runtime], session_factory: sessionmaker[Session]
) -> None:
    app, runtime = celery
    calls: list[int] = []
    flaky = flaky_task(app, runtime, calls)

    # Two failures, then success: retried, no dead letter.
    assert flaky.apply(args=[2], task_id="t-recovers").get() == 3
    assert dead_letters(session_factory) == []
    # Failing on every try: 1 + max_retries (2) calls, then one dead letter.
    calls.clear()
    flaky.apply(args=[99], task_id="t-gives-up")
    assert len(calls) == 3
    [letter] = dead_letters(session_factory)
    assert (letter.task_id, letter.task_name, letter.arguments) == (
        "t-gives-up",
        "test.flaky",
        [99],
    )
    assert letter.attempts == 3
    assert "OperationalError" in letter.error
    assert "database went away" in letter.error


def test_a_domain_error_is_not_retried(
    celery: tuple[Celery, Runtime], session_factory: sessionmaker[Session]
) -> None:
    app, runtime = celery
    calls: list[int] = []

    @app.task(name="test.invalid", **task_options(runtime))
    def invalid() -> None:
        calls.append(1)
        raise InvalidError("this input can never succeed")

    invalid.apply(task_id="t-invalid")
    assert calls == [1]
    [letter] = dead_letters(session_factory)
    assert letter.attempts == 1
    assert "can never succeed" in letter.error


def test_dead_letters_leave_out_sql_parameters(engine: Engine) -> None:
    with pytest.raises(StatementError) as caught, engine.connect() as connection:
        connection.execute(text("SELECT * FROM no_such_table WHERE x = :s"), {"s": "whsec_secret"})
    assert "whsec_secret" in str(caught.value)  # SQLAlchemy's own message shows parameters
    assert "whsec_secret" not in describe(caught.value)
    assert "no_such_table" in describe(caught.value)


def test_maintenance_runs_every_job_even_after_one_fails(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    ran: list[str] = []

    def broken(_: object) -> None:
        raise RuntimeError("disk full")

    jobs = [
        MaintenanceJob("first", lambda context: ran.append("first")),
        MaintenanceJob("broken", broken),
        MaintenanceJob("last", lambda context: ran.append("last")),
    ]
    with pytest.raises(MaintenanceFailedError, match="broken"):
        run_maintenance(session_factory, settings, jobs=jobs)
    assert ran == ["first", "last"]
    assert run_maintenance(session_factory, settings, jobs=jobs[:1]) == ["first"]


def test_the_maintenance_task_runs_the_registered_jobs(celery: tuple[Celery, Runtime]) -> None:
    app, _ = celery
    result = app.tasks[MAINTENANCE].apply()
    assert result.successful()
    assert isinstance(result.get(), list)


def test_server_processes_leave_the_work_to_workers_when_a_broker_is_configured(
    settings: Settings,
) -> None:
    from driftguard.app import background_loops

    embedded = settings.model_copy(
        update={"scheduler_enabled": True, "webhook_delivery_enabled": True}
    )
    assert background_loops(embedded) == ("scheduler", "maintenance", "webhooks")
    brokered = Settings.model_validate(
        {**embedded.model_dump(), "broker_url": "redis://127.0.0.1:6379/13"}
    )
    assert background_loops(brokered) == ()


def test_a_window_task_follows_its_run_with_governance_after_run(
    celery: tuple[Celery, Runtime], scheduled: Scheduled, session_factory: sessionmaker[Session]
) -> None:
    app, _ = celery
    assert app.tasks[PLAN_WINDOWS].apply(kwargs={"now": NOW.isoformat()}).get() == WINDOWS
    seen = assert_followed(session_factory, scheduled.version_id)
    assert seen.runs == WINDOWS
