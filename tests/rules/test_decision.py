from __future__ import annotations

import pytest

from driftguard.rules import DEFAULT_POLICY, Facts, evaluate_deployment, judge_rule, parse_policy
from driftguard.rules.document import Rule


def rule(**fields: object) -> Rule:
    base: dict[str, object] = {
        "name": "r",
        "fact": "drift.psi",
        "operator": "<",
        "threshold": 0.25,
        "severity": "block",
    }
    return Rule.model_validate({**base, **fields})


def test_a_per_subject_rule_reports_the_worst_subject() -> None:
    facts = Facts({"drift.psi": {"a": 0.1, "b": 0.3, "c": 0.5, "d": None}})
    failed = judge_rule(rule(), facts)
    assert (failed.passed, failed.subject, failed.observed) == (False, "c", 0.5)
    closest = judge_rule(rule(threshold=0.9), facts)
    assert (closest.passed, closest.subject, closest.observed) == (True, "c", 0.5)
    impact = rule(fact="fairness.disparate_impact_ratio", operator=">=", threshold=0.8)
    lowest = judge_rule(impact, Facts({"fairness.disparate_impact_ratio": {"g": 0.6, "r": 0.9}}))
    assert (lowest.passed, lowest.subject, lowest.observed) == (False, "g", 0.6)


@pytest.mark.parametrize(("when_missing", "passed"), [("fail", False), ("pass", True)])
def test_an_unmeasured_fact_follows_when_missing(when_missing: str, passed: bool) -> None:
    result = judge_rule(rule(when_missing=when_missing), Facts({"drift.psi": {"a": None}}))
    assert (result.missing, result.passed, result.observed) == (True, passed, None)


def test_whole_version_facts_and_every_operator() -> None:
    facts = Facts({"alerts.open_critical": {"": 0.0}})
    for op, passed in [("==", True), ("!=", False), ("<=", True), ("<", False), (">=", True)]:
        result = judge_rule(rule(fact="alerts.open_critical", operator=op, threshold=0), facts)
        assert result.passed is passed, op


def test_the_default_policy_asks_more_of_production_than_of_staging() -> None:
    healthy = Facts(
        {
            "reference.rows": {"": 1000.0},
            "drift.psi": {"income": 0.05},
            "drift.p_value_adjusted": {"income": 0.4},
            "alerts.open_critical": {"": 0.0},
            "mri.score": {"": 20.0},
        }
    )
    production = evaluate_deployment(DEFAULT_POLICY, healthy, environment="production")
    assert (production.outcome, production.required_approvals) == ("pending_approval", 2)
    assert production.approver_roles == ("approver",)
    assert all(r.passed for r in production.results)
    staging = evaluate_deployment(
        DEFAULT_POLICY, Facts({"reference.rows": {"": 10.0}}), environment="staging"
    )
    assert (staging.outcome, [r.rule for r in staging.results]) == ("approved", ["reference_data"])
    drifted = healthy.with_value("drift.psi", 0.4, "income")
    blocked = evaluate_deployment(DEFAULT_POLICY, drifted, environment="production")
    assert blocked.outcome == "blocked"
    assert [(r.rule, r.subject, r.observed) for r in blocked.blocking] == [
        ("feature_drift", "income", 0.4)
    ]


def test_warnings_never_block() -> None:
    policy = parse_policy(
        {
            "rules": [
                {
                    "name": "w",
                    "fact": "mri.score",
                    "operator": "<",
                    "threshold": 10,
                    "severity": "warn",
                }
            ],
            "approvals": [{"required": 0}],
        }
    )
    decision = evaluate_deployment(policy, Facts({"mri.score": {"": 50.0}}), environment="x")
    assert decision.outcome == "approved"
    assert [w.rule for w in decision.warnings] == ["w"]


# --- rule preconditions (applies_if) ------------------------------------------------------------


def test_a_rule_applies_only_where_one_of_its_conditions_holds() -> None:
    policy = parse_policy(
        {
            "rules": [
                {
                    "name": "validated",
                    "fact": "validation.status",
                    "operator": ">=",
                    "threshold": 1,
                    "severity": "block",
                    "applies_if": [
                        {"fact": "model.tier", "operator": "==", "threshold": 1},
                        {"fact": "model.eu_high_risk", "operator": "==", "threshold": 1},
                    ],
                }
            ],
            "approvals": [],
        }
    )

    def decide(**values: float | None) -> tuple[str, bool, bool, bool]:
        facts = Facts({name.replace("_", ".", 1): {"": v} for name, v in values.items()})
        decision = evaluate_deployment(policy, facts, environment="production")
        (result,) = decision.results
        return decision.outcome, result.applicable, result.passed, result.missing

    # Tier 1 without a validation: applies, fails on the missing fact.
    assert decide(model_tier=1) == ("blocked", True, False, True)
    # Tier 3, not high-risk: does not apply, passes without being judged.
    assert decide(model_tier=3, model_eu_high_risk=0) == ("approved", False, True, False)
    # Tier 3 but EU high-risk: either condition is enough.
    assert decide(model_tier=3, model_eu_high_risk=1) == ("blocked", True, False, True)
    assert decide(model_tier=3, model_eu_high_risk=1, validation_status=1)[0] == "approved"
    # An unmeasured fact holds no condition, not even "!=".
    negated = parse_policy(
        {
            "rules": [
                {
                    "name": "r",
                    "fact": "alerts.open",
                    "operator": "==",
                    "threshold": 0,
                    "severity": "block",
                    "applies_if": [{"fact": "model.lifecycle", "operator": "!=", "threshold": 4}],
                }
            ]
        }
    )
    unmeasured = evaluate_deployment(negated, Facts({"alerts.open": {"": 2.0}}), environment="p")
    assert unmeasured.results[0].applicable is False
    assert unmeasured.results[0].observed is None
