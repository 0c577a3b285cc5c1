"""Findings of a validation and their remediation.

    open ──► remediation_submitted ──► closed
      ▲                │
      └────────────────┘  the validator rejects the remediation

The finding's owner (or a holder of ``findings:remediate`` in the team) submits a remediation
with a note; only a validator (``findings:write``, independent of the version) closes a finding,
and only once a remediation was submitted. Every change appends a ``finding_events`` row and an
audit record in the same transaction; transitions claim the row's ``revision``, so twenty
concurrent closes take effect once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.db.base import utcnow
from driftguard.errors import (
    ConflictError,
    ErrorDetail,
    InvalidError,
    NotFoundError,
)
from driftguard.identity.orm import Membership
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.lifecycle import validations
from driftguard.lifecycle.orm import FINDING_OPEN_STATUSES, Finding, FindingEvent
from driftguard.lifecycle.schemas_validation import (
    FindingCreate,
    FindingEventRead,
    FindingRead,
    FindingUpdate,
)
from driftguard.registry.orm import ModelVersion
from driftguard.schemas import Page


@dataclass(frozen=True, slots=True)
class FindingRef:
    """Where a finding is addressed: its model, version number, validation and id (each checked
    against the others and the caller's teams before the finding is read)."""

    model_id: int
    number: int
    validation_id: int
    finding_id: int


def today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class FindingCounts:
    """A version's findings that are not closed, by severity, and how many are overdue."""

    open_low: int = 0
    open_medium: int = 0
    open_high: int = 0
    open_critical: int = 0
    overdue: int = 0


def create(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    validation_id: int,
    data: FindingCreate,
) -> FindingRead:
    model, version, validation = validations.visible(
        session, principal, model_id, number, validation_id, lock=True
    )
    principal.require_in_team(Permission.FINDINGS_WRITE, model.team_id)
    validations.require_independent(session, principal, version, "raise findings")
    _check_owner_and_due_date(session, model.team_id, data.owner_id, data.due_date)
    if validation.status != "open":
        raise ConflictError(
            f"validation {validation.id} is {validation.status}; findings are raised while it "
            "is open",
            code="invalid_transition",
        )
    finding = Finding(
        team_id=model.team_id,
        model_id=model.id,
        version_id=version.id,
        validation_id=validation.id,
        title=data.title,
        description=data.description,
        severity=data.severity,
        owner_id=data.owner_id,
        due_date=data.due_date,
        status="open",
        revision=1,
        created_by_id=principal.user_id,
    )
    session.add(finding)
    session.flush()
    _event(session, finding, principal, "create", None, "open", data.description)
    return _finish(session, principal, finding, "finding.create", before=None)


def _check_owner_and_due_date(
    session: Session, team_id: int, owner_id: int | None, due_date: date | None
) -> None:
    """422 naming each field: an owner outside the model's team, a due date in the past."""
    problems: list[ErrorDetail] = []
    if due_date is not None and due_date < today():
        problems.append(ErrorDetail("due_date", f"{due_date} is in the past"))
    if owner_id is not None:
        member = session.scalar(
            select(Membership.user_id).where(
                Membership.team_id == team_id, Membership.user_id == owner_id
            )
        )
        if member is None:
            problems.append(ErrorDetail("owner_id", "not a member of the model's team"))
    if problems:
        raise InvalidError(
            "; ".join(f"{p.loc}: {p.msg}" for p in problems),
            code="invalid_finding",
            details=problems,
        )


def update(
    session: Session,
    *,
    principal: Principal,
    ref: FindingRef,
    data: FindingUpdate,
) -> FindingRead:
    """Correct a finding that is not closed (title, description, severity, owner, due date);
    the change is history like a transition."""
    finding = _visible(session, principal, ref)
    _require_validator(session, principal, finding, "edit a finding")
    changes = data.model_dump(exclude_unset=True)
    nulls = [key for key, value in changes.items() if value is None]
    if nulls:
        raise InvalidError(
            f"{', '.join(nulls)}: may not be null",
            details=[ErrorDetail(key, "may not be null") for key in nulls],
        )
    _check_owner_and_due_date(session, finding.team_id, data.owner_id, data.due_date)
    if finding.status == "closed":
        raise ConflictError(
            f"finding {finding.id} is closed; cannot edit it (only open or "
            "remediation_submitted findings can be)",
            code="invalid_transition",
        )
    changed = {k: v for k, v in changes.items() if getattr(finding, k) != v}
    if not changed:
        return to_read(finding)  # nothing to record
    before = {**_snapshot(finding), **{k: getattr(finding, k) for k in changed}}
    validations.claim(session, finding)
    for key, value in changed.items():
        setattr(finding, key, value)
    finding.updated_at = utcnow()
    session.flush()
    what = "; ".join(f"{k}: {before[k]} → {v}" for k, v in changed.items() if k != "description")
    if "description" in changed:
        what = "; ".join(filter(None, [what, "description edited"]))
    _event(session, finding, principal, "update", finding.status, finding.status, what)
    return _finish(session, principal, finding, "finding.update", before=before)


def submit_remediation(
    session: Session,
    *,
    principal: Principal,
    ref: FindingRef,
    note: str,
) -> FindingRead:
    """``open`` → ``remediation_submitted``: the owner or a remediator, with a note."""
    finding = _visible(session, principal, ref)
    is_owner = principal.user_id is not None and principal.user_id == finding.owner_id
    if not is_owner:
        principal.require_in_team(Permission.FINDINGS_REMEDIATE, finding.team_id)
    _require_note(note, "a remediation must say what was done")
    _require_status(finding, "open", "remediation_submitted")
    before = _snapshot(finding)
    validations.claim(session, finding)
    finding.remediation_note = note.strip()
    _move(session, principal, finding, "submit_remediation", "remediation_submitted", note)
    return _finish(session, principal, finding, "finding.submit_remediation", before=before)


def reject_remediation(
    session: Session,
    *,
    principal: Principal,
    ref: FindingRef,
    note: str,
) -> FindingRead:
    """``remediation_submitted`` → ``open``: the validator does not accept it, and says why."""
    finding = _visible(session, principal, ref)
    _require_validator(session, principal, finding, "reject a remediation")
    _require_note(note, "a rejected remediation must say why")
    _require_status(finding, "remediation_submitted", "open")
    before = _snapshot(finding)
    validations.claim(session, finding)
    _move(session, principal, finding, "reject_remediation", "open", note)
    return _finish(session, principal, finding, "finding.reject_remediation", before=before)


def close(
    session: Session,
    *,
    principal: Principal,
    ref: FindingRef,
    note: str,
) -> FindingRead:
    """``remediation_submitted`` → ``closed``: only a validator, only after a remediation."""
    finding = _visible(session, principal, ref)
    _require_validator(session, principal, finding, "close a finding")
    _require_status(finding, "remediation_submitted", "closed")
    before = _snapshot(finding)
    validations.claim(session, finding)
    finding.closed_at = utcnow()
    _move(session, principal, finding, "close", "closed", note)
    return _finish(session, principal, finding, "finding.close", before=before)


def _require_validator(session: Session, principal: Principal, finding: Finding, verb: str) -> None:
    principal.require_in_team(Permission.FINDINGS_WRITE, finding.team_id)
    version = session.get(ModelVersion, finding.version_id)
    assert version is not None
    validations.require_independent(session, principal, version, verb)


def _require_note(note: str, why: str) -> None:
    if not note.strip():
        raise InvalidError(
            f"note: {why}", code="note_required", details=[ErrorDetail("note", "required")]
        )


def _require_status(finding: Finding, allowed: str, target: str) -> None:
    if finding.status != allowed:
        raise ConflictError(
            f"finding {finding.id} is {finding.status}; cannot move it to {target} "
            f"(only from {allowed})",
            code="invalid_transition",
        )


def _move(
    session: Session, principal: Principal, finding: Finding, action: str, to: str, note: str
) -> None:
    source = finding.status
    finding.status, finding.updated_at = to, utcnow()
    session.flush()
    _event(session, finding, principal, action, source, to, note)


def _event(
    session: Session,
    finding: Finding,
    principal: Principal,
    action: str,
    source: str | None,
    target: str,
    note: str,
) -> None:
    session.add(
        FindingEvent(
            finding_id=finding.id,
            action=action,
            from_status=source,
            to_status=target,
            note=note.strip(),
            actor_user_id=principal.user_id,
            actor_api_key_id=principal.api_key_id,
        )
    )
    session.flush()


def _snapshot(finding: Finding) -> dict[str, object]:
    return {"status": finding.status, "revision": finding.revision}


def _finish(
    session: Session,
    principal: Principal,
    finding: Finding,
    action: str,
    *,
    before: dict[str, object] | None,
) -> FindingRead:
    read = to_read(finding)
    audit.record(
        session,
        actor=principal,
        action=action,
        object_type="finding",
        object_id=finding.id,
        before=before,
        after={
            "status": read.status,
            "revision": read.revision,
            "severity": read.severity,
            "owner_id": read.owner_id,
            "due_date": read.due_date.isoformat(),
        },
    )
    return read


# --- reading ----------------------------------------------------------------------------------


def to_read(finding: Finding, *, on: date | None = None) -> FindingRead:
    overdue = finding.status in FINDING_OPEN_STATUSES and finding.due_date < (on or today())
    return FindingRead.model_validate({**_columns(finding), "overdue": overdue})


def _columns(finding: Finding) -> dict[str, object]:
    return {c.key: getattr(finding, c.key) for c in Finding.__mapper__.column_attrs}


def _visible(
    session: Session,
    principal: Principal,
    ref: FindingRef,
) -> Finding:
    """The finding, locked for a transition (row lock on PostgreSQL), if the caller may see it."""
    query = _addressed(session, principal, ref)
    return _one(session, ref, query.with_for_update().execution_options(populate_existing=True))


def read(
    session: Session,
    *,
    principal: Principal,
    ref: FindingRef,
) -> FindingRead:
    """The finding, if the caller may see it."""
    return to_read(_one(session, ref, _addressed(session, principal, ref)))


def _addressed(session: Session, principal: Principal, ref: FindingRef) -> Select[Finding]:
    validations.visible(session, principal, ref.model_id, ref.number, ref.validation_id)
    return select(Finding).where(
        Finding.id == ref.finding_id, Finding.validation_id == ref.validation_id
    )


def _one(session: Session, ref: FindingRef, query: Select[Finding]) -> Finding:
    finding = session.scalar(query)
    if finding is None:
        raise NotFoundError(f"validation {ref.validation_id} has no finding {ref.finding_id}")
    return finding


def list_for_validation(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    validation_id: int,
    limit: int,
    offset: int,
) -> Page[FindingRead]:
    validations.visible(session, principal, model_id, number, validation_id)
    query = select(Finding).where(Finding.validation_id == validation_id)
    return _page(session, query.order_by(Finding.id), query, limit, offset)


def list_findings(
    session: Session,
    *,
    principal: Principal,
    statuses: Collection[str] | None,
    severities: Collection[str] | None,
    model_id: int | None,
    overdue: bool | None,
    limit: int,
    offset: int,
) -> Page[FindingRead]:
    """Findings of the caller's teams (in SQL), earliest due first. ``overdue=true``: not
    closed and due before today; ``overdue=false``: the others."""
    query = select(Finding)
    teams = principal.teams_with(Permission.MODELS_READ)
    if teams is not None:
        query = query.where(Finding.team_id.in_(teams))
    if statuses:
        query = query.where(Finding.status.in_(list(statuses)))
    if severities:
        query = query.where(Finding.severity.in_(list(severities)))
    if model_id is not None:
        query = query.where(Finding.model_id == model_id)
    is_overdue = and_(Finding.status.in_(FINDING_OPEN_STATUSES), Finding.due_date < today())
    if overdue is True:
        query = query.where(is_overdue)
    elif overdue is False:
        query = query.where(~is_overdue)
    return _page(session, query.order_by(Finding.due_date, Finding.id), query, limit, offset)


def _page(
    session: Session,
    ordered: Select[Finding],
    query: Select[Finding],
    limit: int,
    offset: int,
) -> Page[FindingRead]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(ordered.limit(limit).offset(offset)).all()
    on = today()
    return Page(items=[to_read(f, on=on) for f in rows], total=total, limit=limit, offset=offset)


def history(
    session: Session,
    *,
    principal: Principal,
    ref: FindingRef,
    limit: int,
    offset: int,
) -> Page[FindingEventRead]:
    finding = read(session, principal=principal, ref=ref)
    query = select(FindingEvent).where(FindingEvent.finding_id == finding.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(FindingEvent.id).limit(limit).offset(offset)).all()
    return Page(
        items=[FindingEventRead.model_validate(e) for e in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def counts_by_version(
    session: Session, version_ids: Collection[int], *, on: date | None = None
) -> dict[int, FindingCounts]:
    """Each version's findings that are not closed, by severity, and the overdue ones, in one
    query; versions without such findings are absent. For governance's policy facts
    (``findings.open_high``, ``findings.open_critical``, ``findings.overdue``)."""
    ids = sorted(set(version_ids))
    if not ids:
        return {}
    day = on or today()

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    rows = session.execute(
        select(
            Finding.version_id,
            count(Finding.severity == "low"),
            count(Finding.severity == "medium"),
            count(Finding.severity == "high"),
            count(Finding.severity == "critical"),
            count(Finding.due_date < day),
        )
        .where(Finding.version_id.in_(ids), Finding.status.in_(FINDING_OPEN_STATUSES))
        .group_by(Finding.version_id)
    )
    return {
        version_id: FindingCounts(int(low), int(medium), int(high), int(critical), int(late))
        for version_id, low, medium, high, critical, late in rows
    }
