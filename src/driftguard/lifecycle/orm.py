"""Tables of the model-risk lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
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
