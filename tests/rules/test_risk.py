"""Property tests of the Model Risk Index: bounded, deterministic, monotone, explained."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftguard.rules import Facts, compute_mri, parse_policy, tier_of
from driftguard.rules.document import Mri
from driftguard.rules.risk import COMPONENTS

MRI = Mri()
# One raw measurement per component; None = not measured.
measurement = st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False))
fraction = st.one_of(st.none(), st.floats(0, 1, allow_nan=False))
inputs = st.fixed_dictionaries(
    {
        "psi": measurement,
        "impact": fraction,
        "degradation": measurement,
        "missing": fraction,
        "days": measurement,
        "alerts": st.integers(0, 50),
        "critical": st.integers(0, 50),
        "tier": st.sampled_from([1, 2, 3]),
        "sensitive": st.integers(0, 3),
    }
)


def facts_of(x: dict[str, float | int | None]) -> Facts:
    return Facts(
        {
            "drift.psi": {"f": x["psi"]},
            "fairness.disparate_impact_ratio": {"g": x["impact"]},
            "performance.degradation": {"": x["degradation"]},
            "data_quality.missing_rate": {"f": x["missing"]},
            "validation.days_since": {"": x["days"]},
            "alerts.open": {"": float(x["alerts"]) + float(x["critical"])},  # type: ignore[arg-type]
            "alerts.open_critical": {"": float(x["critical"])},  # type: ignore[arg-type]
            "model.tier": {"": float(x["tier"])},  # type: ignore[arg-type]
            "model.sensitive_attributes": {"": float(x["sensitive"])},  # type: ignore[arg-type]
        }
    )


@given(inputs)
def test_bounded_deterministic_and_explained(x: dict[str, float | int | None]) -> None:
    risk = compute_mri(facts_of(x), MRI)
    assert 0 <= risk.score <= 100
    assert risk == compute_mri(facts_of(x), MRI)
    assert math.isclose(sum(c.contribution for c in risk.components), risk.score, abs_tol=1e-9)
    assert [c.name for c in risk.components] == list(COMPONENTS)
    assert all(0 <= c.value <= 1 for c in risk.components)


# Moving each measurement in its risky direction never lowers the score.
RISKIER = {
    "psi": lambda v: (v or 0) + 0.1,
    "impact": lambda v: max(0.0, (v if v is not None else 1.0) - 0.1),
    "degradation": lambda v: (v or 0) + 0.05,
    "missing": lambda v: min(1.0, (v or 0) + 0.05),
    "days": lambda v: (v or 0) + 30,
    "alerts": lambda v: v + 1,
    "critical": lambda v: v + 1,
    "tier": lambda v: max(1, v - 1),
}


@pytest.mark.parametrize("key", sorted(RISKIER))
@given(x=inputs)
def test_monotone_in_every_component(key: str, x: dict[str, float | int | None]) -> None:
    if x[key] is None:  # from "not measured" to measured is not a step in one direction
        return
    riskier = {**x, key: RISKIER[key](x[key])}
    assert compute_mri(facts_of(riskier), MRI).score >= compute_mri(facts_of(x), MRI).score - 1e-9


def test_bands_tiers_and_missing_evidence() -> None:
    nothing = compute_mri(Facts({"model.tier": {"": 1.0}}), MRI)
    # Drift, performance, data quality, staleness and alerts unmeasured: half risk each.
    assert nothing.score == pytest.approx(100 * 0.5 * (1 - MRI.weights.fairness))
    assert {c.name: c.evidence for c in nothing.components}["fairness"] == "not_applicable"
    assert (nothing.score, nothing.band) == (pytest.approx(40.0), "medium")
    worst = {
        "psi": 9.0,
        "impact": 0.0,
        "degradation": 1.0,
        "missing": 1.0,
        "days": 9e3,
        "alerts": 9,
        "critical": 9,
        "tier": 1,
        "sensitive": 1,
    }
    top = compute_mri(facts_of(worst), MRI)  # type: ignore[arg-type]
    assert (top.score, top.band) == (pytest.approx(100.0), "critical")
    low_tier = compute_mri(facts_of({**worst, "tier": 3}), MRI)  # type: ignore[arg-type]
    assert low_tier.score == pytest.approx(60.0)
    assert [tier_of(m, c) for m, c in [("high", "high"), ("medium", "medium"), ("low", "low")]] == [
        1,
        2,
        3,
    ]


def test_weights_come_from_the_policy() -> None:
    weights = {"drift": 1, "fairness": 0, "performance": 0, "data_quality": 0, "staleness": 0}
    policy = parse_policy({"mri": {"weights": {**weights, "alerts": 0}}})
    risk = compute_mri(Facts({"drift.psi": {"f": 0.25}, "model.tier": {"": 1.0}}), policy.mri)
    assert risk.score == pytest.approx(50.0)
