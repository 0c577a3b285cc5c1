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
    # rolled_back | suspended
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
    # Human oversight (``governance.oversight``): the suspended deployment of the same version
    # and environment this request resumes; its deploy supersedes that one. No foreign key:
    # SQLite adds a referencing column only by rebuilding the table (migration 0018), and both
    # rows belong to one model, so they go together.
    resumes_id: Mapped[int | None] = mapped_column(BigId, nullable=True)


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


class Policy(IdMixin, Base):
    __tablename__ = "policies"

    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    next_version_number: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PolicyVersion(IdMixin, Base):
    """One immutable version of a policy document. At most one version of a policy is active."""

    __tablename__ = "policy_versions"
    __table_args__ = (
        UniqueConstraint("policy_id", "number"),
        Index(
            "ix_policy_versions_one_active",
            "policy_id",
            unique=True,
            postgresql_where=text("is_active"),
            sqlite_where=text("is_active"),
        ),
    )

    policy_id: Mapped[int] = mapped_column(BigId, ForeignKey("policies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # The text as submitted (YAML or JSON) and the validated document it means.
    source: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    is_active: Mapped[bool] = mapped_column(default=False)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PolicyActivation(IdMixin, Base):
    """When which version of a policy came into force or was withdrawn (version None)."""

    __tablename__ = "policy_activations"

    policy_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("policies.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("policy_versions.id", ondelete="CASCADE"), nullable=True
    )
    actor_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Alert(IdMixin, Base):
    """A monitoring rule firing for one subject (a feature or a sensitive attribute).

    At most one alert per version, rule and subject is active (open or acknowledged) at a time:
    repeated findings update it; a run where the condition has cleared resolves it.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "ix_alerts_active_key",
            "version_id",
            "rule",
            "subject",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
            sqlite_where=text("status <> 'resolved'"),
        ),
        Index("ix_alerts_team_id_status", "team_id", "status"),
    )

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"))
    model_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("registered_models.id", ondelete="CASCADE")
    )
    version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE")
    )
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    fact: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # open | acknowledged | resolved
    observed: Mapped[float] = mapped_column()
    operator: Mapped[str] = mapped_column(String(4))
    threshold: Mapped[float] = mapped_column()
    message: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("monitoring_runs.id", ondelete="SET NULL"), nullable=True
    )
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)


# --- periodic reviews (reviews_due.py) ------------------------------------------------------------
# Which versions are live in production and when each first went live, read for every live
# version by the review lists: covered by one index, so the wide deployment rows (their facts and
# decision documents) are never read.
Index(
    "ix_deployments_version_id_environment_status",
    Deployment.version_id,
    Deployment.environment,
    Deployment.status,
    Deployment.deployed_at,
)
