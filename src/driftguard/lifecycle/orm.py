"""Tables of the model-risk lifecycle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from driftguard.db.base import Base, BigId, IdMixin, UTCDateTime, utcnow

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
