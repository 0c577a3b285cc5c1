"""Independent validation of a model version (SR 11-7 "effective challenge", PRA SS1/23
principle 4).

    open ──► approved | approved_with_conditions | rejected      (final)

Independence is enforced, not advised: whoever created the version or requested any deployment
of it cannot open a validation of it, add evidence, record its outcome or raise, close or reopen
its findings (403 naming the rule). Platform admins are not exempt, and API keys cannot validate
(a key acts for a team, not for an independent person). Transitions claim the row's
``revision`` (a conditional update), so concurrent outcomes take effect once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from sqlalchemy import column, func, select, table, update
from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.db.base import utcnow
from driftguard.errors import (
    ConflictError,
    ErrorDetail,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    TooLargeError,
)
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle.orm import (
    Finding,
    Validation,
    ValidationDocument,
    ValidationReport,
)
from driftguard.lifecycle.schemas_validation import (
    DocumentRead,
    EvidenceReportRead,
    ValidationCreate,
    ValidationOutcome,
    ValidationRead,
)
from driftguard.monitoring.orm import MonitoringReport
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.schemas import Page

MAX_DOCUMENT_BYTES = 1_048_576
DOCUMENT_TYPES = frozenset(
    {
        "application/pdf",
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/json",
        "image/png",
        "image/jpeg",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
)

# Deployments live in governance/, above this package; independence only needs who requested
# a deployment of a version, so it reads those two columns of the table by name.
_DEPLOYMENTS = table("deployments", column("version_id"), column("requested_by_id"))


# --- independence ------------------------------------------------------------------------------


def require_independent(
    session: Session, principal: Principal, version: ModelVersion, verb: str
) -> None:
    """Refuse (403) whoever created ``version`` or requested a deployment of it; admins too."""
    if principal.user_id is None:
        raise ForbiddenError(
            f"independence: a validator must {verb} in person; API keys cannot validate",
            code="independence",
        )
    if version.created_by_id == principal.user_id:
        raise ForbiddenError(
            f"independence: you created this version (version {version.number}); "
            f"someone independent of it must {verb}",
            code="independence",
        )
    requested = session.scalar(
        select(_DEPLOYMENTS.c.version_id)
        .where(
            _DEPLOYMENTS.c.version_id == version.id,
            _DEPLOYMENTS.c.requested_by_id == principal.user_id,
        )
        .limit(1)
    )
    if requested is not None:
        raise ForbiddenError(
            f"independence: you requested a deployment of this version (version "
            f"{version.number}); someone independent of it must {verb}",
            code="independence",
        )


# --- transitions -------------------------------------------------------------------------------


def claim(session: Session, row: Validation | Finding) -> None:
    """Take ``row`` for this transaction, or fail if another one changed it since it was read."""
    entity = type(row)
    claimed = session.execute(
        update(entity)
        .where(entity.id == row.id, entity.revision == row.revision)
        .values(revision=row.revision + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        raise ConflictError(
            f"{entity.__tablename__[:-1]} {row.id} was changed by another request; "
            "reload and retry",
            code="concurrent_change",
        )
    session.refresh(row)


def open_validation(
    session: Session, *, principal: Principal, model_id: int, number: int, data: ValidationCreate
) -> ValidationRead:
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    principal.require_in_team(Permission.VALIDATIONS_WRITE, model.team_id)
    require_independent(session, principal, version, "validate it")
    reports = _cited_reports(session, version, data.report_ids)
    validation = Validation(
        team_id=model.team_id,
        model_id=model.id,
        version_id=version.id,
        status="open",
        revision=1,
        scope=data.scope,
        method=data.method,
        opened_by_id=principal.user_id,
    )
    session.add(validation)
    session.flush()
    session.add_all(
        ValidationReport(
            validation_id=validation.id,
            report_id=r.id,
            cited_report_id=r.id,
            kind=r.kind,
            window_start=r.window_start,
            window_end=r.window_end,
        )
        for r in reports
    )
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="validation.open",
        object_type="validation",
        object_id=validation.id,
        after={
            "model_id": model.id,
            "version": version.number,
            "status": validation.status,
            "report_ids": [r.id for r in reports],
        },
    )
    return _reads(session, [validation])[0]


def _cited_reports(
    session: Session, version: ModelVersion, report_ids: list[int]
) -> list[MonitoringReport]:
    wanted = list(dict.fromkeys(report_ids))
    if not wanted:
        return []
    found = {
        r.id: r
        for r in session.scalars(
            select(MonitoringReport).where(
                MonitoringReport.id.in_(wanted), MonitoringReport.version_id == version.id
            )
        )
    }
    missing = [i for i in wanted if i not in found]
    if missing:
        raise InvalidError(
            f"report_ids: no report {', '.join(map(str, missing))} of version {version.number}",
            code="unknown_report",
            details=[
                ErrorDetail(f"report_ids.{wanted.index(i)}", "no such report of this version")
                for i in missing
            ],
        )
    return [found[i] for i in wanted]


def record_outcome(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    validation_id: int,
    data: ValidationOutcome,
) -> ValidationRead:
    """``open`` → the outcome, once; ``approved_with_conditions`` must state the conditions."""
    model, version, validation = visible(
        session, principal, model_id, number, validation_id, lock=True
    )
    principal.require_in_team(Permission.VALIDATIONS_WRITE, model.team_id)
    require_independent(session, principal, version, "record its outcome")
    require_open(validation, data.outcome)
    if data.outcome == "approved_with_conditions" and not data.conditions.strip():
        raise InvalidError(
            "conditions: an approval with conditions must state them",
            code="conditions_required",
            details=[ErrorDetail("conditions", "required for approved_with_conditions")],
        )
    before = {"status": validation.status, "revision": validation.revision}
    claim(session, validation)
    now = utcnow()
    validation.status = data.outcome
    validation.conditions = data.conditions.strip()
    validation.outcome_note = data.note
    validation.decided_by_id = principal.user_id
    validation.decided_at = validation.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="validation.outcome",
        object_type="validation",
        object_id=validation.id,
        before=before,
        after={"status": validation.status, "revision": validation.revision},
    )
    return _reads(session, [validation])[0]


def require_open(validation: Validation, target: str) -> None:
    """409 naming both states unless ``validation`` is still open."""
    if validation.status != "open":
        raise ConflictError(
            f"validation {validation.id} is {validation.status}; cannot move it to {target} "
            "(only an open validation can)",
            code="invalid_transition",
        )


def add_document(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    validation_id: int,
    filename: str | None,
    content_type: str | None,
    content: bytes,
) -> DocumentRead:
    """Store a small evidence document whole, with its SHA-256, on an open validation."""
    model, version, validation = visible(
        session, principal, model_id, number, validation_id, lock=True
    )
    principal.require_in_team(Permission.VALIDATIONS_WRITE, model.team_id)
    require_independent(session, principal, version, "add evidence")
    name = (filename or "").strip()
    if not name or len(name) > 255 or any(ord(c) < 32 or c in "/\\" for c in name):
        raise InvalidError(
            "filename: name the document (up to 255 characters, no path or control characters)",
            code="invalid_filename",
            details=[ErrorDetail("filename", "required: a plain file name")],
        )
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in DOCUMENT_TYPES:
        raise InvalidError(
            f"content_type: {kind or 'none'} is not accepted; one of "
            f"{', '.join(sorted(DOCUMENT_TYPES))}",
            code="unsupported_document",
            details=[ErrorDetail("content_type", "not an accepted document type")],
        )
    if len(content) > MAX_DOCUMENT_BYTES:
        raise TooLargeError(
            f"document: {len(content)} bytes; at most {MAX_DOCUMENT_BYTES}",
            code="document_too_large",
        )
    if not content:
        raise InvalidError("document: the body is empty", details=[ErrorDetail("file", "empty")])
    if validation.status != "open":
        raise ConflictError(
            f"validation {validation.id} is {validation.status}; evidence is added while it is "
            "open",
            code="invalid_transition",
        )
    document = ValidationDocument(
        validation_id=validation.id,
        filename=name,
        content_type=kind,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by_id=principal.user_id,
    )
    session.add(document)
    session.flush()
    read = DocumentRead.model_validate(document)
    audit.record(
        session,
        actor=principal,
        action="validation.document",
        object_type="validation",
        object_id=validation.id,
        after={"document_id": document.id, "filename": name, "sha256": document.sha256},
    )
    return read


def document(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    validation_id: int,
    document_id: int,
) -> ValidationDocument:
    _, _, validation = visible(session, principal, model_id, number, validation_id)
    found = session.scalar(
        select(ValidationDocument).where(
            ValidationDocument.id == document_id,
            ValidationDocument.validation_id == validation.id,
        )
    )
    if found is None:
        raise NotFoundError(f"validation {validation_id} has no document {document_id}")
    return found


# --- reading ----------------------------------------------------------------------------------


def visible(
    session: Session,
    principal: Principal,
    model_id: int,
    number: int,
    validation_id: int,
    *,
    lock: bool = False,
) -> tuple[RegisteredModel, ModelVersion, Validation]:
    """The validation if the caller may see its model (else 404). ``lock`` takes the row lock
    on PostgreSQL, so concurrent transitions queue, then find the state changed."""
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    query = select(Validation).where(
        Validation.id == validation_id, Validation.version_id == version.id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    validation = session.scalar(query)
    if validation is None:
        raise NotFoundError(f"version {number} has no validation {validation_id}")
    return model, version, validation


def read(
    session: Session, *, principal: Principal, model_id: int, number: int, validation_id: int
) -> ValidationRead:
    _, _, validation = visible(session, principal, model_id, number, validation_id)
    return _reads(session, [validation])[0]


def list_validations(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    limit: int,
    offset: int,
) -> Page[ValidationRead]:
    """A version's validations, newest first."""
    _, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    query = select(Validation).where(Validation.version_id == version.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Validation.id.desc()).limit(limit).offset(offset)))
    return Page(items=_reads(session, rows), total=total, limit=limit, offset=offset)


