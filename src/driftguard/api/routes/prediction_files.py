"""Bulk prediction files: up to 1,000,000 rows of CSV, Parquet or Arrow IPC in one request."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from driftguard.api.deps import require
from driftguard.api.routes.predictions import IdempotencyKey
from driftguard.api.spool import file_sha256, spooled_body
from driftguard.http.deps import DbSession
from driftguard.http.params import ObjectId, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.ingest import service
from driftguard.ingest.schemas import IngestResult
from driftguard.ingest.uploads import FileColumns, detect_format

router = APIRouter(prefix="/models/{model_id}/versions/{number}", tags=["data"])
Writer = Annotated[Principal, require(Permission.PREDICTIONS_WRITE)]
ColumnName = Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]


@router.post(
    "/predictions/upload",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/vnd.apache.parquet": {},
                "text/csv": {},
                "application/vnd.apache.arrow.file": {},
                "application/vnd.apache.arrow.stream": {},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            },
            "required": True,
        }
    },
)
async def upload_predictions(
    model_id: ObjectId,
    number: VersionNumber,
    request: Request,
    session: DbSession,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
    id_col: ColumnName = "prediction_id",
    timestamp_col: ColumnName = "timestamp",
    label_col: ColumnName = "label",
    score_col: ColumnName = "score",
) -> IngestResult:
    """Log a file of predictions: the raw body (by ``Content-Type``) or a multipart ``file``
    (by name). Columns: the id, timestamp (with a zone), label and/or score (named by the
    query), and the version's features. Checked like JSON batches; stored whole or not at all;
    known ``prediction_id``s are duplicates; ``Idempotency-Key`` replays the first answer."""
    # Credentials and the right to write to this version are checked before the body is read,
    # and the upload is spooled outside any transaction (a SQLite write transaction would lock
    # the whole database for as long as the client takes to send).
    await run_in_threadpool(
        service.check_writable, session, principal=principal, model_id=model_id, number=number
    )
    await run_in_threadpool(session.commit)
    columns = FileColumns(id_col, timestamp_col, label_col, score_col)
    async with spooled_body(request) as spooled:
        file_format = detect_format(spooled.filename, spooled.content_type)
        request_hash = await file_sha256(spooled, salt=repr(columns))
        return await run_in_threadpool(
            lambda: service.log_prediction_file(
                session,
                principal=principal,
                model_id=model_id,
                number=number,
                file=spooled.file,
                file_format=file_format,
                columns=columns,
                request_hash=request_hash,
                idempotency_key=idempotency_key,
            )
        )
