"""What ``governance.after_run`` leaves behind for a version, read back whoever ran the window."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.orm import AuditRecord
from driftguard.governance.orm import RiskScore
from driftguard.monitoring.orm import MonitoringRun, VersionFacts


@dataclass(frozen=True, slots=True)
class Followed:
    runs: int
    completed: int
    audited: int
    rescored: int
    snapshot_run_id: int | None
    latest_completed_id: int | None


def followed(factory: sessionmaker[Session], version_id: int) -> Followed:
    """The version's runs against their audit records, risk re-scores and facts snapshot."""
    with factory() as session:
        runs = session.execute(
            select(MonitoringRun.id, MonitoringRun.status)
            .where(MonitoringRun.version_id == version_id)
            .order_by(MonitoringRun.window_end, MonitoringRun.id)
        ).all()
        ids = [str(run_id) for run_id, _ in runs]
        audited = session.scalar(
            select(func.count()).where(
                AuditRecord.action == "monitoring.run", AuditRecord.object_id.in_(ids)
            )
        )
        rescored = session.scalar(
            select(func.count()).where(
                RiskScore.version_id == version_id, RiskScore.trigger == "monitoring_run"
            )
        )
        snapshot = session.get(VersionFacts, version_id)
    completed = [run_id for run_id, status in runs if status == "completed"]
    return Followed(
        runs=len(runs),
        completed=len(completed),
        audited=int(audited or 0),
        rescored=int(rescored or 0),
        snapshot_run_id=snapshot.run_id if snapshot is not None else None,
        latest_completed_id=completed[-1] if completed else None,
    )


def assert_followed(factory: sessionmaker[Session], version_id: int) -> Followed:
    """Every run was audited, every completed run re-scored the version's risk, and the newest
    completed window is the version's facts snapshot."""
    seen = followed(factory, version_id)
    assert seen.completed > 0, seen
    assert seen.audited == seen.runs, seen
    assert seen.rescored == seen.completed, seen
    assert seen.snapshot_run_id == seen.latest_completed_id, seen
    return seen