def _reads(session: Session, validations: list[Validation]) -> list[ValidationRead]:
    ids = [v.id for v in validations]
    reports: dict[int, list[EvidenceReportRead]] = {}
    documents: dict[int, list[DocumentRead]] = {}
    if ids:
        for cited in session.scalars(
            select(ValidationReport)
            .where(ValidationReport.validation_id.in_(ids))
            .order_by(ValidationReport.id)
        ):
            reports.setdefault(cited.validation_id, []).append(
                EvidenceReportRead(
                    report_id=cited.cited_report_id,
                    kind=cited.kind,
                    window_start=cited.window_start,
                    window_end=cited.window_end,
                    available=cited.report_id is not None,
                )
            )
        # The documents' bytes are not read here.
        for row in session.execute(
            select(
                ValidationDocument.id,
                ValidationDocument.validation_id,
                ValidationDocument.filename,
                ValidationDocument.content_type,
                ValidationDocument.size,
                ValidationDocument.sha256,
                ValidationDocument.uploaded_by_id,
                ValidationDocument.created_at,
            )
            .where(ValidationDocument.validation_id.in_(ids))
            .order_by(ValidationDocument.id)
        ):
            documents.setdefault(row.validation_id, []).append(DocumentRead.model_validate(row))
    numbers = dict(
        session.execute(
            select(ModelVersion.id, ModelVersion.number).where(
                ModelVersion.id.in_({v.version_id for v in validations})
            )
        ).all()
    )
    return [
        ValidationRead(
            id=v.id,
            team_id=v.team_id,
            model_id=v.model_id,
            version_id=v.version_id,
            version=numbers[v.version_id],
            status=v.status,
            revision=v.revision,
            scope=v.scope,
            method=v.method,
            conditions=v.conditions,
            outcome_note=v.outcome_note,
            opened_by_id=v.opened_by_id,
            decided_by_id=v.decided_by_id,
            created_at=v.created_at,
            updated_at=v.updated_at,
            decided_at=v.decided_at,
            reports=reports.get(v.id, []),
            documents=documents.get(v.id, []),
        )
        for v in validations
    ]


def status_by_version(session: Session, version_ids: Collection[int]) -> dict[int, str]:
    """The status of each version's latest validation, in one query; versions never validated
    are absent. For governance's policy facts (``validation.status``)."""
    ids = sorted(set(version_ids))
    if not ids:
        return {}
    latest = (
        select(func.max(Validation.id).label("id"))
        .where(Validation.version_id.in_(ids))
        .group_by(Validation.version_id)
        .subquery()
    )
    rows = session.execute(
        select(Validation.version_id, Validation.status).join(latest, latest.c.id == Validation.id)
    )
    return dict(rows.all())
