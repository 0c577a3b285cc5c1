"""Monitoring runs: load a window of predictions, compute its reports, store them as history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from driftguard import stats
from driftguard.errors import ConflictError
from driftguard.identity.principal import Principal
from driftguard.ingest import repository as ingest_repository
from driftguard.ingest.counts import window_counts
from driftguard.ingest.frames import ID, LABEL, SCORE, FeatureSchema, stats_columns
from driftguard.ingest.profiles import profile_of
from driftguard.ingest.service import load_window
from driftguard.monitoring import repository
from driftguard.monitoring.aggregates import counts_drift_report, counts_quality_report
from driftguard.monitoring.orm import MonitoringReport, MonitoringRun
from driftguard.monitoring.purged import COUNTS, RAW, nothing_counted, purged_part, purged_reports
from driftguard.monitoring.report_models import OversightReport, RunReports, Source, stored_payload
from driftguard.monitoring.reports import (
    binary,
    drift_report,
    fairness_reports,
    performance_report,
    quality_report,
)
from driftguard.monitoring.schemas import ReportRead, RunMethod, RunRead
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion
from driftguard.schemas import Page


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A stored run and the reports it stored, as models (none unless it completed)."""

    run: MonitoringRun
    reports: RunReports


def execute_run(
    session: Session,
    *,
    version: ModelVersion,
    start: datetime,
    end: datetime,
    trigger: str,
    method: RunMethod = "counts",
    actor_id: int | None = None,
    schedule_key: str | None = None,
) -> RunOutcome:
    """Run the window's reports. A duplicate ``schedule_key`` fails on the unique key at flush.

    ``counts`` merges cached per-block counts (PSI, Jensen-Shannon and chi-square exact; KS
    bracketed within a stated bound); ``exact`` reads every value (exact KS and Wasserstein,
    out-of-range rates). A window with purged predictions is reported from counts whatever the
    method (see ``monitoring.purged``). Every report says where it came from: ``"source":
    "raw"`` (every prediction of the window was still stored) or ``"counts"``. Each report is
    serialised once, here, as it is stored; the outcome carries the models themselves.
    """
    ingest_repository.lock_version(session, version.id)  # one run of a version at a time
    reference = ingest_repository.active_reference(session, version.id)
    if reference is None:
        raise ConflictError(
            "this version has no reference data; upload it before monitoring", code="no_reference"
        )
    run = MonitoringRun(
        version_id=version.id,
        window_start=start,
        window_end=end,
        trigger=trigger,
        schedule_key=schedule_key,
        status="completed",
        reference_id=reference.id,
        created_by_id=actor_id,
    )
    session.add(run)
    session.flush()
    schema = FeatureSchema.from_version(version.features)
    profile = profile_of(session, reference)
    purged = purged_part(session, version_id=version.id, profile=profile, start=start, end=end)
    # Fairness and performance need the decisions, outcomes and groups row by row (none of it
    # when part of the window was purged: then every report comes from counts).
    needed = None if method == "exact" else [LABEL, SCORE, *schema.sensitive()]
    window = load_window(
        session,
        version_id=version.id,
        start=start,
        end=end,
        columns=[] if purged.found else needed,
    )
    run.n_predictions = window.num_rows + purged.predictions
    if run.n_predictions == 0 and not purged.found:
        run.status = "no_data"
        session.flush()
        return RunOutcome(run, RunReports())
    labels = _window_labels(session, version.id, window, start, end)
    run.n_labelled = len(labels) - labels.null_count
    try:
        reports = (
            purged_reports(
                session,
                version_id=version.id,
                profile=profile,
                schema=schema,
                purged=purged,
                start=start,
                end=end,
            )
            if purged.found
            else _reports(
                session,
                version=version,
                profile=profile,
                schema=schema,
                window=window,
                labels=labels,
                method=method,
                start=start,
                end=end,
            )
        )
    except stats.StatsInputError as exc:
        run.status, run.error = "failed", str(exc)
        reports = RunReports()
    if reports is None:
        run.status, run.error = "no_data", nothing_counted(purged)
        reports = RunReports()
    if run.status == "completed" and ingest_repository.has_overrides(session, version.id):
        oversight = oversight_report(session, version.id, run.n_predictions, start, end)
        reports = reports.model_copy(update={"oversight": oversight})
    source: Source = COUNTS if purged.found else RAW
    reports = reports.with_source(source)
    for kind, report in reports.present():
        session.add(
            MonitoringReport(
                run_id=run.id,
                version_id=version.id,
                kind=kind,
                window_start=start,
                window_end=end,
                payload=stored_payload(report),
            )
        )
    session.flush()
    return RunOutcome(run, reports)


