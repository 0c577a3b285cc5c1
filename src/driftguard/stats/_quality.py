"""Data quality of a current window against a reference profile."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._columns import Table
from ._profile import NumericFeatureProfile, Profile
from ._window import current_columns

__all__ = ["DataQualityResult", "FeatureQuality", "data_quality"]


@dataclass(frozen=True, slots=True)
class FeatureQuality:
    """Quality counts of one feature. Rates are over all ``n`` rows.

    Attributes
    ----------
    name, kind : str
    n : int
        Rows in the window.
    n_missing : int
        ``None`` or NaN values.
    n_type_violations : int
        Values of the wrong type: non-numbers (or infinities) in a numeric feature; values of
        another type than the reference categories in a categorical one.
    n_out_of_range : int
        Numeric values outside ``[min, max]`` of the reference (0 for categorical features).
    n_unseen : int
        Categorical values never seen in the reference (0 for numeric features).
    unseen_categories : tuple
        The distinct unseen categories, sorted.
    missing_rate, type_violation_rate, out_of_range_rate, unseen_rate : float
    """

    name: str
    kind: str
    n: int
    n_missing: int
    n_type_violations: int
    n_out_of_range: int
    n_unseen: int
    unseen_categories: tuple[str | int | bool, ...]
    missing_rate: float
    type_violation_rate: float
    out_of_range_rate: float
    unseen_rate: float


@dataclass(frozen=True, slots=True)
class DataQualityResult:
    """Per-feature data quality of one window, in profile order."""

    features: tuple[FeatureQuality, ...]
    profile_id: str


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _numeric_split(values: NDArray[Any]) -> tuple[NDArray[np.float64], int, int]:
    """Valid finite numbers, number missing, number of type violations."""
    kind = values.dtype.kind
    if kind in "iu":
        return values.astype(np.float64), 0, 0
    if kind == "f":
        arr = values.astype(np.float64, copy=False)
        missing = np.isnan(arr)
        bad = np.isinf(arr)
        return arr[~(missing | bad)], int(missing.sum()), int(bad.sum())
    if kind != "O":
        return np.empty(0), 0, int(values.shape[0])
    valid: list[float] = []
    n_missing = n_bad = 0
    for v in values.tolist():
        if _is_missing(v):
            n_missing += 1
        elif isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            valid.append(float(v))
        else:
            n_bad += 1
    return np.asarray(valid, dtype=np.float64), n_missing, n_bad


def _label_split(values: NDArray[Any], categories: NDArray[Any]) -> tuple[list[Any], int, int]:
    """Valid labels, number missing, number of type violations."""
    want = str if categories.dtype.kind == "U" else (bool if categories.dtype.kind == "b" else int)
    if values.dtype.kind in "UO" or values.dtype.kind in "biu":
        items = values.tolist()
    else:
        arr = values.astype(np.float64)
        items = [None if math.isnan(v) else v for v in arr.tolist()]
    valid: list[Any] = []
    n_missing = n_bad = 0
    for v in items:
        if _is_missing(v):
            n_missing += 1
        elif isinstance(v, want) and (want is bool or not isinstance(v, bool)):
            valid.append(v)
        else:
            n_bad += 1
    return valid, n_missing, n_bad


def data_quality(profile: Profile, current: Table) -> DataQualityResult:
    """Missing values, type violations, out-of-range and unseen values per feature.

    Unlike the drift scorers this accepts dirty columns (object arrays with ``None``, NaN,
    strings in numeric features) and counts the problems instead of raising.

    Parameters
    ----------
    profile : Profile
        Reference profile (gives the reference range and categories).
    current : mapping of str to array_like, or array_like of shape (n, k)
        The window, as in :func:`driftguard.stats.score_window`.

    Returns
    -------
    DataQualityResult

    Raises
    ------
    StatsInputError
        Missing features, or an empty or ragged window.

    Examples
    --------
    >>> from driftguard.stats import fit_profile
    >>> profile = fit_profile({"age": [20.0, 30.0, 40.0], "plan": ["a", "b", "b"]})
    >>> window = {"age": [25.0, None, 99.0, "n/a"], "plan": ["a", "c", None, "c"]}
    >>> q = data_quality(profile, window)
    >>> age, plan = q.features
    >>> age.n_missing, age.n_type_violations, age.n_out_of_range, age.out_of_range_rate
    (1, 1, 1, 0.25)
    >>> plan.n_missing, plan.n_unseen, plan.unseen_categories
    (1, 2, ('c',))
    """
    features = []
    for fp, values in current_columns(profile, current):
        n = int(values.shape[0])
        n_out = n_unseen = 0
        unseen: tuple[Any, ...] = ()
        if isinstance(fp, NumericFeatureProfile):
            valid, n_missing, n_bad = _numeric_split(values)
            low, high = fp.sorted_values[0], fp.sorted_values[-1]
            n_out = int(np.count_nonzero((valid < low) | (valid > high)))
        else:
            labels, n_missing, n_bad = _label_split(values, fp.categories)
            known = set(fp.categories.tolist())
            new = [v for v in labels if v not in known]
            n_unseen = len(new)
            unseen = tuple(sorted(set(new)))
        features.append(
            FeatureQuality(
                name=fp.name,
                kind=fp.kind,
                n=n,
                n_missing=n_missing,
                n_type_violations=n_bad,
                n_out_of_range=n_out,
                n_unseen=n_unseen,
                unseen_categories=unseen,
                missing_rate=n_missing / n,
                type_violation_rate=n_bad / n,
                out_of_range_rate=n_out / n,
                unseen_rate=n_unseen / n,
            )
        )
    return DataQualityResult(features=tuple(features), profile_id=profile.profile_id)
