"""Scoring current windows against a fitted profile, feature by feature."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._binning import UnseenCategories, category_counts, counts_sorted
from ._chi_square import ChiSquareResult, chi_square_from_counts
from ._columns import NanPolicy, Table, label_column, map_columns, numeric_column, split_columns
from ._jensen_shannon import JensenShannonResult, jensen_shannon_from_counts
from ._ks import KSMethod, KSResult, ks_from_sorted
from ._multitest import Correction, correct_pvalues
from ._profile import FeatureProfile, NumericFeatureProfile, Profile
from ._psi import EmptyBins, PSIResult, psi_from_counts
from ._validation import StatsInputError, check_choice
from ._wasserstein import WassersteinResult, wasserstein_from_sorted

__all__ = ["FeatureDrift", "WindowDrift", "score_window"]


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """All drift statistics of one feature in one window.

    Attributes
    ----------
    name, kind : str
        Feature name; ``"numeric"`` or ``"categorical"``.
    n_reference, n_current, n_missing : int
        Sample sizes used, and current values dropped as missing.
    psi, jensen_shannon
        Binned statistics on the profile's bins.
    ks, wasserstein
        Exact KS test and Wasserstein distance (numeric features; ``None`` otherwise, or
        ``wasserstein=None`` when not requested).
    chi_square
        Chi-square test (categorical features; ``None`` otherwise).
    p_value : float
        The feature's test p-value: KS for numeric features, chi-square for categorical ones.
    p_value_adjusted : float or None
        ``p_value`` corrected across the window's features, when a correction was requested.
    """

    name: str
    kind: str
    n_reference: int
    n_current: int
    n_missing: int
    psi: PSIResult
    jensen_shannon: JensenShannonResult
    ks: KSResult | None
    wasserstein: WassersteinResult | None
    chi_square: ChiSquareResult | None
    p_value: float
    p_value_adjusted: float | None = None


@dataclass(frozen=True, slots=True)
class WindowDrift:
    """Drift of every profiled feature in one window.

    Attributes
    ----------
    features : tuple of FeatureDrift
        In profile order.
    correction : str or None
        Multiple-testing correction applied to ``p_value_adjusted``.
    profile_id : str
        The profile the window was scored against.
    """

    features: tuple[FeatureDrift, ...]
    correction: str | None
    profile_id: str

    def feature(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.name == name:
                return f
        raise StatsInputError("name", f"no feature {name!r} in this window")


def current_columns(profile: Profile, current: Table) -> list[tuple[FeatureProfile, Any]]:
    columns = split_columns(current, name="current", feature_names=profile.feature_names)
    missing = [n for n in profile.feature_names if n not in columns]
    if missing:
        raise StatsInputError("current", f"lacks profiled features {missing}")
    return [(f, columns[f.name]) for f in profile.features]


def column_rows(items: list[tuple[FeatureProfile, Any]]) -> int:
    return max(int(np.shape(values)[0]) for _, values in items)


def apply_correction(features: Sequence[Any], correction: Correction | None) -> tuple[Any, ...]:
    if correction is None:
        return tuple(features)
    adjusted = correct_pvalues([f.p_value for f in features], method=correction).adjusted
    return tuple(replace(f, p_value_adjusted=a) for f, a in zip(features, adjusted, strict=True))


def score_window(
    profile: Profile,
    current: Table,
    *,
    correction: Correction | None = None,
    nan_policy: NanPolicy = "raise",
    ks_method: KSMethod = "auto",
    empty_bins: EmptyBins = "floor",
    smoothing: float = 1e-4,
    unseen_categories: UnseenCategories = "pool",
    wasserstein: bool = True,
    n_jobs: int | None = None,
) -> WindowDrift:
    """Score every feature of a current window against a fitted profile, without refitting.

    Numeric features get PSI and Jensen-Shannon on the profile's bins, the exact two-sample KS
    test (equal to :func:`scipy.stats.ks_2samp`) against the stored sorted reference, and the
    Wasserstein distance. Categorical features get PSI, Jensen-Shannon and the chi-square test.
    Each current column is sorted once; everything else is a linear merge with the sorted
    reference. Features are processed in parallel threads.

    Parameters
    ----------
    profile : Profile
        From :func:`driftguard.stats.fit_profile`.
    current : mapping of str to array_like, or array_like of shape (n, k)
        The window. Mappings must contain every profiled feature (extra columns are ignored);
        2-D arrays must have the profile's columns in profile order.
    correction : {"bonferroni", "benjamini-hochberg"}, optional
        Correct the per-feature p-values across features (``p_value_adjusted``).
    nan_policy : {"raise", "omit"}, default "raise"
        Reject NaN in numeric columns, or drop them (reported as ``n_missing``).
    ks_method : {"auto", "exact", "asymp"}, default "auto"
        As in :func:`driftguard.stats.ks_2samp`.
    empty_bins, smoothing
        PSI empty-bin handling, as in :func:`driftguard.stats.psi`.
    unseen_categories : {"pool", "raise"}, default "pool"
        Categories never seen in the reference: pooled into one bucket, or an error.
    wasserstein : bool, default True
        Also compute the Wasserstein distance of numeric features.
    n_jobs : int, optional
        Threads across features (default: all CPUs).

    Returns
    -------
    WindowDrift

    Raises
    ------
    StatsInputError
        Missing features, bad dtypes, NaN with ``nan_policy="raise"``, unseen categories with
        ``unseen_categories="raise"``, bad options.

    Examples
    --------
    >>> from driftguard.stats import fit_profile
    >>> profile = fit_profile({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]}, n_bins=4)
    >>> window = score_window(profile, {"x": [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]})
    >>> drift = window.feature("x")
    >>> drift.ks.statistic, round(drift.ks.p_value, 4), drift.n_current
    (0.5, 0.3017, 6)
    >>> round(drift.psi.statistic, 4), drift.wasserstein.statistic
    (4.3431, 3.0)
    """
    check_choice(ks_method, name="ks_method", choices=("auto", "exact", "asymp"))
    check_choice(empty_bins, name="empty_bins", choices=("floor", "additive"))
    check_choice(unseen_categories, name="unseen_categories", choices=("pool", "raise"))
    check_choice(nan_policy, name="nan_policy", choices=("raise", "omit"))
    if correction is not None:
        check_choice(correction, name="correction", choices=("bonferroni", "benjamini-hochberg"))
    items = current_columns(profile, current)

    def score_one(item: tuple[FeatureProfile, Any]) -> FeatureDrift:
        fp, values = item
        arg = f"current[{fp.name!r}]"
        if isinstance(fp, NumericFeatureProfile):
            cur, n_missing = numeric_column(values, name=arg, nan_policy=nan_policy, copy=True)
            cur.sort()
            counts = counts_sorted(cur, fp.edges)
            ks = ks_from_sorted(fp.sorted_values, cur, method=ks_method)
            w_result = (
                wasserstein_from_sorted(fp.sorted_values, cur, reference_std=fp.std)
                if wasserstein
                else None
            )
            chi = None
            p_value = ks.p_value
        else:
            labels = label_column(values, name=arg)
            n_missing = 0
            counts, _ = category_counts(
                labels, fp.categories, name=arg, unseen_categories=unseen_categories
            )
            ks, w_result = None, None
            chi = chi_square_from_counts(fp.bin_counts, counts, bins=fp.bins)
            p_value = chi.p_value
        return FeatureDrift(
            name=fp.name,
            kind=fp.kind,
            n_reference=fp.n,
            n_current=int(counts.sum()),
            n_missing=n_missing,
            psi=psi_from_counts(
                fp.bin_counts, counts, bins=fp.bins, empty_bins=empty_bins, smoothing=smoothing
            ),
            jensen_shannon=jensen_shannon_from_counts(fp.bin_counts, counts, bins=fp.bins),
            ks=ks,
            wasserstein=w_result,
            chi_square=chi,
            p_value=p_value,
        )

    features = map_columns(score_one, items, n_jobs=n_jobs, rows=column_rows(items))
    return WindowDrift(
        features=apply_correction(features, correction),
        correction=correction,
        profile_id=profile.profile_id,
    )
