"""Data in: reference data, predictions and late labels for one model version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, UploadFile

from driftguard.api.deps import require
from driftguard.api.json_body import FastJsonRoute
from driftguard.http.deps import DbSession
from driftguard.http.params import LimitQuery, ObjectId, OffsetQuery, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.ingest import overrides, service
from driftguard.ingest.schemas import (
    IngestResult,
    LabelBatch,
    LabelResult,
    OverrideBatch,
    OverrideRead,
    OverrideResult,
    PredictionBatch,
    ReferenceRead,
    ReferenceRows,
)
from driftguard.ingest.uploads import read_reference_file
from driftguard.schemas import Page

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
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        batch=body,
        idempotency_key=idempotency_key,
    )


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
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        rows=body.rows,
        source_format="json",
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
    table, source_format = read_reference_file(file.file, file.filename, file.content_type)
    return service.set_reference(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        table=table,
        source_format=source_format,
    )


@router.get("/reference")
def get_reference(
    model_id: ModelId, number: VersionNumber, session: DbSession, principal: Reader
) -> ReferenceRead:
    """The version's active reference data set: its row count, source format and profile id (not the
    rows)."""
    reference = service.get_reference(
        session, principal=principal, model_id=model_id, number=number
    )
    return ReferenceRead.model_validate(reference)


# --- human oversight: per-prediction overrides (ingest.overrides) -------------------------------

OverrideWriter = Annotated[Principal, require(Permission.OVERRIDES_WRITE)]


@router.post("/overrides")
def log_overrides(
    model_id: ModelId,
    number: VersionNumber,
    body: OverrideBatch,
    session: DbSession,
    principal: OverrideWriter,
) -> OverrideResult:
    """Log humans' overrides of predictions' decisions, all or nothing. One per
    ``prediction_id``: the same override sent again changes nothing, a different one is a
    conflict. Ids the version has no prediction of are stored and reported as unmatched."""
    return overrides.log_overrides(
        session, principal=principal, model_id=model_id, number=number, batch=body
    )


@router.get("/overrides")
def list_overrides(
    model_id: ModelId,
    number: VersionNumber,
    session: DbSession,
    principal: Reader,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[OverrideRead]:
    """The version's overrides, oldest first."""
    return overrides.list_overrides(
        session, principal=principal, model_id=model_id, number=number, limit=limit, offset=offset
    )
