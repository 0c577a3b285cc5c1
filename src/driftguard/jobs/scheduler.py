"""Scheduled monitoring: each closed window of each scheduled model version is reported once.

:func:`plan` finds the due windows and :func:`run_window` reports one; in embedded mode every server
process's background loop (``jobs/periodic.py``) calls :func:`run_due`, which does both, and with a
broker the scheduler enqueues one task per due window that a worker runs with the same
:func:`run_window`. "Once" is the database's unique ``schedule_key``: when several processes take
the same window, one inserts the run and the others' inserts fail and are skipped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.schemas import SYSTEM
from driftguard.db.session import driver_message, is_transient, reading, unit_of_work
from driftguard.errors import ConflictError
from driftguard.governance.after_run import after_run
from driftguard.ingest.orm import ReferenceDataset
from driftguard.monitoring.orm import MonitoringRun
from driftguard.monitoring.runs import execute_run
from driftguard.registry.orm import ModelVersion, RegisteredModel, Stage

logger = logging.getLogger("driftguard.scheduler")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# How many missed windows one tick catches up on, per version (older ones are left alone).
CATCH_UP = 24
GOLDEN_RATIO = (1 + 5**0.5) / 2


@dataclass(frozen=True, slots=True)
class Due:
    model_id: int
    version_id: int
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """The window's schedule key (version, start, end): unique, so a window is reported once."""
        return f"{self.version_id}:{self.start.isoformat()}:{self.end.isoformat()}"


def stagger(model_id: int, interval: timedelta, spread: timedelta) -> timedelta:
    """How long after its windows close a model's runs become due: a fixed fraction of
    ``min(spread, interval)``, so many models with the same interval are enqueued over that
    span instead of all at the instant their windows close. The windows themselves stay aligned.

    The fraction is ``model_id`` times the golden ratio, modulo 1: deterministic in every
    process, and consecutive ids land far apart (any n of them cut the span into gaps of at
    most three lengths), so a fleet registered in one go is spread evenly.

    >>> stagger(1, timedelta(hours=1), timedelta(minutes=10))
    datetime.timedelta(seconds=370, microseconds=820393)
    """
    width = min(spread, interval)
    return width * ((model_id * GOLDEN_RATIO) % 1.0)


def closed_windows(
    interval: timedelta, now: datetime, count: int
) -> Iterator[tuple[datetime, datetime]]:
    """The last ``count`` windows of length ``interval`` (aligned to a fixed epoch) that ended
    at or before ``now``, oldest first."""
    last_end = EPOCH + ((now - EPOCH) // interval) * interval
    for k in range(count, 0, -1):
        end = last_end - (k - 1) * interval
        yield end - interval, end


def _scheduled(*columns: Any) -> Select[Any]:
    """The versions the scheduler monitors: a live model with an interval, a live version with
    active reference data."""
    return (
        select(*columns)
        .select_from(RegisteredModel)
        .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
        .join(
            ReferenceDataset,
            (ReferenceDataset.version_id == ModelVersion.id) & ReferenceDataset.is_active.is_(True),
        )
        .where(
            RegisteredModel.monitoring_interval_minutes.is_not(None),
            RegisteredModel.archived_at.is_(None),
            ModelVersion.stage != Stage.ARCHIVED,
        )
    )


def scheduled_versions(session: Session) -> int:
    """How many versions the scheduler monitors (a live model with an interval, a live version
    with reference data)."""
    return session.scalar(_scheduled(func.count())) or 0


def last_scheduled_run_at(session: Session) -> datetime | None:
    """When the newest scheduled run was stored (whatever its status), None before the first."""
    return session.scalar(
        select(MonitoringRun.created_at)
        .where(MonitoringRun.trigger == "scheduled")
        .order_by(MonitoringRun.id.desc())
        .limit(1)
    )


def due_windows(session: Session, now: datetime, *, spread: timedelta = timedelta(0)) -> list[Due]:
    """The closed windows without a run, each due its model's :func:`stagger` after it closed."""
    rows = session.execute(
        _scheduled(RegisteredModel.id, RegisteredModel.monitoring_interval_minutes, ModelVersion.id)
    ).all()
    due: list[Due] = []
    for model_id, minutes, version_id in rows:
        assert minutes is not None  # filtered in the query
        interval = timedelta(minutes=minutes)
        shifted = now - stagger(model_id, interval, spread)
        candidates = [
            Due(model_id, version_id, start, end)
            for start, end in closed_windows(interval, shifted, CATCH_UP)
        ]
        done = set(
            session.scalars(
                select(MonitoringRun.schedule_key).where(
                    MonitoringRun.schedule_key.in_([c.key for c in candidates])
                )
            )
        )
        due += [c for c in candidates if c.key not in done]
    return due


def run_due(
    factory: sessionmaker[Session],
    now: datetime | None = None,
    *,
    spread: timedelta = timedelta(0),
) -> int:
    """Run every due window, each in its own transaction; returns how many this process ran.
    A window the database was too busy for is left due for the next tick."""
    ran = 0
    for item in plan(factory, now, spread=spread):
        try:
            ran += run_window(factory, item)
        except OperationalError as exc:
            # Busy (SQLite's write lock not granted within its timeout, say, while another
            # process runs windows) or briefly unreachable: the window has no run, so it is
            # still due and the next tick takes it; the other windows go on. (A worker's task
            # raises instead, and Celery retries it with backoff.)
            if not is_transient(exc):
                raise
            logger.warning("window %s deferred: %s", item.key, driver_message(exc))
    return ran


def plan(
    factory: sessionmaker[Session],
    now: datetime | None = None,
    *,
    spread: timedelta = timedelta(0),
) -> list[Due]:
    """The due windows that have no run yet (a task scheduler enqueues one task for each).
    Planning only reads: on SQLite it must not queue for the write lock behind the runs."""
    with reading(factory) as session:
        return due_windows(session, now or datetime.now(UTC), spread=spread)


def run_window(factory: sessionmaker[Session], item: Due) -> bool:
    """Report one window in its own transaction, unless it has been reported already, and
    follow it with ``governance.after_run`` (alerts, snapshot, audit, risk re-score) in the same
    transaction; True when this call stored the run. Safe to call any number of times for the
    same window (task retries, a second scheduler): the unique ``schedule_key`` lets one run
    through."""
    try:
        with unit_of_work(factory) as session:
            taken = session.scalar(
                select(MonitoringRun.id).where(MonitoringRun.schedule_key == item.key)
            )
            version = session.get(ModelVersion, item.version_id)
            model = session.get(RegisteredModel, item.model_id)
            if taken is not None or version is None or model is None:
                return False
            outcome = execute_run(
                session,
                version=version,
                start=item.start,
                end=item.end,
                trigger="scheduled",
                schedule_key=item.key,
            )
            after_run(session, outcome, model=model, version=version, actor=SYSTEM)
        return True
    except IntegrityError:
        logger.info("window %s was taken by another process", item.key)
    except ConflictError as exc:
        logger.warning("scheduled window %s skipped: %s", item.key, exc.message)
    return False
