from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from driftguard.db.base import Base, BigId, IdMixin, JsonDocument, TimestampMixin, UTCDateTime


class Level(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class TaskType(StrEnum):
    BINARY_CLASSIFICATION = "binary_classification"
    MULTICLASS_CLASSIFICATION = "multiclass_classification"
    REGRESSION = "regression"


class Stage(StrEnum):
    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"


def _enum(cls: type[StrEnum], name: str) -> Enum:
    return Enum(
        cls, name=name, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e]
    )


class RegisteredModel(IdMixin, TimestampMixin, Base):
    __tablename__ = "registered_models"
    __table_args__ = (
        UniqueConstraint("team_id", "name"),
        # The list's default and common sort keys, so a page is an index walk, not a sort.
        Index("ix_registered_models_name_id", "name", "id"),
        Index("ix_registered_models_created_at_id", "created_at", "id"),
        # Lets the list's total be an index-only count of live models.
        Index(
            "ix_registered_models_live_team_id",
            "team_id",
            postgresql_where=text("archived_at IS NULL"),
            sqlite_where=text("archived_at IS NULL"),
        ),
    )

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    use_case: Mapped[str] = mapped_column(String(500), default="")
    materiality: Mapped[Level] = mapped_column(_enum(Level, "level"), default=Level.MEDIUM)
    criticality: Mapped[Level] = mapped_column(_enum(Level, "level"), default=Level.MEDIUM)
    # The number the next version receives; bumped by one atomic UPDATE, so no two match.
    next_version_number: Mapped[int] = mapped_column(Integer, default=1)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Scheduled monitoring: every interval, the windows that closed are reported. None: off.
    monitoring_interval_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ModelTag(Base):
    __tablename__ = "model_tags"

    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ModelVersion(IdMixin, TimestampMixin, Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "number"),
        # "Models with a version in stage X": an index-only scan instead of reading every
        # version row (each carries its feature schema).
        Index("ix_model_versions_stage_model_id", "stage", "model_id"),
        # Each model's newest live version (a portfolio simulation reads ten thousand): on
        # PostgreSQL an index-only scan, read backwards, with the columns it needs.
        Index(
            "ix_model_versions_newest_live",
            "model_id",
            "number",
            postgresql_include=["id", "created_at", "sensitive_attributes"],
            postgresql_where=text("stage <> 'archived'"),
            sqlite_where=text("stage <> 'archived'"),
        ),
    )

    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    artifact_uri: Mapped[str] = mapped_column(String(2048), default="")
    framework: Mapped[str] = mapped_column(String(64), default="")
    task_type: Mapped[TaskType] = mapped_column(_enum(TaskType, "task_type"))
    # [{"name", "type", "sensitive"}]: a small document read and written whole.
    features: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    # How many of the features are sensitive attributes (read without parsing ``features``);
    # kept by the ORM whenever ``features`` is set.
    sensitive_attributes: Mapped[int] = mapped_column(Integer, server_default="0")
    target: Mapped[str] = mapped_column(String(128))
    training_metrics: Mapped[dict[str, float]] = mapped_column(JsonDocument, default=dict)
    stage: Mapped[Stage] = mapped_column(_enum(Stage, "stage"), default=Stage.NONE)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )

    @validates("features")
    def _count_sensitive(self, _key: str, features: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.sensitive_attributes = sum(1 for f in features if f.get("sensitive"))
        return features
