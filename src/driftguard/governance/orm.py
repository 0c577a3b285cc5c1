from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from driftguard.db.base import Base, BigId, IdMixin, JsonDocument, UTCDateTime, utcnow

# Requests that still move: at most one per version and environment.
OPEN_STATUSES = ("pending_approval", "approved")


class RiskScore(IdMixin, Base):
    """One computation of a version's Model Risk Index, kept as history with its breakdown."""

    __tablename__ = "risk_scores"
    __table_args__ = (
        Index("ix_risk_scores_version_id_computed_at", "version_id", "computed_at"),
        Index("ix_risk_scores_team_id_computed_at", "team_id", "computed_at"),
    )

    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(16))
    tier: Mapped[int] = mapped_column(Integer)
    policy_hash: Mapped[str] = mapped_column(String(64))
    # [{"name", "measurement", "value", "weight", "contribution", "evidence"}]
    components: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument)
    trigger: Mapped[str] = mapped_column(String(32))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ModelRisk(Base):
    """Each model's current score: the one stored last, of whichever version was scored last.
    Kept by ``governance.risk.store`` in the transaction that stores the score, so the dashboard
    counts bands and ranks the riskiest models without searching the history."""

    __tablename__ = "model_risk"
    __table_args__ = (
        Index("ix_model_risk_score", "score"),
        Index("ix_model_risk_team_id_score", "team_id", "score"),
    )

    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    risk_score_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("risk_scores.id", ondelete="CASCADE")
    )
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(16))
    # The component contributing most to the score.
    main_driver: Mapped[str] = mapped_column(String(32))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RiskTrend(Base):
    """Scores stored per team and day (UTC), summed: the dashboard's MRI trend reads one row per
    team and day instead of every score of the period. Kept by ``governance.risk.store``."""

    __tablename__ = "risk_trend"

    team_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    score_sum: Mapped[float] = mapped_column(Float)
    scores: Mapped[int] = mapped_column(Integer)


class Deployment(IdMixin, Base):
    """A request to run a model version in an environment, and the decision that governs it.

    ``revision`` changes with every transition; a transition is a conditional update on the
    revision it read, so concurrent approvals or deploys of one request take effect once.
    """

    __tablename__ = "deployments"
    __table_args__ = (
        Index(
            "ix_deployments_one_open",
            "version_id",
            "environment",
            unique=True,
            postgresql_where=text("status IN ('pending_approval', 'approved')"),
            sqlite_where=text("status IN ('pending_approval', 'approved')"),
        ),
        Index(
            "ix_deployments_one_live",
            "model_id",
            "environment",
            unique=True,
            postgresql_where=text("status = 'deployed'"),
            sqlite_where=text("status = 'deployed'"),
        ),
        Index("ix_deployments_team_id_status", "team_id", "status"),
        Index("ix_deployments_created_at", "created_at"),
    )

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE"), index=True
    )
    environment: Mapped[str] = mapped_column(String(32))
    # blocked | pending_approval | approved | rejected | cancelled | deployed | superseded |
    # rolled_back
    status: Mapped[str] = mapped_column(String(24))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    requested_by_api_key_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )
    # The decision: the policy that made it, the facts it judged, each rule's verdict.
    policy_name: Mapped[str] = mapped_column(String(128))
    policy_version_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("policy_versions.id", ondelete="SET NULL"), nullable=True
    )
    policy_hash: Mapped[str] = mapped_column(String(64))
    facts_hash: Mapped[str] = mapped_column(String(64))
    facts: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    decision: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    required_approvals: Mapped[int] = mapped_column(Integer, default=0)
    # The deployment this one replaced in its environment, for rollback.
    previous_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("deployments.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DeploymentApproval(IdMixin, Base):
    __tablename__ = "deployment_approvals"
    __table_args__ = (UniqueConstraint("deployment_id", "user_id"),)

    deployment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deployments.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(16))  # approve | reject
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeploymentEvent(IdMixin, Base):
    """The deployment history: every transition, who made it and why. Append-only."""

    __tablename__ = "deployment_history"
    __table_args__ = (Index("ix_deployment_history_deployment_id_id", "deployment_id", "id"),)

    deployment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("deployments.id", ondelete="CASCADE")
    )
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24), nullable=True)
    to_status: Mapped[str] = mapped_column(String(24))
    actor_user_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    actor_api_key_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
