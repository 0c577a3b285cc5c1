"""The Model Risk Index (MRI): one explainable 0-100 number per model version.

Each component is a measurement mapped linearly onto [0, 1] (0 = no risk, 1 = the policy's "full
risk" scale, clipped there), weighted by the active policy and scaled by the inherent risk tier:

    MRI = 100 * f_tier * sum_i w_i * c_i,        sum_i w_i = 1,  0 <= c_i <= 1,  0 < f_tier <= 1

so ``0 <= MRI <= 100``, and each contribution ``100 * f_tier * w_i * c_i`` is stored beside the
total it sums to. A component with no evidence (no reference, no run, no labels) scores the
policy's ``missing_evidence`` value: an unmeasured model is not a safe one. docs/governance.md
works an example through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from driftguard.rules.document import Mri
from driftguard.rules.facts import Facts

Band = Literal["low", "medium", "high", "critical"]
Evidence = Literal["measured", "missing", "not_applicable"]
COMPONENTS = ("drift", "fairness", "performance", "data_quality", "staleness", "alerts")
_LEVEL_RANK = {"low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    measurement: float | None
    value: float
    weight: float
    contribution: float
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class RiskScore:
    score: float
    band: Band
    tier: int
    tier_factor: float
    components: tuple[Component, ...]


def tier_of(materiality: str, criticality: str) -> int:
    """Inherent risk tier from materiality and criticality (each low / medium / high).

    Tier 1 (highest) when the two ranks sum to 5 or more, tier 2 at 4, tier 3 below.

    >>> tier_of("high", "high"), tier_of("high", "medium"), tier_of("medium", "medium")
    (1, 1, 2)
    >>> tier_of("low", "high"), tier_of("low", "medium")
    (2, 3)
    """
    total = _LEVEL_RANK[materiality] + _LEVEL_RANK[criticality]
    return 1 if total >= 5 else 2 if total == 4 else 3


def _clip(x: float) -> float:
    return min(1.0, max(0.0, x))


def _worst(facts: Facts, fact: str, *, lowest: bool = False) -> float | None:
    values = [v for v in facts.subjects(fact).values() if v is not None]
    if not values:
        return None
    return min(values) if lowest else max(values)


def component_measurements(facts: Facts) -> dict[str, tuple[float | None, Evidence]]:
    """The raw measurement behind each component, and whether it was measured at all."""
    fairness_applicable = (facts.value("model.sensitive_attributes") or 0) > 0
    quality = [
        _worst(facts, f"data_quality.{name}")
        for name in ("missing_rate", "out_of_range_rate", "unseen_rate")
    ]
    measured_quality = [q for q in quality if q is not None]
    critical = facts.value("alerts.open_critical")
    total_alerts = facts.value("alerts.open")
    weighted_alerts = (
        None if total_alerts is None else total_alerts + (critical or 0)
    )  # a critical alert counts twice
    raw: dict[str, float | None] = {
        "drift": _worst(facts, "drift.psi"),
        "fairness": _worst(facts, "fairness.disparate_impact_ratio", lowest=True),
        "performance": facts.value("performance.degradation"),
        "data_quality": max(measured_quality) if measured_quality else None,
        "staleness": facts.value("validation.days_since"),
        "alerts": weighted_alerts,
    }
    result: dict[str, tuple[float | None, Evidence]] = {}
    for name, value in raw.items():
        if name == "fairness" and not fairness_applicable:
            result[name] = (None, "not_applicable")
        else:
            result[name] = (value, "missing" if value is None else "measured")
    return result


def _normalise(name: str, measurement: float, mri: Mri) -> float:
    scales = mri.scales
    if name == "drift":
        return _clip(measurement / scales.psi)
    if name == "fairness":  # a disparate impact ratio: 1 is parity, the floor is full risk
        return _clip((1 - measurement) / (1 - scales.disparate_impact_floor))
    if name == "performance":
        return _clip(measurement / scales.degradation)
    if name == "data_quality":
        return _clip(measurement / scales.missing_rate)
    if name == "staleness":
        return _clip(measurement / scales.staleness_days)
    return _clip(measurement / scales.open_alerts)


def band_of(score: float, mri: Mri) -> Band:
    """The MRI band a score falls in, by the bands' lower bounds."""
    bands = mri.bands
    if score >= bands.critical:
        return "critical"
    if score >= bands.high:
        return "high"
    return "medium" if score >= bands.medium else "low"


def compute_mri(facts: Facts, mri: Mri) -> RiskScore:
    """The MRI of a version from its facts, with the breakdown that explains it.

    >>> from driftguard.rules.document import Mri
    >>> facts = Facts({"drift.psi": {"income": 0.25}, "model.tier": {"": 1},
    ...     "performance.degradation": {"": 0.0}, "data_quality.missing_rate": {"age": 0.0},
    ...     "validation.days_since": {"": 0}, "alerts.open": {"": 0}})
    >>> risk = compute_mri(facts, Mri())
    >>> risk.score, risk.band, [(c.name, c.contribution) for c in risk.components][:2]
    (12.5, 'low', [('drift', 12.5), ('fairness', 0.0)])
    """
    tier = int(facts.value("model.tier") or 1)
    factor = float(getattr(mri.tier_factors, f"tier_{tier}"))
    weights = mri.weights.model_dump()
    components = []
    for name, (measurement, evidence) in component_measurements(facts).items():
        if evidence == "measured" and measurement is not None:
            value = _normalise(name, measurement, mri)
        elif evidence == "missing":
            value = float(mri.scales.missing_evidence)
        else:
            value = 0.0
        weight = float(weights[name])
        components.append(
            Component(
                name=name,
                measurement=measurement,
                value=value,
                weight=weight,
                contribution=100 * factor * weight * value,
                evidence=evidence,
            )
        )
    score = sum(c.contribution for c in components)
    return RiskScore(
        score=score,
        band=band_of(score, mri),
        tier=tier,
        tier_factor=factor,
        components=tuple(components),
    )
