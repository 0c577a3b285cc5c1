"""Drift and data-quality reports of a window from its merged per-block counts
(``ingest.counts``): the cost grows with the number of blocks, not rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from driftguard import stats
from driftguard.monitoring.report_models import (
    DriftFeature,
    DriftReport,
    QualityFeature,
    QualityReport,
)
from driftguard.monitoring.reports import CORRECTION, feature_drift_row, skipped_rows, without


def counts_drift_report(profile: stats.Profile, counts: stats.WindowCounts) -> DriftReport:
    """Drift of every profiled feature from the window's merged counts (KS bracketed)."""
    empty = [
        index
        for index, grid in enumerate(counts.grid_counts)
        if grid is not None and int(counts.bin_counts[index].sum()) == 0
    ]
    skipped = [counts.feature_names[i] for i in empty]
    features: list[DriftFeature] = []
    if len(skipped) < len(counts.feature_names):
        drift = stats.score_counts(
            without(profile, skipped), _without(counts, empty), correction=CORRECTION
        )
        features = [feature_drift_row(f, method="ks_grid") for f in drift.features]
    return DriftReport(
        method="counts", correction=CORRECTION, features=features, skipped=skipped_rows(skipped)
    )


def _without(counts: stats.WindowCounts, drop: Sequence[int]) -> stats.WindowCounts:
    keep = [i for i in range(len(counts.feature_names)) if i not in drop]
    return dataclasses.replace(
        counts,
        feature_names=tuple(counts.feature_names[i] for i in keep),
        bin_counts=tuple(counts.bin_counts[i] for i in keep),
        grid_counts=tuple(counts.grid_counts[i] for i in keep),
        n_missing=tuple(counts.n_missing[i] for i in keep),
    )


def counts_quality_report(profile: stats.Profile, counts: stats.WindowCounts) -> QualityReport:
    """Missing and unseen values from the counts (out-of-range needs the exact method)."""
    features = []
    for index, name in enumerate(counts.feature_names):
        bins = counts.bin_counts[index]
        n_missing = counts.n_missing[index]
        n = int(bins.sum()) + n_missing
        categorical = counts.grid_counts[index] is None
        n_unseen = int(bins[-1]) if categorical else None  # the last bucket pools unseen values
        features.append(
            QualityFeature(
                name=name,
                n=n,
                n_missing=n_missing,
                missing_rate=n_missing / n if n else None,
                n_unseen=n_unseen,
                unseen_rate=(n_unseen / n if n else None) if n_unseen is not None else None,
                out_of_range_rate=None,
            )
        )
    return QualityReport(method="counts", features=features, profile_id=profile.profile_id)
