"""What the incident routes take and return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from driftguard.schemas import CreateSchema, Id, LongText, ReadSchema, Timestamp

Severity = Literal["low", "medium", "high", "critical"]
# EU AI Act Art. 73: the category decides the reporting deadline (see settings).
SeriousCategory = Literal[
    "death_or_serious_harm_to_health",
    "widespread_infringement",
    "critical_infrastructure_disruption",
    "other_serious",
]
IncidentStatus = Literal["open", "reported", "closed"]
# What people write; transitions write their own kinds (created, reported, closed,
# deadline_missed).
EntryKind = Literal["note", "investigation", "mitigation", "communication", "root_cause"]

_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_ONE_LINE)
]
Reference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=_ONE_LINE)
]
Text = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=10_000, pattern=r"^[^\x00]*$"
    ),
]
MAX_LINKS = 100


class IncidentCreate(CreateSchema):
    """A serious incident needs its category and a non-serious one has none; awareness lies
    between the occurrence and now (checked by the service, each naming its field)."""

    model_id: Id
    version: Annotated[int, Field(ge=1, le=2**31 - 1)]
    title: Title
    description: LongText = ""
    severity: Severity
    serious: bool = False
    category: SeriousCategory | None = None
    occurred_at: Timestamp
    became_aware_at: Timestamp
    alert_ids: Annotated[list[Id], Field(default_factory=list, max_length=MAX_LINKS)]
    deployment_ids: Annotated[list[Id], Field(default_factory=list, max_length=MAX_LINKS)]


class IncidentReport(CreateSchema):
    """The report to the authority: its reference, and when it was sent (default: now)."""

    authority_reference: Reference
    reported_at: Timestamp | None = None


class IncidentClose(CreateSchema):
    resolution: Text


class IncidentEntryCreate(CreateSchema):
    kind: EntryKind
    text: Text


class IncidentRead(ReadSchema):
    id: int
    team_id: int
    model_id: int
    version_id: int
    version: int
    title: str
    description: str
    severity: Severity
    serious: bool
    category: SeriousCategory | None
    status: IncidentStatus
    revision: int
    occurred_at: datetime
    became_aware_at: datetime
    reporting_deadline: datetime | None
    reported_at: datetime | None
    authority_reference: str | None
    closed_at: datetime | None
    resolution: str | None
    # Not reported and past its deadline, or reported after it (as of the read).
    late: bool
    alert_ids: list[int]
    deployment_ids: list[int]
    created_by_id: int | None
    created_by_api_key_id: int | None
    created_at: datetime
    updated_at: datetime


class IncidentEntryRead(ReadSchema):
    id: int
    incident_id: int
    kind: str
    text: str
    from_status: str | None
    to_status: str | None
    author_user_id: int | None
    author_api_key_id: int | None
    created_at: datetime
