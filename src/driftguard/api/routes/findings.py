"""Findings of a validation, their remediation and history, and the team-scoped findings list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from driftguard.api.deps import require
from driftguard.http.deps import DbSession
from driftguard.http.params import IdQuery, LimitQuery, ObjectId, OffsetQuery, VersionNumber
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle import findings
from driftguard.lifecycle.schemas_validation import (
    FindingCreate,
    FindingEventRead,
    FindingNote,
    FindingRead,
    FindingStatus,
    FindingUpdate,
    Severity,
)
from driftguard.schemas import Page

router = APIRouter(tags=["validation"])
PREFIX = "/models/{model_id}/versions/{number}/validations/{validation_id}/findings"
Reader = Annotated[Principal, require(Permission.MODELS_READ)]
Validator = Annotated[Principal, require(Permission.FINDINGS_WRITE)]


def _addressed(
    model_id: ObjectId, number: VersionNumber, validation_id: ObjectId, finding_id: ObjectId
) -> findings.FindingRef:
    return findings.FindingRef(model_id, number, validation_id, finding_id)


# The four path parameters that address one finding.
Addressed = Annotated[findings.FindingRef, Depends(_addressed)]


@router.get("/findings")
def list_findings(
    session: DbSession,
    principal: Reader,
    status: Annotated[list[FindingStatus] | None, Query(max_length=3)] = None,
    severity: Annotated[list[Severity] | None, Query(max_length=4)] = None,
    model_id: IdQuery = None,
    overdue: bool | None = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[FindingRead]:
    """Findings of the caller's teams, earliest due first. ``status=open&overdue=true``: the
    open findings past their due date (``overdue`` counts every finding not yet closed)."""
    return findings.list_findings(
        session,
        principal=principal,
        statuses=status,
        severities=severity,
        model_id=model_id,
        overdue=overdue,
        limit=limit,
        offset=offset,
    )


@router.post(PREFIX, status_code=201)
def create_finding(
    model_id: ObjectId,
    number: VersionNumber,
    validation_id: ObjectId,
    body: FindingCreate,
    session: DbSession,
    principal: Validator,
) -> FindingRead:
    """Raise a finding on an open validation: the owner must be a member of the model's team
    and the due date today or later (else 422)."""
    return findings.create(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        validation_id=validation_id,
        data=body,
    )


@router.get(PREFIX)
def list_validation_findings(
    model_id: ObjectId,
    number: VersionNumber,
    validation_id: ObjectId,
    session: DbSession,
    principal: Reader,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[FindingRead]:
    return findings.list_for_validation(
        session,
        principal=principal,
        model_id=model_id,
        number=number,
        validation_id=validation_id,
        limit=limit,
        offset=offset,
    )


@router.get(PREFIX + "/{finding_id}")
def read_finding(
    ref: Addressed,
    session: DbSession,
    principal: Reader,
) -> FindingRead:
    return findings.read(
        session,
        principal=principal,
        ref=ref,
    )


@router.patch(PREFIX + "/{finding_id}")
def update_finding(
    ref: Addressed,
    body: FindingUpdate,
    session: DbSession,
    principal: Validator,
) -> FindingRead:
    """Correct the title, description, severity, owner or due date of a finding that is not
    closed (409 once closed); the same checks as on creation, and a history row."""
    return findings.update(
        session,
        principal=principal,
        ref=ref,
        data=body,
    )


@router.get(PREFIX + "/{finding_id}/history")
def finding_history(
    ref: Addressed,
    session: DbSession,
    principal: Reader,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> Page[FindingEventRead]:
    return findings.history(
        session,
        principal=principal,
        ref=ref,
        limit=limit,
        offset=offset,
    )


@router.post(PREFIX + "/{finding_id}/remediation")
def submit_remediation(
    ref: Addressed,
    body: FindingNote,
    session: DbSession,
    principal: Reader,
) -> FindingRead:
    """``open`` → ``remediation_submitted``: the finding's owner or a holder of
    ``findings:remediate`` in the team, with a note (422 without)."""
    return findings.submit_remediation(
        session,
        principal=principal,
        ref=ref,
        note=body.note,
    )


@router.post(PREFIX + "/{finding_id}/reopen")
def reject_remediation(
    ref: Addressed,
    body: FindingNote,
    session: DbSession,
    principal: Validator,
) -> FindingRead:
    """``remediation_submitted`` → ``open``: the validator rejects the remediation, saying why."""
    return findings.reject_remediation(
        session,
        principal=principal,
        ref=ref,
        note=body.note,
    )


@router.post(PREFIX + "/{finding_id}/close")
def close_finding(
    ref: Addressed,
    body: FindingNote,
    session: DbSession,
    principal: Validator,
) -> FindingRead:
    """``remediation_submitted`` → ``closed`` (409 from any other state)."""
    return findings.close(
        session,
        principal=principal,
        ref=ref,
        note=body.note,
    )
