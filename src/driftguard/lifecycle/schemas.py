"""Schemas of the model-risk lifecycle."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from driftguard.schemas import CreateSchema, Id, LongText, ReadSchema, ShortText, Timestamp

# --- model cards --------------------------------------------------------------------------------


class LifecycleStatus(StrEnum):
    DEVELOPMENT = "development"
    VALIDATION = "validation"
    APPROVED = "approved"
    PRODUCTION = "production"
    RETIRED = "retired"


class AiActClass(StrEnum):
    """The EU AI Act's risk classes (Reg. 2024/1689: Art. 5, Art. 6 with Annex III, Art. 50)."""

    PROHIBITED = "prohibited"
    HIGH = "high"
    LIMITED = "limited"
    MINIMAL = "minimal"


class AnnexIIIArea(StrEnum):
    """The eight areas of Annex III whose systems are high-risk (Art. 6(2))."""

    BIOMETRICS = "biometrics"
    CRITICAL_INFRASTRUCTURE = "critical_infrastructure"
    EDUCATION = "education"
    EMPLOYMENT = "employment"
    ESSENTIAL_SERVICES = "essential_services"
    LAW_ENFORCEMENT = "law_enforcement"
    MIGRATION = "migration"
    JUSTICE_DEMOCRACY = "justice_democracy"


MAX_SECTIONS = 20
MAX_SECTION_CHARS = 20_000
MAX_DATA_SOURCES = 50

SectionTitle = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$"
    ),
]
SectionText = Annotated[str, StringConstraints(max_length=MAX_SECTION_CHARS, pattern=r"^[^\x00]*$")]
Sections = Annotated[
    dict[SectionTitle, SectionText],
    Field(max_length=MAX_SECTIONS, description="free-form sections: title → markdown text"),
]
DataSource = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]*$"
    ),
]


class ModelCardContent(CreateSchema):
    """What a model's card says: the inventory record that holds for every version.

    ``lifecycle_status`` omitted keeps the current status (``development`` for a first card).
    Checks across fields (the vendor, the Annex III area, the owner's membership) are the
    service's: they name the field in a 422 like any other.
    """

    owner_id: Id | None = None
    business_use: LongText = ""
    intended_use: LongText = ""
    out_of_scope_uses: LongText = ""
    known_limitations: LongText = ""
    data_sources: Annotated[list[DataSource], Field(max_length=MAX_DATA_SOURCES)] = Field(
        default_factory=list
    )
    third_party: bool = False
    vendor_name: ShortText | None = None
    lifecycle_status: LifecycleStatus | None = None
    ai_act_class: AiActClass | None = None
    annex_iii_area: AnnexIIIArea | None = None
    sections: Sections = Field(default_factory=dict)


class VersionCardContent(CreateSchema):
    """What a version's card says: what holds for this version only."""

    changes: LongText = Field("", description="what changed since the previous version")
    training_data_start: Timestamp | None = None
    training_data_end: Timestamp | None = None
    evaluation_summary: LongText = ""
    known_limitations: LongText = ""
    sections: Sections = Field(default_factory=dict)


class Completeness(ReadSchema):
    complete: bool
    missing: list[str]


class ModelCardRead(ModelCardContent):
    """A revision of a model's card (the current one, or one of its history)."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)

    model_id: int
    revision: int
    content_hash: str
    lifecycle_status: LifecycleStatus
    complete: bool
    missing: list[str]
    created_by_id: int | None
    created_by_api_key_id: int | None
    created_at: datetime


class VersionCardRead(VersionCardContent):
    model_config = ConfigDict(extra="ignore", from_attributes=True)

    model_id: int
    version: int
    version_id: int
    revision: int
    content_hash: str
    complete: bool
    missing: list[str]
    created_by_id: int | None
    created_by_api_key_id: int | None
    created_at: datetime


# --- retention floor (retention.py) -------------------------------------------------------------

RetentionReason = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=10, max_length=2_000, pattern=r"^[^\x00]*$"
    ),
]


class RetentionExceptionCreate(CreateSchema):
    """An exception to the retention floor: why, and until when (required; at most a year)."""

    reason: RetentionReason = Field(
        description="why a retention shorter than the floor is acceptable for this model "
        "(for example the legal basis, or that the deployer keeps the logs elsewhere)"
    )
    expires_at: Timestamp = Field(description="when the exception lapses; in the future")


class RetentionExceptionRead(ReadSchema):
    id: int
    model_id: int
    reason: str
    expires_at: datetime
    created_by_id: int | None
    created_by_api_key_id: int | None
    created_at: datetime
    withdrawn_at: datetime | None
    withdrawn_by_id: int | None
    withdrawn_by_api_key_id: int | None
    status: str = Field(description="in_force, expired or withdrawn")


class RetentionRead(ReadSchema):
    """A model's retention: whether the floor applies to it, and the exception in force."""

    model_id: int
    high_risk: bool = Field(description="the model's card classifies it EU AI Act high")
    floor_days: int
    floor_applies: bool = Field(description="high-risk and no exception in force")
    prediction_retention_days: int = Field(
        description="DRIFTGUARD_PREDICTION_RETENTION_DAYS (0: kept forever)"
    )
    effective_prediction_retention_days: int = Field(
        description="what the purge applies to this model's versions (0: kept forever)"
    )
    exception: RetentionExceptionRead | None
    history: list[RetentionExceptionRead]


# --- periodic reviews ---------------------------------------------------------------------------


class ReviewConclusion(StrEnum):
    SATISFACTORY = "satisfactory"
    NEEDS_REMEDIATION = "needs_remediation"
    UNSATISFACTORY = "unsatisfactory"


class ReviewSide(StrEnum):
    OWNER = "owner"
    VALIDATOR = "validator"


class ReviewStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


MAX_EVIDENCE_REPORTS = 100


class ReviewEvidence(CreateSchema):
    """What the attesting person looked at: monitoring reports of the version, and notes."""

    report_ids: Annotated[list[Id], Field(max_length=MAX_EVIDENCE_REPORTS)] = Field(
        default_factory=list
    )
    notes: LongText = ""


class ReviewAttest(CreateSchema):
    """One attestation: opens a review, or (``…/reviews/{id}/attest``) completes it. ``side``
    defaults to the one the caller may attest (validator for a validator of the team)."""

    conclusion: ReviewConclusion
    side: ReviewSide | None = None
    evidence: ReviewEvidence = Field(default_factory=ReviewEvidence)


class AttestationRead(ReadSchema):
    side: ReviewSide
    user_id: int | None
    conclusion: ReviewConclusion
    attested_at: datetime
    evidence: ReviewEvidence


class ReviewRead(ReadSchema):
    id: int
    team_id: int
    model_id: int
    version_id: int
    version: int
    status: ReviewStatus
    conclusion: ReviewConclusion | None
    owner: AttestationRead | None
    validator: AttestationRead | None
    created_at: datetime
    completed_at: datetime | None