def oversight_report(
    session: Session, version_id: int, n_predictions: int, start: datetime, end: datetime
) -> OversightReport:
    """Overrides of the window's predictions over its predictions."""
    overridden = ingest_repository.count_overrides(session, version_id, start, end)
    return OversightReport(
        n_predictions=n_predictions,
        n_overrides=overridden,
        override_rate=overridden / n_predictions if n_predictions else 0.0,
    )


def _window_labels(
    session: Session, version_id: int, window: pa.Table, start: datetime, end: datetime
) -> pa.Array:
    """The label of each window row (null where none has arrived), looked up by id."""
    ids, labels = ingest_repository.labels_in_window(session, version_id, start, end)
    if not ids:
        return pa.nulls(window.num_rows, pa.string())
    found = pc.index_in(window.column(ID), value_set=pa.array(ids, pa.string()))
    taken = pa.array(labels, pa.string()).take(found)  # a null position takes a null
    return taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken


def _reports(
    session: Session,
    *,
    version: ModelVersion,
    profile: stats.Profile,
    schema: FeatureSchema,
    window: pa.Table,
    labels: pa.Array,
    method: RunMethod,
    start: datetime,
    end: datetime,
) -> RunReports:
    y_true = binary(labels) if labels.null_count == 0 else None
    fairness = fairness_reports(window, schema, y_true)
    if method == "exact":
        data = stats_columns({f.name: window.column(f.name) for f in schema.features}, schema)
        drift, quality = drift_report(profile, data), quality_report(profile, data)
    else:
        counts = window_counts(
            session, version_id=version.id, profile=profile, schema=schema, start=start, end=end
        )
        assert counts is not None  # the window has rows
        drift, quality = (
            counts_drift_report(profile, counts),
            counts_quality_report(profile, counts),
        )
    return RunReports(
        drift=drift,
        data_quality=quality,
        fairness=fairness,
        performance=performance_report(version.task_type.value, window, labels),
    )


def run_read(session: Session, run: MonitoringRun) -> RunRead:
    """A run as the API reads it back, with its stored reports by kind."""
    reports = {r.kind: r.payload for r in repository.reports_of_run(session, run.id)}
    return RunRead(
        id=run.id,
        version_id=run.version_id,
        window_start=run.window_start,
        window_end=run.window_end,
        trigger=run.trigger,
        status=run.status,
        n_predictions=run.n_predictions,
        n_labelled=run.n_labelled,
        error=run.error,
        created_at=run.created_at,
        reports=reports,
    )


def report_history(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    kind: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> Page[ReportRead]:
    """Stored reports as a time series, oldest window first."""
    _, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    rows, total = repository.list_reports(
        session, version_id=version.id, kind=kind, start=start, end=end, limit=limit, offset=offset
    )
    return Page(
        items=[ReportRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )


def recent_reports(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    limits: Mapping[str, int],
) -> dict[str, list[ReportRead]]:
    """Per kind, its newest ``limits[kind]`` reports, oldest first (for charts over time)."""
    _, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    return {
        kind: [
            ReportRead.model_validate(r)
            for r in reversed(
                repository.latest_reports(session, version_id=version.id, kind=kind, limit=limit)
            )
        ]
        for kind, limit in limits.items()
    }
