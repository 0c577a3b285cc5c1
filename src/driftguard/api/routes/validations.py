"""Independent validation of a model version: open, cite evidence, record the outcome."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from driftguard.api.deps import require
from driftguard.api.spool import spooled_body
from driftguard.http.deps import DbSession
from driftguard.http.params import LimitQuery, ObjectId, OffsetQuery, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle import validations
from driftguard.lifecycle.schemas_validation import (
    DocumentRead,
    ValidationCreate,
    ValidationOutcome,
    ValidationRead,
)
from driftguard.schemas import Page

router = APIRouter(prefix="/models/{model_id}/versions/{number}/validations", tags=["validation"])
Reader = Annotated[Principal, require(Permission.MODELS_READ)]
Validator = Annotated[Principal, require(Permission.VALIDATIONS_WRITE)]
FileName = Annotated[str | None, Query(max_length=255)]


@router.post("", status_code=201)
def open_validation(
    model_id: ObjectId,
    number: VersionNumber,
    body: ValidationCreate,
    session: DbSession,
    principal: Validator,
) -> ValidationRead:
    """Open a validation (scope, method, monitoring reports of this version as evidence). The
    version's creator and anyone who requested a deployment of it are refused (403), admins
    included."""
    return validations.open_validation(
        session, principal=principal, model_id=model_id, number=number, data=body
    )


@router.get("")
def list_validations(
    model_id: ObjectId,
    number: VersionNumber,
    session: DbSession,
    principal: Reader,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[ValidationRead]:
    return validations.list_validations(
        session, principal=principal, model_id=model_id, number=number, limit=limit, offset=offset
    )


@router.get("/{validation_id}")
def read_validation(
    model_id: ObjectId,
    number: VersionNumber,
    validation_id: ObjectId,
    session: DbSession,
    principal: Reader,
) -> ValidationRead:
    return validations.read(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        validation_id=validation_id,
    )


@router.post("/{validation_id}/outcome")
def record_outcome(
    model_id: ObjectId,
    number: VersionNumber,
    validation_id: ObjectId,
    body: ValidationOutcome,
    session: DbSession,
    principal: Validator,
) -> ValidationRead:
    """``approved``, ``approved_with_conditions`` (``conditions`` required) or ``rejected``;
    final (a second outcome is 409)."""
    return validations.record_outcome(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        validation_id=validation_id,
        data=body,
    )


@router.post(
    "/{validation_id}/documents",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/pdf": {},
                "text/plain": {},
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
async def upload_document(
    model_id: ObjectId,
    number: VersionNumber,
    validation_id: ObjectId,
    request: Request,
    session: DbSession,
    principal: Validator,
    filename: FileName = None,
) -> DocumentRead:
    """Attach a document of evidence to an open validation: a multipart ``file``, or the raw
    body with its ``Content-Type`` and ``?filename=``. Up to 1 MiB, of an accepted type (PDF,
    text, Markdown, CSV, JSON, PNG, JPEG, Word, Excel); stored with its SHA-256."""
    async with spooled_body(request) as spooled:
        content = await run_in_threadpool(spooled.file.read, validations.MAX_DOCUMENT_BYTES + 1)
        return await run_in_threadpool(
            lambda: validations.add_document(
                session,
                principal=principal,
                model_id=model_id,
                number=number,
                validation_id=validation_id,
                filename=spooled.filename or filename,
                content_type=spooled.content_type,
                content=content,
            )
        )


@router.get(
    "/{validation_id}/documents/{document_id}",
    response_class=Response,
    responses={
        200: {
            "content": {kind: {} for kind in sorted(validations.DOCUMENT_TYPES)},
            "description": "the document's bytes, as uploaded",
        }
    },
)
def download_document(
    model_id: ObjectId,
    number: VersionNumber,
    validation_id: ObjectId,
    document_id: ObjectId,
    session: DbSession,
    principal: Reader,
) -> Response:
    """The document's bytes as uploaded, with its SHA-256 in ``X-Content-SHA256``."""
    document = validations.document(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        validation_id=validation_id,
        document_id=document_id,
    )
    return Response(
        content=document.content,
        media_type=document.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="document-{document.id}"',
            "X-Content-SHA256": document.sha256,
        },
    )
