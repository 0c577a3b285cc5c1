"""Monitoring runs, their stored reports, and each version's newest facts snapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from driftguard.db.base import Base, BigId, IdMixin, JsonDocument, UTCDateTime, utcnow


class MonitoringRun(IdMixin, Base):
    """One computation of the reports of a version over ``[window_start, window_end)``."""

    __tablename__ = "monitoring_runs"
    __table_args__ = (Index("ix_monitoring_runs_version_id_window", "version_id", "window_start"),)

    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    trigger: Mapped[str] = mapped_column(String(16))  # manual | scheduled
    # Scheduled runs carry "version:start:end"; the unique key makes a second run of the same
    # window fail in the database, whichever process tries it. Manual runs leave it empty.
    schedule_key: Mapped[str | None] = mapped_column(String(96), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # completed | no_data | failed
    n_predictions: Mapped[int] = mapped_column(Integer, default=0)
    n_labelled: Mapped[int] = mapped_column(Integer, default=0)
    reference_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("reference_datasets.id", ondelete="SET NULL"), nullable=True
    )
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MonitoringReport(IdMixin, Base):
    """One report of a run: drift, data_quality, fairness or performance."""

    __tablename__ = "monitoring_reports"
    __table_args__ = (
        Index("ix_monitoring_reports_version_id_kind_window", "version_id", "kind", "window_start"),
        # Report retention walks the oldest reports first (monitoring.retention).
        Index("ix_monitoring_reports_window_end", "window_end"),
    )

    run_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("monitoring_runs.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class VersionFacts(Base):
    """The facts measured in a version's newest monitored window (see ``monitoring.facts``)."""

    __tablename__ = "version_facts"

    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("monitoring_runs.id", ondelete="SET NULL"), nullable=True
    )
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # {fact: {subject: value}}: a small document, read whole.
    facts: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    # What a portfolio judgement reads instead (``rules.portfolio.summarise``); NULL when a
    # value is not a finite number, or for snapshots stored before summaries were.
    summary: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql"),
        nullable=True,
    )
