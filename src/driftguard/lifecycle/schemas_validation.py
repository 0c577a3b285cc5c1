"""Schemas of independent validation and its findings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from driftguard.schemas import CreateSchema, Id, LongText, ReadSchema, UpdateSchema

# Free text that must say something (no NUL: PostgreSQL cannot store it).
Statement = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=10_000, pattern=r"^[^\x00]*$"
    ),
]
Title = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$"
    ),
]
Outcome = Literal["approved", "approved_with_conditions", "rejected"]
ValidationStatus = Literal["open", "approved", "approved_with_conditions", "rejected"]
Severity = Literal["low", "medium", "high", "critical"]
FindingStatus = Literal["open", "remediation_submitted", "closed"]


class ValidationCreate(CreateSchema):
    scope: Statement
    method: Statement
    # Monitoring reports of this version cited as evidence.
    report_ids: Annotated[list[Id], Field(max_length=100, default_factory=list)]


class ValidationOutcome(CreateSchema):
    outcome: Outcome
    # Required with ``approved_with_conditions``.
    conditions: LongText = ""
    note: LongText = ""


class EvidenceReportRead(ReadSchema):
    report_id: int
    kind: str
    window_start: datetime
    window_end: datetime
    # False once report retention has purged the report (what it was stays on record).
    available: bool


class DocumentRead(ReadSchema):
    id: int
    validation_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by_id: int | None
    created_at: datetime


class ValidationRead(ReadSchema):
    id: int
    team_id: int
    model_id: int
    version_id: int
    version: int
    status: ValidationStatus
    revision: int
    scope: str
    method: str
    conditions: str
    outcome_note: str
    opened_by_id: int | None
    decided_by_id: int | None
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    reports: list[EvidenceReportRead]
    documents: list[DocumentRead]


class FindingCreate(CreateSchema):
    title: Title
    description: LongText = ""
    severity: Severity
    # A member of the model's team.
    owner_id: Id
    # Today or later.
    due_date: date


class FindingUpdate(UpdateSchema):
    """The fields a validator may correct while the finding is not closed (absent: unchanged)."""

    title: Title | None = None
    description: LongText | None = None
    severity: Severity | None = None
    owner_id: Id | None = None
    due_date: date | None = None


class FindingNote(CreateSchema):
    note: LongText = ""


class FindingRead(ReadSchema):
    id: int
    team_id: int
    model_id: int
    version_id: int
    validation_id: int
    title: str
    description: str
    severity: Severity
    owner_id: int | None
    due_date: date
    status: FindingStatus
    revision: int
    remediation_note: str
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    overdue: bool


class FindingEventRead(ReadSchema):
    id: int
    finding_id: int
    action: str
    from_status: str | None
    to_status: str
    note: str
    actor_user_id: int | None
    actor_api_key_id: int | None
    at: datetime
