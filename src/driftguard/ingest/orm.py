"""Prediction storage that serves analytics.

Feature values are never stored as one JSON document per prediction. Each accepted batch becomes
one columnar block (Arrow IPC, compressed, in two parts) that loads straight into arrays; a
narrow key row per prediction carries only what must be looked up one by one (dedupe, late
labels).

On PostgreSQL the tables that grow with time are range-partitioned on their timestamp (see
``ingest.storage_maintenance``): their ``info["partition_key"]`` names it. A partitioned table's
primary key must contain the partition key, so there the physical key is the one declared here
plus that column; identity is unchanged (ids come from a sequence, a label's time is its
prediction's). The key table, ``prediction_records``, is not partitioned: its primary key is the
one place where a ``prediction_id`` is unique per version across all time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from driftguard.db.base import Base, BigId, IdMixin, UTCDateTime, utcnow


class ReferenceDataset(IdMixin, Base):
    """A version's reference (training) data, kept as its fitted statistics profile."""

    __tablename__ = "reference_datasets"
    __table_args__ = (Index("ix_reference_datasets_version_id_active", "version_id", "is_active"),)

    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    row_count: Mapped[int] = mapped_column(Integer)
    source_format: Mapped[str] = mapped_column(String(16))
    # Deferred: up to hundreds of MB, read through ingest.profiles (decoded, cached).
    profile: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    profile_id: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PredictionBlock(IdMixin, Base):
    """Rows of one accepted batch, in two compressed Arrow IPC files (``ingest.blocks``):
    the decisions (ids, times, predictions, sensitive attributes) and the other features. A
    block never spans two UTC days (batches are cut there), so it lies inside one partition
    and a window's blocks are found by ``first_ts`` alone to within a day."""

    __tablename__ = "prediction_blocks"
    __table_args__ = (
        Index("ix_prediction_blocks_version_id_span", "version_id", "first_ts", "last_ts"),
        {"info": {"partition_key": "first_ts"}},
    )

    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    first_ts: Mapped[datetime] = mapped_column(UTCDateTime())
    last_ts: Mapped[datetime] = mapped_column(UTCDateTime())
    row_count: Mapped[int] = mapped_column(Integer)
    # Before ``features``, so SQLite reads it without stepping through the larger part; None
    # in blocks stored before the split (migration 0014), whose ``features`` hold every column.
    decisions: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    features: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PredictionBlockCounts(Base):
    """A block's rows reduced to mergeable counts in one reference profile's bins.

    Drift over a long window merges these instead of re-reading every row; they are kept per
    profile, so replacing a reference never mixes bins. They carry their block's version and
    span and outlive it: retention purges raw rows, never these aggregates.
    """

    __tablename__ = "prediction_block_counts"
    __table_args__ = (
        Index("ix_prediction_block_counts_version_id_span", "version_id", "first_ts"),
    )

    block_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    first_ts: Mapped[datetime] = mapped_column(UTCDateTime())
    last_ts: Mapped[datetime] = mapped_column(UTCDateTime())
    counts: Mapped[bytes] = mapped_column(LargeBinary)


class PredictionRecord(Base):
    """One logged prediction's key and time: the dedupe key (never partitioned) and the time
    its late label is filed under. Its values are in the block covering its time.

    No foreign key to the version: a bulk upload writes a million rows at once, and checking
    each against ``model_versions`` cost PostgreSQL 40 % of the upload (migration 0013). Rows
    are only ever written with the version's row locked in the same transaction, and versions
    are archived, never deleted."""

    __tablename__ = "prediction_records"
    __table_args__ = (Index("ix_prediction_records_version_id_ts", "version_id", "ts"),)

    version_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    prediction_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())


class PredictionLabel(Base):
    """The actual outcome of a prediction, which may arrive much later; filed under the
    prediction's time (``ts``), so a window's labels are read from the window's partitions."""

    __tablename__ = "prediction_labels"
    __table_args__ = (
        ForeignKeyConstraint(
            ["version_id", "prediction_id"],
            ["prediction_records.version_id", "prediction_records.prediction_id"],
            ondelete="CASCADE",
        ),
        Index("ix_prediction_labels_version_id_ts", "version_id", "ts"),
        {"info": {"partition_key": "ts"}},
    )

    version_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    prediction_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    label: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IngestReceipt(Base):
    """The first response to a request sent with an ``Idempotency-Key``, replayed on retries."""

    __tablename__ = "ingest_receipts"

    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# --- human oversight: per-prediction overrides (EU AI Act Art. 14) ---------------------------


class PredictionOverride(Base):
    """A human's override of one prediction's decision: what the model decided, what the human
    decided instead, and why. One per version and ``prediction_id`` (a retry changes nothing).

    ``prediction_ts`` is the overridden prediction's time, copied from its key row when the
    override is logged (None when the version had no prediction of that id then): monitoring
    counts a window's overrides by it, so the count survives the purge of raw predictions. No
    foreign key to ``prediction_records`` for the same reason, and because an override may name
    a prediction that was never logged."""

    __tablename__ = "prediction_overrides"
    __table_args__ = (
        Index("ix_prediction_overrides_version_id_prediction_ts", "version_id", "prediction_ts"),
    )

    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    prediction_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    prediction_ts: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    original_decision: Mapped[str] = mapped_column(Text)
    final_decision: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    # The human who decided, as the caller names them (a machine key logging for people).
    overridden_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # The caller who logged it.
    logged_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    logged_by_api_key_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
