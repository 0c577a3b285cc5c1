from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from driftguard.schemas import CreateSchema, Id, LongText, Name, ReadSchema, ShortText

# The document travels as text (YAML or JSON) so that what was submitted is kept verbatim.
PolicySource = Annotated[
    str, Field(min_length=1, max_length=256 * 1024, description="the policy, as YAML or JSON")
]


class PolicyCreate(CreateSchema):
    name: Name
    description: ShortText = ""
    source: PolicySource


class PolicyVersionCreate(CreateSchema):
    source: PolicySource


class PolicyValidate(CreateSchema):
    source: PolicySource


class PolicyValidation(ReadSchema):
    valid: bool
    content_hash: str
    document: dict[str, Any]


class DefaultPolicyRead(ReadSchema):
    name: str
    source: str
    content_hash: str
    document: dict[str, Any]


class PolicyVersionRead(ReadSchema):
    id: int
    policy_id: int
    number: int
    content_hash: str
    source: str
    document: dict[str, Any]
    is_active: bool
    activated_at: datetime | None
    created_by_id: int | None
    created_at: datetime


class PolicyRead(ReadSchema):
    id: int
    name: str
    description: str
    active_version: int | None
    latest_version: int
    created_at: datetime


class AppliedPolicy(ReadSchema):
    """The policy in force for a decision: a stored version, or the built-in default."""

    name: str
    version: int | None
    version_id: int | None
    content_hash: str


class AlertRead(ReadSchema):
    id: int
    team_id: int
    model_id: int
    version_id: int
    rule: str
    subject: str
    fact: str
    severity: str
    status: str
    observed: float
    operator: str
    threshold: float
    message: str
    run_id: int | None
    window_end: datetime
    opened_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_id: int | None
    resolved_at: datetime | None
    resolved_by_id: int | None
    resolution: str | None


class AlertResolve(CreateSchema):
    comment: Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")] = ""


EnvironmentName = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")
]


class RiskComponentRead(ReadSchema):
    name: str
    measurement: float | None
    value: float
    weight: float
    contribution: float
    evidence: Literal["measured", "missing", "not_applicable"]


class RiskScoreRead(ReadSchema):
    id: int | None = Field(description="None when computed now and not stored")
    model_id: int
    version_id: int
    score: float
    band: Literal["low", "medium", "high", "critical"]
    tier: int
    policy_hash: str
    components: list[RiskComponentRead]
    trigger: str
    computed_at: datetime


class RuleResultRead(ReadSchema):
    rule: str
    fact: str
    subject: str
    observed: float | None
    operator: str
    threshold: float
    severity: Literal["block", "warn"]
    passed: bool
    missing: bool
    message: str
    # Decisions stored before rule preconditions existed judged every rule.
    applicable: bool = Field(
        True, description="false when none of the rule's applies_if conditions holds: it passes"
    )


class DecisionRead(ReadSchema):
    outcome: Literal["blocked", "pending_approval", "approved"]
    policy: AppliedPolicy
    rules: list[RuleResultRead]
    required_approvals: int
    approver_roles: list[str]
    separation_of_duties: bool
    mri: float
    mri_band: str


class DeploymentCreate(CreateSchema):
    model_id: Id
    version: Annotated[int, Field(ge=1, le=2**31 - 1)]
    environment: EnvironmentName
    reason: LongText = ""


class DeploymentComment(CreateSchema):
    comment: LongText = ""


class ApprovalRead(ReadSchema):
    user_id: int
    verdict: Literal["approve", "reject"]
    comment: str
    created_at: datetime


class DeploymentRead(ReadSchema):
    id: int
    team_id: int
    model_id: int
    version_id: int
    version: int
    environment: str
    status: str
    revision: int
    reason: str
    requested_by_id: int | None
    requested_by_api_key_id: int | None
    decision: DecisionRead
    facts: dict[str, dict[str, float | None]]
    approvals: list[ApprovalRead]
    previous_id: int | None
    created_at: datetime
    updated_at: datetime
    decided_at: datetime
    deployed_at: datetime | None
    # Human oversight: the suspended deployment this request resumes.
    resumes_id: int | None = None


class DeploymentEventRead(ReadSchema):
    id: int
    deployment_id: int
    action: str
    from_status: str | None
    to_status: str
    actor_user_id: int | None
    actor_api_key_id: int | None
    reason: str
    at: datetime


