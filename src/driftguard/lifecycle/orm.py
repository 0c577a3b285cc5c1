"""Tables of the model-risk lifecycle."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from driftguard.db.base import Base, BigId, IdMixin, JsonDocument, UTCDateTime, utcnow

# --- model cards (cards.py) ---------------------------------------------------------------------
# A card is a head row (the current revision, what is read often: the lifecycle status, whether
# the card is complete) and its immutable revisions. Writers of one model's cards are serialised
# (the model row's lock on PostgreSQL; SQLite writers already are), and each write is a
# conditional update of the head's revision, so no two writes make the same revision.


class ModelCard(Base):
    """A model's current card: its revision, content hash, lifecycle status and completeness."""

    __tablename__ = "model_cards"

    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    lifecycle_status: Mapped[str] = mapped_column(String(16), index=True)
    complete: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ModelCardRevision(IdMixin, Base):
    """One immutable revision of a model's card: its content, who wrote it and when."""

    __tablename__ = "model_card_revisions"
    __table_args__ = (UniqueConstraint("model_id", "number"),)

    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    lifecycle_status: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_by_api_key_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VersionCard(Base):
    """A version's current card: its revision, content hash and completeness."""

    __tablename__ = "version_cards"

    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    complete: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VersionCardRevision(IdMixin, Base):
    """One immutable revision of a version's card."""

    __tablename__ = "version_card_revisions"
    __table_args__ = (UniqueConstraint("version_id", "number"),)

    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_by_api_key_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- independent validation and findings -----------------------------------
# Kept in one block so the other lifecycle tables can be appended beside it without conflicts.

# A finding counts as open until a validator closes it (a submitted remediation is not yet
# accepted).
FINDING_OPEN_STATUSES = ("open", "remediation_submitted")


class Validation(IdMixin, Base):
    """An independent validation of one model version: ``open`` until its outcome, then final.

    ``revision`` changes with every transition; a transition is a conditional update on the
    revision it read, so concurrent outcomes take effect once.
    """

    __tablename__ = "validations"
    __table_args__ = (
        # The latest validation of each version (``status_by_version``), and a version's list.
        Index("ix_validations_version_id_id", "version_id", "id"),
        Index("ix_validations_team_id_status", "team_id", "status"),
    )

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    # open | approved | approved_with_conditions | rejected
    status: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    scope: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(Text)
    conditions: Mapped[str] = mapped_column(Text, default="")
    outcome_note: Mapped[str] = mapped_column(Text, default="")
    opened_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ValidationReport(IdMixin, Base):
    """A monitoring report of the version cited as evidence. What it was (kind and window) is
    copied, so the evidence still names it after report retention has purged the report."""

    __tablename__ = "validation_reports"

    validation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("validations.id", ondelete="CASCADE"), index=True
    )
    report_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("monitoring_reports.id", ondelete="SET NULL"), nullable=True, index=True
    )
    cited_report_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())


