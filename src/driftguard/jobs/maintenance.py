"""Periodic maintenance jobs: the one list of them, and how they run.

Every job in :data:`MAINTENANCE_JOBS` runs every ``DRIFTGUARD_MAINTENANCE_INTERVAL_SECONDS``: on
a worker (the scheduler enqueues the ``maintenance`` task) or, in embedded mode, in each server
process (the app's lifespan, through :func:`driftguard.jobs.periodic.run_periodically`). Jobs
must be idempotent: more than one process may run them at once, and a failed round is retried
whole. Each job is passed what it needs to open its own transactions; one failing job does not
keep the others from running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit import checkpoints
from driftguard.audit.keys import AuditKeyring
from driftguard.db.base import utcnow
from driftguard.db.session import reading, unit_of_work
from driftguard.governance import incident_alerts, reviews_due
from driftguard.ingest import storage_maintenance
from driftguard.lifecycle import retention as retention_floor
from driftguard.monitoring import retention
from driftguard.settings import Settings

logger = logging.getLogger("driftguard.maintenance")


@dataclass(frozen=True, slots=True)
class MaintenanceContext:
    factory: sessionmaker[Session]
    settings: Settings
    now: datetime


@dataclass(frozen=True, slots=True)
class MaintenanceJob:
    name: str
    run: Callable[[MaintenanceContext], object]


def _prediction_storage(context: MaintenanceContext) -> None:
    result = storage_maintenance.run_maintenance(
        context.factory, context.settings, hold=retention_floor.prediction_hold
    )
    if result.purged is not None and result.purged.held_versions:
        logger.warning(
            "DRIFTGUARD_PREDICTION_RETENTION_DAYS=%d: raw predictions of %d versions of EU AI Act "
            "high-risk models kept since %s (%s)",
            context.settings.prediction_retention_days,
            result.purged.held_versions,
            result.purged.held_since,
            retention_floor.ARTICLE,
        )


def _report_retention(context: MaintenanceContext) -> None:
    retention.apply_retention(context.factory, context.settings, context.now)


def _audit_checkpoint(context: MaintenanceContext) -> None:
    """A signed checkpoint of the chain head into DRIFTGUARD_AUDIT_CHECKPOINT_DIR, when set and
    the head moved since the last one (processes racing here each write a file: harmless)."""
    directory = context.settings.audit_checkpoint_dir
    if directory is None:
        return
    keyring = AuditKeyring(context.settings.audit_chain_keys())
    with reading(context.factory) as session:
        document = checkpoints.checkpoint(session, keyring=keyring)
    if not checkpoints.has_checkpoint_at(directory, int(document["seq"])):
        checkpoints.write_to_directory(directory, document)


def _incident_deadlines(context: MaintenanceContext) -> None:
    """Serious incidents past their reporting deadline: an alert and an ``incident.late``
    webhook event each, once (the incident is marked in the same transaction); the alerts of
    those since reported resolve."""
    with unit_of_work(context.factory) as session:
        incident_alerts.announce_late(session, context.now)
        incident_alerts.settle_reported(session, context.now)


def _review_alerts(context: MaintenanceContext) -> None:
    """One alert per overdue periodic review of a production version; resolved when no longer
    overdue (governance/reviews_due.py)."""
    with unit_of_work(context.factory) as session:
        reviews_due.sync_alerts(session, now=context.now)


MAINTENANCE_JOBS: tuple[MaintenanceJob, ...] = (
    # The audit chain's head signed into a directory outside the database (truncation evidence).
    MaintenanceJob("audit_checkpoint", _audit_checkpoint),
    # Time partitions prepared ahead, raw predictions past the retention purged.
    MaintenanceJob("prediction_storage", _prediction_storage),
    # Monitoring reports past their retention purged (each version's newest of a kind kept).
    MaintenanceJob("report_retention", _report_retention),
    # Serious incidents not reported by their Art. 73 deadline announced, once each.
    MaintenanceJob("incident_deadlines", _incident_deadlines),
    # Overdue periodic reviews raised as alerts (SR 11-7 annual review, PRA SS1/23).
    MaintenanceJob("review_alerts", _review_alerts),
)


class MaintenanceFailedError(Exception):
    """Some jobs of a round failed (each was logged); the round is retried whole."""


def run_maintenance(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    jobs: Sequence[MaintenanceJob] = MAINTENANCE_JOBS,
    now: datetime | None = None,
) -> list[str]:
    """Run every job once; returns the names of those that ran. Raises
    :class:`MaintenanceFailedError` naming the failed ones after trying them all."""
    context = MaintenanceContext(factory, settings, now or utcnow())
    done: list[str] = []
    failed: list[str] = []
    for job in jobs:
        try:
            job.run(context)
            done.append(job.name)
        except Exception:  # one job's fault must not starve the others
            logger.exception("maintenance job %s failed", job.name)
            failed.append(job.name)
    if failed:
        raise MaintenanceFailedError(f"maintenance jobs failed: {', '.join(failed)}")
    return done
