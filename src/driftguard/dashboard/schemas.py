from __future__ import annotations

from datetime import datetime

from driftguard.schemas import ReadSchema


class TeamStageCount(ReadSchema):
    """Live models of one team whose most advanced version is in ``stage`` (``none``: no
    version is in staging or production)."""

    team_id: int
    team_name: str
    stage: str
    models: int


class ModelCounts(ReadSchema):
    total: int
    by_stage: dict[str, int]
    by_team: list[TeamStageCount]


class AlertCounts(ReadSchema):
    """Active alerts (open or acknowledged), by severity and status."""

    total: int
    by_severity: dict[str, int]
    by_status: dict[str, int]


class FairnessFinding(ReadSchema):
    """An active alert on a fairness fact: which model, which attribute, observed vs threshold."""

    alert_id: int
    model_id: int
    model_name: str
    team_id: int
    attribute: str
    fact: str
    severity: str
    status: str
    observed: float
    operator: str
    threshold: float
    opened_at: datetime


class RecentRun(ReadSchema):
    run_id: int
    model_id: int
    model_name: str
    version_number: int
    window_start: datetime
    window_end: datetime
    trigger: str
    status: str
    n_predictions: int
    created_at: datetime


class RiskyModel(ReadSchema):
    model_id: int
    model_name: str
    team_id: int
    version: int
    score: float
    band: str
    main_driver: str  # the MRI component contributing most


class DeploymentCount(ReadSchema):
    environment: str
    status: str
    deployments: int


class PendingApproval(ReadSchema):
    deployment_id: int
    model_id: int
    model_name: str
    version: int
    environment: str
    requested_at: datetime
    approvals: int
    required_approvals: int


class RiskTrendPoint(ReadSchema):
    day: str
    mean_score: float
    scores: int


class GovernanceSection(ReadSchema):
    """Each live model's latest MRI by band, the ten riskiest with their main driver,
    deployment requests of the last 30 days, the approval queue and the daily mean MRI."""

    models_by_band: dict[str, int]
    riskiest: list[RiskyModel]
    deployments_last_30_days: list[DeploymentCount]
    pending_approvals: int
    oldest_pending: list[PendingApproval]
    risk_trend: list[RiskTrendPoint]
    # Production versions whose periodic review is overdue (governance/reviews_due.py).
    overdue_reviews: int = 0


class ExecutiveDashboard(ReadSchema):
    """The executive view, scoped to the teams the caller may see."""

    generated_at: datetime
    models: ModelCounts
    open_alerts: AlertCounts
    fairness_findings: list[FairnessFinding]
    recent_runs: list[RecentRun]
    governance: GovernanceSection
