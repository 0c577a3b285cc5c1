"""Retention of monitoring reports: the bulk of what monitoring stores (about 10 KB per run).

With ``DRIFTGUARD_REPORT_RETENTION_DAYS`` set, a maintenance job deletes the reports whose window
ended before the retention, oldest first, in batches of :data:`PURGE_BATCH`, each batch in its own
transaction with its own audit record (``reports.purge``), so no transaction holds many rows
locked and an interrupted purge keeps what it did. A round stops after :data:`MAX_BATCHES`; the
next round goes on.

What stays, whatever its age:

- each version's newest report of each kind (the version page's latest reports, the newest
  performance report of a version whose labels stopped coming);
- every run (``monitoring_runs``: its window, status and counts, which the dashboard lists, and
  its ``schedule_key``, which keeps a reported window from being scheduled again);
- the facts snapshot each version's risk is scored from (``version_facts``) and the risk history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from driftguard.audit import service as audit
from driftguard.audit.schemas import SYSTEM
from driftguard.db.session import unit_of_work
from driftguard.monitoring.orm import MonitoringReport
from driftguard.settings import Settings

logger = logging.getLogger("driftguard.retention")
PURGE_BATCH = 500
MAX_BATCHES = 100


@dataclass(frozen=True, slots=True)
class ReportPurge:
    before: datetime
    reports: int
    batches: int
    finished: bool  # False when the round stopped at its batch limit (there may be more)


def _purgeable_batch(
    session: Session, *, before: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[tuple[datetime, int]]:
    """The next ``limit`` reports past the retention that have a newer report of their version
    and kind (the order of ``repository.latest_reports``), by window end then id."""
    report, newer = MonitoringReport, aliased(MonitoringReport)
    has_newer = exists().where(
        newer.version_id == report.version_id,
        newer.kind == report.kind,
        or_(
            newer.window_start > report.window_start,
            and_(newer.window_start == report.window_start, newer.id > report.id),
        ),
    )
    query = select(report.window_end, report.id).where(report.window_end < before, has_newer)
    if after is not None:
        end, last_id = after
        query = query.where(
            or_(report.window_end > end, and_(report.window_end == end, report.id > last_id))
        )
    rows = session.execute(query.order_by(report.window_end, report.id).limit(limit)).all()
    return [(end, report_id) for end, report_id in rows]


def purge_reports(
    factory: sessionmaker[Session],
    *,
    before: datetime,
    batch: int = PURGE_BATCH,
    max_batches: int = MAX_BATCHES,
) -> ReportPurge:
    """Delete reports whose window ended before ``before`` (see the module docstring for what
    is kept), a batch per transaction, each audited."""
    purged = batches = 0
    after: tuple[datetime, int] | None = None
    while batches < max_batches:
        with unit_of_work(factory) as session:
            found = _purgeable_batch(session, before=before, after=after, limit=batch)
            if not found:
                return ReportPurge(before, purged, batches, finished=True)
            ids = [report_id for _, report_id in found]
            session.execute(delete(MonitoringReport).where(MonitoringReport.id.in_(ids)))
            audit.record(
                session,
                actor=SYSTEM,
                action="reports.purge",
                object_type="monitoring_reports",
                after={
                    "before": before,
                    "reports": len(ids),
                    "first_id": min(ids),
                    "last_id": max(ids),
                },
            )
        purged, batches, after = purged + len(ids), batches + 1, found[-1]
        if len(found) < batch:
            return ReportPurge(before, purged, batches, finished=True)
    return ReportPurge(before, purged, batches, finished=False)


def apply_retention(
    factory: sessionmaker[Session], settings: Settings, now: datetime
) -> ReportPurge | None:
    """The maintenance job: purge past ``report_retention_days``, when set."""
    if settings.report_retention_days is None:
        return None
    result = purge_reports(factory, before=now - timedelta(days=settings.report_retention_days))
    if result.reports:
        logger.info(
            "monitoring reports purged: %d in %d batches (window ended before %s)%s",
            result.reports,
            result.batches,
            result.before.isoformat(),
            "" if result.finished else "; more next round",
        )
    return result
