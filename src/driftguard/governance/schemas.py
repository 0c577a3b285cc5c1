from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from driftguard.policies.schemas import AppliedPolicy
from driftguard.schemas import CreateSchema, Id, LongText, ReadSchema

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


class GateRead(ReadSchema):
    """The CI gate's answer: exit code 0 allowed, 1 blocked, 2 approval pending."""

    outcome: Literal["allowed", "blocked", "pending"]
    exit_code: Literal[0, 1, 2]
    model_id: int
    version: int
    environment: str
    deployment_id: int | None
    decision: DecisionRead


def decision_payload(decision: DecisionRead) -> dict[str, Any]:
    return decision.model_dump(mode="json")
