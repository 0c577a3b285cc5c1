"""Monitoring of one model version: a run over a window now, and the stored reports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from driftguard.api.deps import require
from driftguard.api.json_body import FastJsonRoute
from driftguard.governance import after_run
from driftguard.http.deps import DbSession
from driftguard.http.params import LimitQuery, ObjectId, OffsetQuery, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.monitoring import runs
from driftguard.monitoring.schemas import ReportRead, RunRead, RunRequest
from driftguard.schemas import Page, Timestamp

# Tagged "data" with the version's other routes, as the API has always listed them.
router = APIRouter(
    prefix="/models/{model_id}/versions/{number}", tags=["data"], route_class=FastJsonRoute
)

ModelId = ObjectId
Reader = Annotated[Principal, require(Permission.MODELS_READ)]


@router.post("/monitoring/runs", status_code=201)
def run_monitoring(
    model_id: ModelId,
    number: VersionNumber,
    body: RunRequest,
    session: DbSession,
    principal: Annotated[Principal, require(Permission.MONITORING_RUN)],
) -> RunRead:
    """Compute drift, data-quality, fairness and (with labels) performance for a window, and
    store them as history."""
    return after_run.request_run(
        session, principal=principal, model_id=model_id, number=number, window=body
    )


@router.get("/monitoring/reports")
def list_reports(
    model_id: ModelId,
    number: VersionNumber,
    session: DbSession,
    principal: Reader,
    kind: Literal["drift", "data_quality", "fairness", "performance", "oversight"] | None = None,
    start: Annotated[Timestamp | None, Query(alias="from")] = None,
    end: Annotated[Timestamp | None, Query(alias="to")] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[ReportRead]:
    """Stored reports as a time series (oldest window first), optionally of one kind and
    within ``[from, to]``."""
    return runs.report_history(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        kind=kind,
        start=start,
        end=end,
        limit=limit,
        offset=offset,
    )
