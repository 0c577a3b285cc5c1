"""A version judged now: its facts, its risk, the policy in force and that policy's decision."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from driftguard.errors import ErrorDetail, InvalidError
from driftguard.governance import policies
from driftguard.governance.facts import Subject, gather, with_risk
from driftguard.governance.policies import InForce
from driftguard.governance.schemas import DecisionRead, RuleResultRead
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.rules import Decision, Facts, RiskScore, evaluate_deployment


def require_environment(environment: str, environments: Collection[str]) -> None:
    """Deployment environments are a setting; naming another one is an input error."""
    if environment not in environments:
        known = ", ".join(sorted(environments))
        raise InvalidError(
            f"environment: unknown environment {environment!r}; known: {known}",
            details=[ErrorDetail("environment", f"unknown environment; known: {known}")],
        )


@dataclass(frozen=True, slots=True)
class Evaluation:
    facts: Facts
    risk: RiskScore
    policy: InForce
    decision: Decision


def judge(
    facts: Facts, policy: InForce, *, environment: str, risk: RiskScore | None = None
) -> Evaluation:
    """Pure: the decision of ``policy`` on ``facts`` (the MRI computed under its weights, unless
    ``risk`` already is that)."""
    if risk is None:
        complete, risk = with_risk(facts, policy.document.mri)
    else:
        complete = facts.with_value("mri.score", risk.score)
    decision = evaluate_deployment(policy.document, complete, environment=environment)
    return Evaluation(facts=complete, risk=risk, policy=policy, decision=decision)


def evaluate(
    session: Session,
    *,
    model: RegisteredModel,
    version: ModelVersion,
    environment: str,
    now: datetime,
) -> Evaluation:
    policy = policies.policy_for(session, model=model, environment=environment)
    cadence = policy.document.review_cadence
    facts = gather(
        session, [Subject.of(model, version)], now=now, cadence=lambda _, tier: cadence.months(tier)
    )[version.id]
    return judge(facts, policy, environment=environment)


def decision_read(evaluation: Evaluation) -> DecisionRead:
    decision = evaluation.decision
    return DecisionRead(
        outcome=decision.outcome,
        policy=evaluation.policy.applied,
        rules=[RuleResultRead.model_validate(r) for r in decision.results],
        required_approvals=decision.required_approvals,
        approver_roles=list(decision.approver_roles),
        separation_of_duties=decision.separation_of_duties,
        mri=evaluation.risk.score,
        mri_band=evaluation.risk.band,
    )
