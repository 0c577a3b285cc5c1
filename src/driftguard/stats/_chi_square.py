"""Pearson chi-square test of homogeneity for categorical drift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as _sps

from ._binning import Bins, UnseenCategories, binned_counts
from ._validation import StatsInputError

__all__ = ["ChiSquareResult", "chi_square", "chi_square_from_counts"]


@dataclass(frozen=True, slots=True)
class ChiSquareResult:
    """Chi-square test of homogeneity of two categorical samples.

    Attributes
    ----------
    statistic : float
        Pearson's ``X^2`` (no continuity correction).
    p_value : float
        Upper tail of the chi-square distribution with ``dof`` degrees of freedom.
    dof : int
        Degrees of freedom: number of categories observed in either sample, minus one.
    n_reference, n_current : int
        Sample sizes.
    bins : Bins
        The reference categories (plus the pooled unseen bucket).
    """

    statistic: float
    p_value: float
    dof: int
    n_reference: int
    n_current: int
    bins: Bins


def chi_square(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    unseen_categories: UnseenCategories = "pool",
) -> ChiSquareResult:
    r"""Pearson chi-square test that two categorical samples share one distribution.

    The 2 x K contingency table has one row per sample and one column per reference category,
    plus one column pooling categories never seen in the reference:

    .. math::

        X^2 = \sum_{r, k} \frac{(O_{rk} - E_{rk})^2}{E_{rk}}, \quad
        E_{rk} = \frac{n_r \, c_k}{n_{ref} + n_{cur}}

    Columns empty in both samples are dropped, so ``dof = K_observed - 1``; with a single
    observed column the statistic is 0 and the p-value 1. Equal to
    ``scipy.stats.chi2_contingency(table, correction=False)``.

    Parameters
    ----------
    reference, current : array_like of shape (n,)
        Category labels (strings, integers or booleans).
    unseen_categories : {"pool", "raise"}, default "pool"
        Pool categories never seen in the reference into one column, or raise.

    Returns
    -------
    ChiSquareResult

    Raises
    ------
    StatsInputError
        Empty or non-categorical input, mismatched label dtypes, unknown
        ``unseen_categories``, or an unseen category with ``unseen_categories="raise"``.

    Examples
    --------
    >>> res = chi_square(["a"] * 50 + ["b"] * 50, ["a"] * 30 + ["b"] * 60 + ["c"] * 10)
    >>> round(res.statistic, 4), res.dof, f"{res.p_value:.2e}"
    (15.9091, 2, '3.51e-04')
    """
    bins, ref_counts, cur_counts = binned_counts(
        reference,
        current,
        categorical=True,
        n_bins=1,
        binning="quantile",
        unseen_categories=unseen_categories,
    )
    return chi_square_from_counts(ref_counts, cur_counts, bins=bins)


def chi_square_from_counts(
    reference_counts: NDArray[np.int64], current_counts: NDArray[np.int64], *, bins: Bins
) -> ChiSquareResult:
    """Chi-square test from per-category counts; see :func:`chi_square`."""
    n_ref, n_cur = int(reference_counts.sum()), int(current_counts.sum())
    if n_ref == 0:
        raise StatsInputError("reference", "must not be empty")
    if n_cur == 0:
        raise StatsInputError("current", "must not be empty")
    column_totals = reference_counts + current_counts
    keep = column_totals > 0
    observed = np.vstack((reference_counts[keep], current_counts[keep])).astype(np.float64)
    dof = int(keep.sum()) - 1
    if dof == 0:
        return ChiSquareResult(0.0, 1.0, 0, n_ref, n_cur, bins)
    expected = np.outer([n_ref, n_cur], column_totals[keep]) / (n_ref + n_cur)
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    p_value = float(_sps.chi2.sf(statistic, dof))
    return ChiSquareResult(statistic, p_value, dof, n_ref, n_cur, bins)
