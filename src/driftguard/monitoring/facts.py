"""The facts a monitoring run measured, in the vocabulary policies judge (``rules.facts``).

Every completed run stores the latest window's facts of its version as a small snapshot, so
governance (deployment decisions, risk scores, portfolio simulations) reads one row per version
instead of re-reading reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from driftguard.monitoring.orm import MonitoringRun, VersionFacts
from driftguard.monitoring.report_models import AttributeFairness, RunReports
from driftguard.registry.orm import ModelVersion
from driftguard.rules import WHOLE, Facts
from driftguard.rules.portfolio import summarise

# The metric whose loss against training measures degradation, best first, per task.
_PRIMARY: dict[str, tuple[tuple[str, bool], ...]] = {
    # (metric, higher is better)
    "binary_classification": (("roc_auc", True), ("f1", True), ("accuracy", True)),
    "multiclass_classification": (("accuracy", True),),
    "regression": (("rmse", False), ("mae", False)),
}
_PERFORMANCE = ("accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse")
_QUALITY = ("missing_rate", "out_of_range_rate", "unseen_rate")
_FAIRNESS = (
    "disparate_impact_ratio",
    "demographic_parity_difference",
    "equal_opportunity_difference",
)


def report_facts(reports: RunReports, *, task_type: str, training: Mapping[str, float]) -> Facts:
    """Drift, fairness, data-quality and performance facts of one run's reports."""
    values: dict[str, dict[str, float | None]] = {}

    def put(fact: str, subject: str, value: float | None) -> None:
        values.setdefault(fact, {})[subject] = None if value is None else float(value)

    if reports.drift is not None:
        for row in reports.drift.features:
            put("drift.psi", row.feature, row.psi)
            put("drift.jensen_shannon", row.feature, row.jensen_shannon)
            put("drift.p_value_adjusted", row.feature, row.p_value_adjusted)
    if reports.fairness is not None and reports.fairness.attributes is not None:
        for attribute, result in reports.fairness.attributes.items():
            fairness = result if isinstance(result, AttributeFairness) else None
            for key in _FAIRNESS:
                put(f"fairness.{key}", attribute, getattr(fairness, key, None))
    if reports.data_quality is not None:
        for quality in reports.data_quality.features:
            for key in _QUALITY:
                put(f"data_quality.{key}", quality.name, getattr(quality, key))
    performance = reports.performance
    # Not computed ("skipped": not applicable; "unavailable": its raw rows were purged).
    if performance is not None and performance.measured:
        put("performance.n_labelled", WHOLE, performance.n_labelled)
        measured = performance.model_dump(include=set(_PERFORMANCE), exclude_unset=True)
        for key, value in measured.items():
            put(f"performance.{key}", WHOLE, value)
        put("performance.degradation", WHOLE, degradation(measured, task_type, training))
    if reports.oversight is not None:
        put("oversight.override_rate", WHOLE, reports.oversight.override_rate)
    return Facts(values)


def degradation(
    measured: Mapping[str, Any], task_type: str, training: Mapping[str, float]
) -> float | None:
    """Relative loss of the primary metric against its training value (0 when not worse).

    >>> degradation({"roc_auc": 0.72}, "binary_classification", {"roc_auc": 0.8})
    0.09999999999999995
    >>> degradation({"rmse": 5.0}, "regression", {"rmse": 4.0}), degradation({}, "regression", {})
    (0.25, None)
    """
    for metric, higher_is_better in _PRIMARY.get(task_type, ()):
        now, then = measured.get(metric), training.get(metric)
        if isinstance(now, int | float) and then:
            loss = (then - now) / abs(then) if higher_is_better else (now - then) / abs(then)
            return max(0.0, float(loss))
    return None


def store_snapshot(
    session: Session, *, version: ModelVersion, run: MonitoringRun, facts: Facts
) -> None:
    """Keep the newest window's facts of the version (an older window never overwrites)."""
    document = facts.as_dict()
    document["monitoring.n_predictions"] = {WHOLE: float(run.n_predictions)}
    snapshot = session.get(VersionFacts, version.id)
    if snapshot is None:
        session.add(
            VersionFacts(
                version_id=version.id,
                run_id=run.id,
                window_end=run.window_end,
                measured_at=run.created_at,
                facts=document,
                summary=summarise(document),
            )
        )
    elif run.window_end >= snapshot.window_end:
        snapshot.run_id, snapshot.window_end = run.id, run.window_end
        snapshot.measured_at, snapshot.facts = run.created_at, document
        snapshot.summary = summarise(document)
    session.flush()
