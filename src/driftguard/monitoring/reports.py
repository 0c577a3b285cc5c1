"""Monitoring reports for one window: statistics from ``driftguard.stats`` turned into the typed
report models of ``monitoring.report_models``. No thresholds here: reports measure; policies
(and alerts) decide."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from driftguard import stats
from driftguard.ingest.frames import LABEL, MISSING_CATEGORY, SCORE, FeatureSchema
from driftguard.monitoring.report_models import (
    AttributeFairness,
    AttributeSkipped,
    DriftFeature,
    DriftReport,
    FairnessReport,
    PerformanceReport,
    QualityReport,
    SkippedFeature,
)

# Groups smaller than this are flagged in fairness reports (kept, never dropped).
MIN_GROUP_SIZE = 30


def jsonable(value: Any) -> Any:
    """Dataclasses, tuples and numpy values as plain JSON values; NaN and infinities as null.
    A statistic's result goes through this on its way into a report model, so a model never
    holds NaN or a NumPy scalar."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def group_codes(column: pa.Array | pa.ChunkedArray) -> stats.GroupCodes:
    """A category column as the statistics' group codes (missing values as their own group,
    as :func:`stats_columns` counts them), from Arrow's dictionary encoding: no array of a
    million strings. Values NumPy cannot tell apart (trailing NULs) are one group, as when
    the statistics factorise labels themselves."""
    filled = pc.fill_null(column.cast(pa.string()), MISSING_CATEGORY)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    encoded = filled.dictionary_encode()
    names = np.asarray(encoded.dictionary.to_pylist(), dtype=str)
    distinct, position = np.unique(names, return_inverse=True)
    return stats.GroupCodes(names=distinct, codes=position[encoded.indices.to_numpy()])


def binary(labels: pa.Array | pa.ChunkedArray) -> NDArray[np.int64] | None:
    """0/1 outcomes from canonical labels, or None if any is missing or not binary."""
    positive = pc.is_in(labels, value_set=pa.array(["1", "true"]))
    negative = pc.is_in(labels, value_set=pa.array(["0", "false"]))
    if len(labels) == 0 or not pc.all(pc.or_(positive, negative)).as_py():
        return None
    return np.asarray(positive.to_numpy(zero_copy_only=False), dtype=np.int64)


def finite(value: float | None) -> float | None:
    """A statistic as a plain float, or None when it is missing, NaN or infinite."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def feature_drift_row(
    f: stats.FeatureDrift | stats.FeatureCountsDrift, *, method: str
) -> DriftFeature:
    """One feature's line of a drift report, from the exact or the counts statistics."""
    ks = f.ks
    bracket = ks if isinstance(ks, stats.KSApproxResult) else None
    return DriftFeature(
        feature=f.name,
        kind=f.kind,
        method=method if ks is not None else "chi_square",
        psi=finite(f.psi.statistic),
        jensen_shannon=finite(f.jensen_shannon.statistic),
        ks_statistic=finite(ks.statistic) if ks is not None else None,
        ks_statistic_upper_bound=finite(bracket.statistic_upper_bound) if bracket else None,
        ks_error_bound=finite(bracket.error_bound) if bracket else None,
        wasserstein=(
            finite(f.wasserstein.statistic)
            if isinstance(f, stats.FeatureDrift) and f.wasserstein is not None
            else None
        ),
        chi_square=finite(f.chi_square.statistic) if f.chi_square is not None else None,
        p_value=finite(f.p_value),
        p_value_adjusted=finite(f.p_value_adjusted),
        n_reference=int(f.n_reference),
        n_current=int(f.n_current),
        n_missing=int(f.n_missing),
    )


# A numeric feature with no value in the window has no distribution to compare: its drift is
# skipped with this reason, and data quality reports it as all missing.
ALL_MISSING = "every value is missing in this window (see data_quality)"
CORRECTION: Final = "benjamini-hochberg"


def without(profile: stats.Profile, skipped: Collection[str]) -> stats.Profile:
    """The profile less the ``skipped`` features; the id is kept, so counts made with the whole
    profile (narrowed alike) still match it."""
    kept = tuple(f for f in profile.features if f.name not in skipped)
    return dataclasses.replace(profile, features=kept)


