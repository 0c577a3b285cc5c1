"""A run's reports in the vocabulary policies judge."""

from __future__ import annotations

from typing import Any

import pytest

from driftguard.monitoring.facts import degradation, report_facts
from driftguard.monitoring.report_models import RunReports


def drift_row(feature: str, psi: float | None, p_value_adjusted: float | None) -> dict[str, Any]:
    unmeasured = dict.fromkeys(
        (
            "ks_statistic",
            "ks_statistic_upper_bound",
            "ks_error_bound",
            "wasserstein",
            "chi_square",
            "p_value",
        ),
    )
    return {
        "feature": feature,
        "kind": "numeric",
        "method": "ks_grid",
        "psi": psi,
        "jensen_shannon": None if psi is None else psi / 2,
        "p_value_adjusted": p_value_adjusted,
        "n_reference": 100,
        "n_current": 100,
        "n_missing": 0,
        **unmeasured,
    }


GENDER = {
    "disparate_impact_ratio": 0.7,
    "demographic_parity_difference": 0.2,
    "demographic_parity_ratio": 0.7,
    "equal_opportunity_difference": None,
    "equalized_odds_difference": None,
    "groups": [],
    "n": 100,
    "min_group_size": 30,
    "undefined_rates": "exclude",
}
REPORTS = RunReports.from_payloads(
    {
        "drift": {
            "method": "counts",
            "correction": "benjamini-hochberg",
            "skipped": [],
            "features": [
                drift_row("income", 0.4, 1e-6),
                drift_row("region", None, None),
            ],
        },
        "fairness": {
            "attributes": {
                "gender": GENDER,
                "age_band": {"skipped": "numeric attribute; declare a banded category"},
            }
        },
        "data_quality": {
            "method": "counts",
            "features": [
                {
                    "name": "income",
                    "n": 100,
                    "n_missing": 1,
                    "missing_rate": 0.01,
                    "n_unseen": None,
                    "out_of_range_rate": 0.0,
                    "unseen_rate": 0.0,
                },
            ],
        },
        "performance": {"n_labelled": 500, "accuracy": 0.8, "roc_auc": 0.72, "f1": None},
    }
)


def test_reports_become_facts_with_unmeasured_values_kept_as_none() -> None:
    facts = report_facts(REPORTS, task_type="binary_classification", training={"roc_auc": 0.8})
    assert facts.subjects("drift.psi") == {"income": 0.4, "region": None}
    assert facts.subjects("fairness.disparate_impact_ratio") == {"gender": 0.7, "age_band": None}
    assert facts.subjects("data_quality.missing_rate") == {"income": 0.01}
    assert facts.value("performance.n_labelled") == 500
    assert facts.value("performance.f1") is None
    assert facts.value("performance.degradation") == pytest.approx(0.1)


def test_skipped_performance_reports_measure_nothing() -> None:
    skipped = RunReports.from_payloads(
        {"performance": {"skipped": "labels are not all binary", "n_labelled": 5}}
    )
    facts = report_facts(skipped, task_type="binary_classification", training={"roc_auc": 0.8})
    assert facts.as_dict() == {}


def test_reports_unavailable_after_a_purge_measure_nothing() -> None:
    purged = RunReports.from_payloads(
        {
            "performance": {"unavailable": "raw predictions were purged", "source": "counts"},
            "fairness": {"unavailable": "raw predictions were purged", "source": "counts"},
        }
    )
    facts = report_facts(purged, task_type="binary_classification", training={"roc_auc": 0.8})
    assert facts.as_dict() == {}


@pytest.mark.parametrize(
    ("measured", "task", "training", "expected"),
    [
        ({"roc_auc": 0.9}, "binary_classification", {"roc_auc": 0.8}, 0.0),  # better: no loss
        ({"f1": 0.6, "roc_auc": None}, "binary_classification", {"f1": 0.8}, 0.25),
        ({"rmse": 5.0}, "regression", {"rmse": 4.0}, 0.25),  # lower is better
        ({"accuracy": 0.7}, "multiclass_classification", {}, None),  # nothing to compare with
    ],
)
def test_degradation_uses_the_primary_metric_in_its_direction(
    measured: dict[str, float], task: str, training: dict[str, float], expected: float | None
) -> None:
    found = degradation(measured, task, training)
    assert found == (None if expected is None else pytest.approx(expected))
