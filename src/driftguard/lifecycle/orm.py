"""Tables of the model-risk lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