def skipped_rows(skipped: Collection[str]) -> list[SkippedFeature]:
    """The drift report's lines for features whose every value is missing in the window."""
    return [SkippedFeature(feature=name, reason=ALL_MISSING) for name in skipped]


def drift_report(profile: stats.Profile, data: Mapping[str, NDArray[Any]]) -> DriftReport:
    """Drift of every profiled feature from the window's values (exact KS and Wasserstein)."""
    skipped = [
        f.name
        for f in profile.features
        if f.kind == "numeric" and bool(np.isnan(data[f.name]).all())
    ]
    features: list[DriftFeature] = []
    if len(skipped) < len(profile.features):
        kept = {name: values for name, values in data.items() if name not in skipped}
        drift = stats.score_window(
            without(profile, skipped), kept, correction=CORRECTION, nan_policy="omit"
        )
        features = [feature_drift_row(f, method="ks") for f in drift.features]
    return DriftReport(
        method="exact", correction=CORRECTION, features=features, skipped=skipped_rows(skipped)
    )


def quality_report(profile: stats.Profile, data: Mapping[str, NDArray[Any]]) -> QualityReport:
    """Missing values, type violations, out-of-range values and unseen categories, exactly."""
    return QualityReport.model_validate(
        {"method": "exact", **jsonable(stats.data_quality(profile, data))}
    )


def fairness_reports(
    window: pa.Table, schema: FeatureSchema, y_true: NDArray[np.int64] | None
) -> FairnessReport:
    """Per sensitive attribute, when the predicted labels are binary decisions."""
    y_pred = binary(window.column(LABEL))
    if y_pred is None:
        return FairnessReport(skipped="predicted labels are not all binary (0/1 or true/false)")
    reports: dict[str, AttributeFairness | AttributeSkipped] = {}
    for feature in schema.features:
        if feature.sensitive and feature.kind == "numeric":
            reports[feature.name] = AttributeSkipped(
                skipped="numeric attribute; declare a banded category"
            )
        elif feature.sensitive:
            groups = group_codes(window.column(feature.name))
            result = stats.fairness_metrics(
                y_pred, groups, y_true=y_true, min_group_size=MIN_GROUP_SIZE
            )
            reports[feature.name] = AttributeFairness.model_validate(jsonable(result))
    return FairnessReport(attributes=reports)


def performance_report(
    task_type: str, window: pa.Table, labels: pa.Array
) -> PerformanceReport | None:
    """Against the labels that have arrived; None when none has."""
    index = pc.indices_nonzero(pc.is_valid(labels))
    known = len(index)
    if not known:
        return None
    arrived = labels.take(index)
    if task_type == "regression":
        scores = window.column(SCORE).take(index).to_numpy(zero_copy_only=False)
        try:
            truth = pc.cast(arrived, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return PerformanceReport(skipped="some labels are not numbers", n_labelled=known)
        if np.isnan(scores).any() or not np.isfinite(truth).all():
            return PerformanceReport(
                skipped="some labelled predictions have no numeric score", n_labelled=known
            )
        return _measured(known, stats.regression_metrics(truth, scores))
    if task_type != "binary_classification":
        return PerformanceReport(
            skipped=f"no performance metrics for {task_type} yet", n_labelled=known
        )
    y_true = binary(arrived)
    y_pred = binary(window.column(LABEL).take(index))
    if y_true is None or y_pred is None:
        return PerformanceReport(
            skipped="labels are not all binary (0/1 or true/false)", n_labelled=known
        )
    scores = window.column(SCORE).take(index).to_numpy(zero_copy_only=False)
    y_score = None if np.isnan(scores).any() else scores
    return _measured(known, stats.classification_metrics(y_true, y_pred, y_score=y_score))


def _measured(
    n_labelled: int, metrics: stats.ClassificationMetrics | stats.RegressionMetrics
) -> PerformanceReport:
    return PerformanceReport.model_validate({"n_labelled": n_labelled, **jsonable(metrics)})
