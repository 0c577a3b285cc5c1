"""Multiple-testing correction of p-values across features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._validation import StatsInputError, as_float_1d, check_choice

__all__ = ["CorrectedPValues", "Correction", "correct_pvalues"]

Correction = Literal["bonferroni", "benjamini-hochberg"]


@dataclass(frozen=True, slots=True)
class CorrectedPValues:
    """Adjusted p-values, in the order given.

    Attributes
    ----------
    p_values : tuple of float
        The raw p-values.
    adjusted : tuple of float
        The adjusted p-values, each in [raw, 1].
    method : str
        ``"bonferroni"`` or ``"benjamini-hochberg"``.
    n_tests : int
        Number of p-values corrected together.
    """

    p_values: tuple[float, ...]
    adjusted: tuple[float, ...]
    method: str
    n_tests: int


def correct_pvalues(p_values: ArrayLike, *, method: Correction) -> CorrectedPValues:
    r"""Adjust p-values for testing many features at once.

    * ``"bonferroni"`` (family-wise error rate): :math:`\tilde p_i = \min(1, m\, p_i)`.
    * ``"benjamini-hochberg"`` (false discovery rate): with :math:`p_{(1)} \le \dots \le
      p_{(m)}`, :math:`\tilde p_{(i)} = \min_{k \ge i} \min(1, m\, p_{(k)} / k)`. Equal to
      ``scipy.stats.false_discovery_control(p, method="bh")``.

    Comparing adjusted p-values with a level is the caller's (policy's) decision.

    Parameters
    ----------
    p_values : array_like of shape (m,)
        Raw p-values in [0, 1]; NaN is rejected.
    method : {"bonferroni", "benjamini-hochberg"}, keyword-only

    Returns
    -------
    CorrectedPValues

    Raises
    ------
    StatsInputError
        Empty input, NaN, values outside [0, 1], or an unknown method.

    Examples
    --------
    >>> correct_pvalues([0.01, 0.04, 0.03], method="bonferroni").adjusted
    (0.03, 0.12, 0.09)
    >>> correct_pvalues([0.01, 0.04, 0.03], method="benjamini-hochberg").adjusted
    (0.03, 0.04, 0.04)
    """
    check_choice(method, name="method", choices=("bonferroni", "benjamini-hochberg"))
    p = as_float_1d(p_values, name="p_values")
    if np.any((p < 0) | (p > 1)):
        raise StatsInputError("p_values", "must lie in [0, 1]")
    m = p.shape[0]
    if method == "bonferroni":
        adjusted = np.minimum(p * m, 1.0)
    else:
        order = np.argsort(p, kind="stable")
        scaled = p[order] * m / np.arange(1, m + 1)
        running_min = np.minimum.accumulate(scaled[::-1])[::-1]
        adjusted = np.empty(m)
        # max with p: p * m / m can round one ulp below p.
        adjusted[order] = np.maximum(np.minimum(running_min, 1.0), p[order])
    return CorrectedPValues(
        p_values=tuple(p.tolist()), adjusted=tuple(adjusted.tolist()), method=method, n_tests=m
    )