class ValidationDocument(IdMixin, Base):
    """A small document uploaded as evidence, stored whole with its SHA-256."""

    __tablename__ = "validation_documents"

    validation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("validations.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Finding(IdMixin, Base):
    """A validation finding: ``open → remediation_submitted → closed``, and back to ``open``
    when the validator rejects the remediation. Transitions claim ``revision``."""

    __tablename__ = "findings"
    __table_args__ = (
        # The overdue list: open findings by due date.
        Index("ix_findings_status_due_date", "status", "due_date"),
        Index("ix_findings_team_id_status_due_date", "team_id", "status", "due_date"),
        Index("ix_findings_version_id_status", "version_id", "status"),
    )

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    validation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("validations.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(16))  # low | medium | high | critical
    owner_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(32))  # open | remediation_submitted | closed
    revision: Mapped[int] = mapped_column(Integer, default=1)
    remediation_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class FindingEvent(IdMixin, Base):
    """One change of a finding: who, when, from which status to which, and the note."""

    __tablename__ = "finding_events"

    finding_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("findings.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    actor_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    actor_api_key_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- Incidents (EU AI Act Art. 73) -------------------------------------------------------------


class Incident(IdMixin, Base):
    """An incident of a model version: ``open → reported → closed`` (``open → closed`` only when
    not serious). A serious one carries its Art. 73 category and the reporting deadline computed
    from it when it was recorded. ``revision`` changes with every transition (a conditional
    update, as deployments do), so concurrent reports or closes take effect once."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_team_id_status", "team_id", "status"),
        Index("ix_incidents_status_reporting_deadline", "status", "reporting_deadline"),
    )

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(16))  # low | medium | high | critical
    serious: Mapped[bool] = mapped_column(Boolean)
    # Art. 73 category of a serious incident; None when not serious.
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # open | reported | closed
    revision: Mapped[int] = mapped_column(Integer, default=1)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    became_aware_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # became_aware_at + the category's days; None when not serious (nothing to report).
    reporting_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    authority_reference: Mapped[str | None] = mapped_column(String(500), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the missed deadline was announced (alert and incident.late webhook): at most once.
    late_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_by_api_key_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IncidentAlert(Base):
    """An alert of the incident's version that the incident is linked to."""

    __tablename__ = "incident_alerts"

    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class IncidentDeployment(Base):
    """A deployment of the incident's version that the incident is linked to."""

    __tablename__ = "incident_deployments"

    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    deployment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class IncidentEntry(IdMixin, Base):
    """One entry of an incident's timeline. Append-only: there is no route that edits or deletes
    one, and the database refuses an UPDATE (both backends) and a DELETE (PostgreSQL) of a row
    (triggers of migration 0019). The author has no ``ON DELETE`` action for the same reason."""

    __tablename__ = "incident_timeline"
    __table_args__ = (Index("ix_incident_timeline_incident_id_id", "incident_id", "id"),)

    incident_id: Mapped[int] = mapped_column(BigId, ForeignKey("incidents.id", ondelete="CASCADE"))
    # note | investigation | mitigation | communication | root_cause (written by people);
    # created | reported | closed | deadline_missed (written by the transitions)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    author_user_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"), nullable=True)
    author_api_key_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("api_keys.id"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- retention exceptions (retention.py) --------------------------------------------------------
# The EU AI Act keeps a high-risk system's logs at least six months (Art. 12, 19(1), 26(6)); the
# purges keep that floor for every version of a model classified high on its card. An exception
# lets a shorter retention apply to one model, until it expires or is withdrawn. Rows are never
# deleted: a withdrawn or expired exception stays as history. Writers of one model's exceptions
# are serialised on the model's row (as the card's writers are).


class RetentionException(IdMixin, Base):
    """An admin's exception to the retention floor for one model: why, until when, by whom."""

    __tablename__ = "retention_exceptions"
    __table_args__ = (
        Index("ix_retention_exceptions_model_id_expires_at", "model_id", "expires_at"),
    )

    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE")
    )
    team_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_by_api_key_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    withdrawn_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    withdrawn_by_api_key_id: Mapped[int | None] = mapped_column(BigId, nullable=True)


# --- periodic reviews (reviews.py) --------------------------------------------------------------
# A review is attested by two people: the model's owner and a validator. One party opens it (their
# attestation), the other completes it; only a completed review counts. ``revision`` moves with
# every transition (a conditional update on the revision read), so of concurrent completing
# attestations one takes effect. At most one review per version is open.


class ModelReview(IdMixin, Base):
    """One periodic review of a model version and its two attestations."""

    __tablename__ = "model_reviews"
    __table_args__ = (
        Index(
            "ix_model_reviews_one_open",
            "version_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        # The last completed review of each version (due dates, the MRI's staleness).
        Index("ix_model_reviews_version_id_completed_at", "version_id", "completed_at"),
        Index("ix_model_reviews_team_id_status", "team_id", "status"),
    )

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE")
    )
    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))  # open | completed
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The more severe of the two attestations' conclusions once completed.
    conclusion: Mapped[str | None] = mapped_column(String(24), nullable=True)
    owner_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    owner_conclusion: Mapped[str | None] = mapped_column(String(24), nullable=True)
    owner_attested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    validator_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    validator_conclusion: Mapped[str | None] = mapped_column(String(24), nullable=True)
    validator_attested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The evidence seen: monitoring report ids of the version and free text, per attestation.
    evidence: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
