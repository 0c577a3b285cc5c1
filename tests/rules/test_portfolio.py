"""The portfolio engine gives the per-version engine's answers, to the last bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.rules import FACTS, WHOLE, Facts, compute_mri, evaluate_deployment, parse_policy
from driftguard.rules.document import PolicyDocument
from driftguard.rules.portfolio import (
    FactTable,
    Verdict,
    judge_portfolio,
    reads,
    summarise,
    supports,
)

SUBJECTS = ("age", "income", "region", "zip")
PER_SUBJECT = sorted(name for name, spec in FACTS.items() if spec.per_subject)
WHOLE_FACTS = sorted(
    name for name, spec in FACTS.items() if not spec.per_subject and name != "mri.score"
)
# Whole-version facts the service reads beside the stored summaries.
BESIDE = ("alerts.open", "alerts.open_critical", "model.tier", "model.sensitive_attributes")

# Facts most versions carry and most rules judge, so that rules meet values more often than not.
COMMON = ("drift.psi", "fairness.disparate_impact_ratio", "data_quality.missing_rate")
# Few distinct values, so that ties between subjects and values equal to thresholds are common.
value = st.one_of(st.none(), st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.0, 400.0]))
per_subject = st.dictionaries(st.sampled_from(SUBJECTS), value, max_size=len(SUBJECTS))


@st.composite
def version_facts(draw: st.DrawFn) -> Facts:
    values: dict[str, dict[str, float | None]] = {}
    for fact in {*COMMON, *draw(st.lists(st.sampled_from(PER_SUBJECT), unique=True))}:
        values[fact] = draw(per_subject)
    for fact in draw(st.lists(st.sampled_from(WHOLE_FACTS), unique=True)):
        values[fact] = {WHOLE: draw(value)}
    values["model.tier"] = {WHOLE: float(draw(st.sampled_from([1, 2, 3])))}
    values["model.sensitive_attributes"] = {WHOLE: float(draw(st.integers(0, 2)))}
    return Facts(values)


# A rule's precondition: a whole-version fact (or the computed MRI) against a threshold; "!="
# over an unmeasured fact must not hold (NaN != x is true in numpy).
condition = st.fixed_dictionaries(
    {
        "fact": st.sampled_from(["model.tier", "mri.score", "alerts.open", *WHOLE_FACTS]),
        "operator": st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
        "threshold": st.sampled_from([0, 0.1, 1, 2, 30, 50]),
    }
)


@st.composite
def policies(draw: st.DrawFn) -> PolicyDocument:
    rules = []
    for i in range(draw(st.integers(0, 6))):
        fact = draw(
            st.one_of(
                st.sampled_from([*COMMON, "mri.score", "alerts.open"]),
                st.sampled_from([*PER_SUBJECT, *WHOLE_FACTS]),
            )
        )
        ordered = ["<", "<=", ">", ">="]
        operators = ordered if FACTS[fact].per_subject else [*ordered, "==", "!="]
        rules.append(
            {
                "name": f"r{i}",
                "fact": fact,
                "operator": draw(st.sampled_from(operators)),
                "threshold": draw(st.sampled_from([0, 0.1, 0.25, 1, 30, 50])),
                "severity": draw(st.sampled_from(["block", "warn"])),
                "when_missing": draw(st.sampled_from(["fail", "pass"])),
                "environments": draw(st.sampled_from([None, ["production"], ["staging"]])),
                "applies_if": draw(
                    st.one_of(st.none(), st.lists(condition, min_size=1, max_size=3))
                ),
            }
        )
    weights = draw(st.permutations([0.05, 0.1, 0.15, 0.2, 0.25, 0.25]))
    names = ["drift", "fairness", "performance", "data_quality", "staleness", "alerts"]
    document: dict[str, Any] = {
        "rules": rules,
        "approvals": draw(st.sampled_from([[], [{"required": 2, "environments": ["production"]}]])),
        "mri": {
            "weights": dict(zip(names, weights, strict=True)),
            "scales": {
                "psi": draw(st.sampled_from([0.25, 0.5, 3])),
                "missing_evidence": draw(st.sampled_from([0, 0.5, 1])),
            },
            "tier_factors": {"tier_2": draw(st.sampled_from([0.3, 0.8, 1]))},
        },
    }
    return parse_policy(document)


def table_of(all_facts: list[Facts], document: PolicyDocument, *, beside: bool) -> FactTable:
    """The table the service builds: stored summaries plus, if ``beside``, facts read apart."""
    summaries = []
    for facts in all_facts:
        stored = {k: v for k, v in facts.as_dict().items() if not (beside and k in BESIDE)}
        summary = summarise(stored)
        assert summary is not None
        summaries.append(summary)
    whole = {}
    if beside:
        for fact in BESIDE:
            column = [facts.value(fact) for facts in all_facts]
            whole[fact] = np.array([np.nan if v is None else v for v in column])
    return FactTable.of(summaries, whole, reads=reads(document))


def scalar_verdict(facts: Facts, document: PolicyDocument, environment: str) -> Verdict:
    risk = compute_mri(facts, document.mri)
    complete = facts.with_value("mri.score", risk.score)
    return Verdict.of(evaluate_deployment(document, complete, environment=environment), risk)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(version_facts(), min_size=1, max_size=8),
    policies(),
    st.sampled_from(["production", "staging"]),
    st.booleans(),
)
def test_the_same_verdicts_as_judging_each_version(
    all_facts: list[Facts], document: PolicyDocument, environment: str, beside: bool
) -> None:
    table = table_of(all_facts, document, beside=beside)
    rows = np.arange(len(all_facts))[::-1].copy()  # any order of rows
    verdicts = judge_portfolio(document, table, rows, environment=environment)
    for k, row in enumerate(rows):
        expected = scalar_verdict(all_facts[row], document, environment)
        assert verdicts.verdict(k) == expected  # the score compared exactly, not approximately


def test_ties_go_to_the_first_subject_by_name() -> None:
    document = parse_policy(
        {
            "rules": [
                {
                    "name": "low",
                    "fact": "drift.psi",
                    "operator": "<",
                    "threshold": 0.25,
                    "severity": "block",
                },
                {
                    "name": "high",
                    "fact": "drift.psi",
                    "operator": ">",
                    "threshold": 0.6,
                    "severity": "block",
                },
            ],
            "approvals": [],
        }
    )
    facts = Facts({"drift.psi": {"zip": 0.5, "age": 0.5, "region": 0.5}, "model.tier": {"": 1.0}})
    verdict = judge_portfolio(
        document, table_of([facts], document, beside=False), np.arange(1), environment="production"
    ).verdict(0)
    assert verdict.blocking == (("low", "drift.psi", "age"), ("high", "drift.psi", "age"))
    assert verdict == scalar_verdict(facts, document, "production")


def test_a_replaced_whole_fact_is_judged_as_if_measured() -> None:
    document = parse_policy(
        {
            "rules": [
                {
                    "name": "calm",
                    "fact": "alerts.open",
                    "operator": "<",
                    "threshold": 3,
                    "severity": "block",
                }
            ],
            "approvals": [],
        }
    )
    facts = [Facts({"alerts.open": {WHOLE: 0.0}, "model.tier": {WHOLE: 1.0}}) for _ in range(3)]
    table = table_of(facts, document, beside=True)
    changed = table.replace("alerts.open", np.array([False, True, False]), 5.0)
    rows = np.arange(3)
    after = judge_portfolio(document, changed, rows, environment="production")
    assert list(after.outcome) == ["approved", "blocked", "approved"]
    assert after.verdict(1).blocking == (("calm", "alerts.open", WHOLE),)
    before = judge_portfolio(document, table, rows, environment="production")
    assert list(before.outcome) == ["approved"] * 3
    with pytest.raises(ValueError, match="per subject"):
        table.replace("drift.psi", np.array([True, True, True]), 1.0)


def test_equality_over_subjects_is_declined() -> None:
    document = parse_policy(
        {
            "rules": [
                {
                    "name": "exact",
                    "fact": "drift.psi",
                    "operator": "==",
                    "threshold": 0,
                    "severity": "block",
                }
            ]
        }
    )
    assert not supports(document)
    with pytest.raises(ValueError, match="equality"):
        judge_portfolio(document, FactTable(1, {}, {}), np.arange(1), environment="production")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "high"])
def test_a_value_that_is_not_a_finite_number_leaves_the_version_to_the_scalar_path(
    bad: object,
) -> None:
    assert summarise({"drift.psi": {"age": 0.1, "zip": bad}}) is None  # type: ignore[dict-item]
