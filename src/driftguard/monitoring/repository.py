"""Queries of monitoring runs and reports. Callers have already resolved (and so authorised) the
model version."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from driftguard.monitoring.orm import MonitoringReport


def list_reports(
    session: Session,
    *,
    version_id: int,
    kind: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[MonitoringReport], int]:
    """A version's stored reports, oldest window first, optionally of one kind and within a time
    range; and how many match."""
    query = select(MonitoringReport).where(MonitoringReport.version_id == version_id)
    if kind is not None:
        query = query.where(MonitoringReport.kind == kind)
    if start is not None:
        query = query.where(MonitoringReport.window_start >= start)
    if end is not None:
        query = query.where(MonitoringReport.window_end <= end)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(MonitoringReport.window_start, MonitoringReport.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


def latest_reports(
    session: Session, *, version_id: int, kind: str, limit: int
) -> Sequence[MonitoringReport]:
    """The ``limit`` newest reports of a kind, newest first (one index walk)."""
    return session.scalars(
        select(MonitoringReport)
        .where(MonitoringReport.version_id == version_id, MonitoringReport.kind == kind)
        .order_by(MonitoringReport.window_start.desc(), MonitoringReport.id.desc())
        .limit(limit)
    ).all()


def reports_of_run(session: Session, run_id: int) -> Sequence[MonitoringReport]:
    """A run's stored reports, in the order they were stored."""
    return session.scalars(
        select(MonitoringReport)
        .where(MonitoringReport.run_id == run_id)
        .order_by(MonitoringReport.id)
    ).all()
