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


class ExecutiveDashboard(ReadSchema):
    """The executive view, scoped to the teams the caller may see.

    ``governance`` is reserved for the governance sections (Model Risk Index bands, deployments,
    pending approvals, riskiest models, MRI trend); it is ``null`` until that package fills it.
    """

    generated_at: datetime
    models: ModelCounts
    open_alerts: AlertCounts
    fairness_findings: list[FairnessFinding]
    recent_runs: list[RecentRun]
    governance: None = None
