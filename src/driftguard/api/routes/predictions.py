"""Data in: reference data, predictions and late labels for one model version."""

from __future__ import annotations

from typing import Annotated, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from fastapi import APIRouter, Header, Query, UploadFile

from driftguard.api.deps import require
from driftguard.api.json_body import FastJsonRoute
from driftguard.errors import ErrorDetail, InvalidError
from driftguard.governance import risk
from driftguard.http.deps import DbSession
from driftguard.http.params import LimitQuery, ObjectId, OffsetQuery, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.monitoring import runs, service
from driftguard.monitoring.schemas import (
    IngestResult,
    LabelBatch,
    LabelResult,
    PredictionBatch,
    ReferenceRead,
    ReferenceRows,
    ReportRead,
    RunRead,
    RunRequest,
)
from driftguard.schemas import Page, Timestamp

# Batches of up to 10,000 rows: parsed by pydantic-core (see api.json_body).
router = APIRouter(
    prefix="/models/{model_id}/versions/{number}", tags=["data"], route_class=FastJsonRoute
)

ModelId = ObjectId
Writer = Annotated[Principal, require(Permission.PREDICTIONS_WRITE)]
Reader = Annotated[Principal, require(Permission.MODELS_READ)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="A retried request with the same key returns the first response",
    ),
]


@router.post("/predictions")
def log_predictions(
    model_id: ModelId,
    number: VersionNumber,
    body: PredictionBatch,
    session: DbSession,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> IngestResult:
    """Log up to 10,000 predictions. The batch is stored whole or not at all; rows whose
    ``prediction_id`` is already stored are counted as duplicates, not stored twice."""
    return service.log_predictions(
        session, principal=principal, model_id=model_id, number=number, batch=body,
        idempotency_key=idempotency_key,
    )  # fmt: skip


@router.post("/labels")
def log_labels(
    model_id: ModelId,
    number: VersionNumber,
    body: LabelBatch,
    session: DbSession,
    principal: Writer,
) -> LabelResult:
    """Attach actual outcomes to logged predictions, by ``prediction_id``, any time later."""
    return service.log_labels(
        session, principal=principal, model_id=model_id, number=number, batch=body
    )


@router.put("/reference")
def set_reference(
    model_id: ModelId,
    number: VersionNumber,
    body: ReferenceRows,
    session: DbSession,
    principal: Writer,
) -> ReferenceRead:
    """Set (or replace) the reference data set from JSON rows."""
    return service.set_reference(
        session, principal=principal, model_id=model_id, number=number, rows=body.rows,
        source_format="json",
    )  # fmt: skip


def _read_upload(upload: UploadFile) -> tuple[pa.Table, str]:
    name = (upload.filename or "").lower()
    try:
        if name.endswith(".parquet") or upload.content_type == "application/vnd.apache.parquet":
            return pq.read_table(upload.file), "parquet"
        if name.endswith(".csv") or upload.content_type in ("text/csv", "application/csv"):
            return pa_csv.read_csv(upload.file), "csv"
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise InvalidError(
            f"file: cannot be read: {exc}",
            code="unreadable_file",
            details=[ErrorDetail(loc="file", msg=str(exc)[:500])],
        ) from exc
    raise InvalidError(
        "file: must be a .csv or .parquet file",
        code="unsupported_format",
        details=[ErrorDetail(loc="file", msg="must be a .csv or .parquet file")],
    )


@router.post("/reference/upload")
def upload_reference(
    model_id: ModelId,
    number: VersionNumber,
    file: UploadFile,
    session: DbSession,
    principal: Writer,
) -> ReferenceRead:
    """Set (or replace) the reference data set from a CSV or Parquet file."""
    table, source_format = _read_upload(file)
    return service.set_reference(
        session, principal=principal, model_id=model_id, number=number, table=table,
        source_format=source_format,
    )  # fmt: skip


@router.get("/reference")
def get_reference(
    model_id: ModelId, number: VersionNumber, session: DbSession, principal: Reader
) -> ReferenceRead:
    reference = service.get_reference(
        session, principal=principal, model_id=model_id, number=number
    )
    return ReferenceRead.model_validate(reference)


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
    run = runs.request_run(
        session, principal=principal, model_id=model_id, number=number, window=body
    )
    if run.status == "completed":
        risk.after_run(session, version_id=run.version_id)
    return run


@router.get("/monitoring/reports")
def list_reports(
    model_id: ModelId,
    number: VersionNumber,
    session: DbSession,
    principal: Reader,
    kind: Literal["drift", "data_quality", "fairness", "performance"] | None = None,
    start: Annotated[Timestamp | None, Query(alias="from")] = None,
    end: Annotated[Timestamp | None, Query(alias="to")] = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[ReportRead]:
    """Stored reports as a time series (oldest window first), optionally of one kind and
    within ``[from, to]``."""
    return runs.report_history(
        session, principal=principal, model_id=model_id, number=number, kind=kind,
        start=start, end=end, limit=limit, offset=offset,
    )  # fmt: skip