class SuspensionRead(ReadSchema):
    """A deployment stopped by a human (``governance.oversight``): who, when and why."""

    deployment_id: int
    reason: str
    suspended_at: datetime
    suspended_by_id: int | None
    suspended_by_api_key_id: int | None


class DeploymentReason(CreateSchema):
    """Why: required, not blank (suspending or resuming a deployment)."""

    reason: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=10_000, pattern=r"^[^\x00]*$"
        ),
    ]


class GateRead(ReadSchema):
    """The CI gate's answer: exit code 0 allowed, 1 blocked, 2 approval pending."""

    outcome: Literal["allowed", "blocked", "pending"]
    exit_code: Literal[0, 1, 2]
    model_id: int
    version: int
    environment: str
    deployment_id: int | None
    decision: DecisionRead
    # Set when the version is suspended in the environment (then the answer is blocked).
    suspension: SuspensionRead | None = None


class SimulationScope(CreateSchema):
    """One model, one team, or (both empty) every model the caller may see."""

    model_id: Id | None = None
    team_id: Id | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if self.model_id is not None and self.team_id is not None:
            raise ValueError("give model_id or team_id, not both")
        return self


class Override(CreateSchema):
    """A hypothetical fact: ``drift.psi`` of ``income`` = 0.4, ``model.materiality`` = high."""

    fact: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    subject: Annotated[str, StringConstraints(max_length=128)] = ""
    value: float | Literal["low", "medium", "high"]
    model_id: Id | None = Field(default=None, description="only this model; default: all")

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class SimulationRequest(CreateSchema):
    policy: Annotated[str, StringConstraints(min_length=1, max_length=256 * 1024)] | None = Field(
        default=None, description="a draft policy (YAML or JSON), judged as if activated"
    )
    policy_id: Id | None = Field(
        default=None,
        description="the stored policy the draft revises (its active version steps aside)",
    )
    overrides: Annotated[list[Override], Field(max_length=100)] = Field(default_factory=list)
    scope: SimulationScope = Field(default_factory=SimulationScope)
    environment: EnvironmentName = "production"
    replay_days: Annotated[int, Field(ge=1, le=365)] | None = None
    include_unchanged: bool = False

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.policy is None and not self.overrides:
            raise ValueError("give a draft policy, overrides, or both")
        if self.policy_id is not None and self.policy is None:
            raise ValueError("policy_id names the policy a draft revises; give the draft")
        return self


class ModelOutcome(ReadSchema):
    model_id: int
    model_name: str
    team_id: int
    version: int
    current_outcome: str
    scenario_outcome: str
    current_mri: float
    scenario_mri: float
    current_band: str
    scenario_band: str
    current_policy: str
    scenario_policy: str
    scenario_blocking: list[str]
    changed: bool


class SimulationSummary(ReadSchema):
    models: int
    changed: int
    newly_blocked: int
    newly_allowed: int
    band_changes: int
    current_outcomes: dict[str, int]
    scenario_outcomes: dict[str, int]
    scenario_bands: dict[str, int]


class ReplayDecisions(ReadSchema):
    examined: int
    newly_blocked: int
    newly_allowed: int
    changed_deployment_ids: list[int]


class ReplayMonitoring(ReadSchema):
    runs_examined: int
    truncated: bool
    current_findings: dict[str, int]
    scenario_findings: dict[str, int]


class ReplayResult(ReadSchema):
    days: int
    since: datetime
    decisions: ReplayDecisions
    monitoring: ReplayMonitoring


class Simulation(ReadSchema):
    environment: str
    draft_policy: AppliedPolicy | None
    evaluated_at: datetime
    summary: SimulationSummary
    models: list[ModelOutcome] = Field(description="changed models (all with include_unchanged)")
    models_truncated: bool
    replay: ReplayResult | None


# --- periodic reviews due (reviews_due.py) ------------------------------------------------------


class ReviewDueRead(ReadSchema):
    """A production version's periodic review clock under the policy in force."""

    model_id: int
    model_name: str
    team_id: int
    version_id: int
    version: int
    tier: int
    cadence_months: int
    # What the clock runs from: the last completed review, else the version's first production
    # deployment, else its registration.
    since: Literal["review", "production", "registration"]
    since_at: datetime
    due_at: datetime
    days_until_due: float
    status: Literal["scheduled", "due_soon", "overdue"]
