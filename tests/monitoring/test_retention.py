"""Report retention: reports past it go in audited batches; each version's newest report of each
kind, every run, and the facts risk is scored from stay."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.orm import AuditRecord
from driftguard.db.session import unit_of_work
from driftguard.jobs.maintenance import MAINTENANCE_JOBS, run_maintenance
from driftguard.monitoring.orm import MonitoringReport, MonitoringRun
from driftguard.monitoring.repository import latest_reports
from driftguard.monitoring.retention import purge_reports
from driftguard.registry.orm import ModelVersion
from driftguard.settings import Settings
from support.monitoring import BASE_TIME
from support.versions import Setup

HOUR = timedelta(hours=1)
CUTOFF = BASE_TIME + 10 * HOUR


def store_history(factory: sessionmaker[Session], version_id: int, hours: int) -> None:
    """Hourly runs from BASE_TIME with drift and data-quality reports; performance reports only
    for the first three windows (labels stopped coming)."""
    with unit_of_work(factory) as session:
        for h in range(hours):
            start = BASE_TIME + h * HOUR
            run = MonitoringRun(
                version_id=version_id,
                window_start=start,
                window_end=start + HOUR,
                trigger="scheduled",
                schedule_key=f"{version_id}:{h}",
                status="completed",
            )
            session.add(run)
            session.flush()
            kinds = ["drift", "data_quality", *(["performance"] if h < 3 else [])]
            for kind in kinds:
                report = MonitoringReport(
                    run_id=run.id,
                    version_id=version_id,
                    kind=kind,
                    window_start=start,
                    window_end=start + HOUR,
                    payload={"hour": h},
                )
                session.add(report)


def reports(factory: sessionmaker[Session]) -> set[tuple[int, str, datetime]]:
    with factory() as session:
        rows = session.execute(
            select(MonitoringReport.version_id, MonitoringReport.kind, MonitoringReport.window_end)
        ).all()
    return {(v, k, e) for v, k, e in rows}


def expected_after_purge(
    before: set[tuple[int, str, datetime]], cutoff: datetime
) -> set[tuple[int, str, datetime]]:
    newest = {}
    for version, kind, end in before:
        newest[(version, kind)] = max(end, newest.get((version, kind), end))
    return {r for r in before if r[2] >= cutoff or newest[(r[0], r[1])] == r[2]}


def purge_audits(factory: sessionmaker[Session]) -> list[dict[str, object]]:
    with factory() as session:
        rows = session.scalars(
            select(AuditRecord.after)
            .where(AuditRecord.action == "reports.purge")
            .order_by(AuditRecord.seq)
        ).all()
    return [dict(r or {}) for r in rows]


@pytest.fixture
def history(setup: Setup, session_factory: sessionmaker[Session]) -> int:
    """A version with 24 hours of reports, and a version of another model whose every report is
    older than the retention (monitoring stopped): the second version's id."""
    store_history(session_factory, setup.version_id, 24)
    with unit_of_work(session_factory) as session:
        first = session.get(ModelVersion, setup.version_id)
        assert first is not None
        retired = ModelVersion(
            model_id=first.model_id,
            number=2,
            task_type=first.task_type,
            features=first.features,
            target=first.target,
            training_metrics={},
        )
        session.add(retired)
        session.flush()
        retired_id = retired.id
    store_history(session_factory, retired_id, 5)
    return retired_id


def test_reports_past_the_retention_go_and_each_versions_newest_stays(
    setup: Setup, history: int, session_factory: sessionmaker[Session]
) -> None:
    before = reports(session_factory)
    assert len(before) == 24 * 2 + 3 + 5 * 2 + 3
    result = purge_reports(session_factory, before=CUTOFF, batch=4)
    after = reports(session_factory)
    assert after == expected_after_purge(before, CUTOFF)
    # The first version lost the nine windows that ended before the cutoff (drift, quality)
    # and two of its three performance reports (the newest, hour 2, is all it has); the
    # retired version keeps one report of each kind.
    assert result.reports == len(before) - len(after) == 9 * 2 + 2 + 4 * 2 + 2
    assert result.finished
    assert result.batches == 8  # 30 reports, 4 a batch
    assert {(k, e) for v, k, e in after if v == history} == {
        ("drift", BASE_TIME + 5 * HOUR),
        ("data_quality", BASE_TIME + 5 * HOUR),
        ("performance", BASE_TIME + 3 * HOUR),
    }
    # Every batch is audited with what it removed.
    audits = purge_audits(session_factory)
    assert len(audits) == result.batches
    assert sum(int(str(a["reports"])) for a in audits) == result.reports
    # Runs stay (the dashboard lists them; scheduled keys keep windows from running again).
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MonitoringRun)) == 24 + 5
        for version_id in (setup.version_id, history):
            for kind in ("drift", "data_quality", "performance"):
                assert latest_reports(session, version_id=version_id, kind=kind, limit=1)
    # Nothing more to do: a second purge removes nothing and records nothing.
    again = purge_reports(session_factory, before=CUTOFF, batch=4)
    assert (again.reports, again.batches, again.finished) == (0, 0, True)
    assert len(purge_audits(session_factory)) == result.batches


def test_a_round_is_bounded_and_the_next_goes_on(
    history: int, session_factory: sessionmaker[Session]
) -> None:
    before = reports(session_factory)
    first = purge_reports(session_factory, before=CUTOFF, batch=5, max_batches=3)
    assert (first.reports, first.batches, first.finished) == (15, 3, False)
    second = purge_reports(session_factory, before=CUTOFF, batch=5)
    assert second.finished
    assert first.reports + second.reports == 30
    assert reports(session_factory) == expected_after_purge(before, CUTOFF)


def test_the_maintenance_job_applies_the_configured_retention(
    history: int, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    assert "report_retention" in {job.name for job in MAINTENANCE_JOBS}
    before = reports(session_factory)
    # Unset (the default): everything is kept.
    assert settings.report_retention_days is None
    run_maintenance(session_factory, settings, now=CUTOFF + timedelta(days=1))
    assert reports(session_factory) == before
    # One day: windows that ended before `now - 1 day` go.
    kept = settings.model_copy(update={"report_retention_days": 1})
    assert "report_retention" in run_maintenance(
        session_factory, kept, now=CUTOFF + timedelta(days=1)
    )
    assert reports(session_factory) == expected_after_purge(before, CUTOFF)


def test_the_retention_setting_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="report_retention_days"):
        Settings(report_retention_days=0)
