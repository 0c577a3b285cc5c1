"""The worked example of docs/governance.md, computed."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftguard.rules import Facts, compute_mri, tier_of
from driftguard.rules.document import Mri

DOC = Path(__file__).parents[2] / "docs" / "governance.md"


def test_the_documented_worked_example_is_what_the_code_computes() -> None:
    facts = Facts(
        {
            "drift.psi": {"income": 0.30, "age": 0.10},
            "fairness.disparate_impact_ratio": {"gender": 0.72},
            "performance.degradation": {"": 0.05},
            "data_quality.missing_rate": {"income": 0.02},
            "validation.days_since": {"": 90.0},
            "alerts.open": {"": 2.0},
            "alerts.open_critical": {"": 1.0},
            "model.tier": {"": float(tier_of("high", "low"))},
            "model.sensitive_attributes": {"": 1.0},
        }
    )
    risk = compute_mri(facts, Mri())
    contributions = {c.name: round(c.contribution, 2) for c in risk.components}
    assert contributions == {
        "drift": 12.0,
        "fairness": 8.96,
        "performance": 4.0,
        "data_quality": 0.8,
        "staleness": 1.97,
        "alerts": 7.2,
    }
    assert (round(risk.score, 2), risk.band, risk.tier) == (34.93, "medium", 2)
    text = DOC.read_text()
    assert f"**{risk.score:.2f} — {risk.band}**" in text
    for value in contributions.values():
        assert f"| {value:.2f} |" in text
    assert pytest.approx(sum(contributions.values()), abs=0.01) == risk.score
