"""First Wasserstein (earth mover's) distance between two samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._binning import population_std
from ._validation import as_float_1d

__all__ = ["WassersteinResult", "wasserstein_distance"]


@dataclass(frozen=True, slots=True)
class WassersteinResult:
    """First Wasserstein distance, raw and scaled by the reference spread.

    Attributes
    ----------
    statistic : float
        ``W1`` in the units of the data.
    normalized_statistic : float or None
        ``W1 / std(reference)`` (population standard deviation, ``ddof=0``); unitless and
        comparable across features. ``None`` when the reference is constant (std 0).
    reference_std : float
        The population standard deviation of the reference.
    n_reference, n_current : int
        Sample sizes.
    """

    statistic: float
    normalized_statistic: float | None
    reference_std: float
    n_reference: int
    n_current: int


def wasserstein_distance(reference: ArrayLike, current: ArrayLike) -> WassersteinResult:
    r"""First Wasserstein distance between the empirical distributions of two samples.

    .. math::

        W_1 = \int_{-\infty}^{\infty} |F_{ref}(x) - F_{cur}(x)| \, dx
            = \int_0^1 |F_{ref}^{-1}(u) - F_{cur}^{-1}(u)| \, du

    Equal to :func:`scipy.stats.wasserstein_distance` (unweighted). The normalised value divides
    by the reference population standard deviation so that features on different scales can be
    compared.

    Parameters
    ----------
    reference, current : array_like of shape (n,)
        Numeric samples; NaN and infinities are rejected.

    Returns
    -------
    WassersteinResult

    Raises
    ------
    StatsInputError
        Empty, non-numeric, non-1-D input, NaN or infinities.

    Examples
    --------
    >>> res = wasserstein_distance([0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0])
    >>> res.statistic, round(res.normalized_statistic, 6)
    (1.0, 0.894427)
    >>> wasserstein_distance([1.0, 1.0], [1.0, 3.0]).normalized_statistic is None
    True
    """
    ref = np.sort(as_float_1d(reference, name="reference"))
    cur = np.sort(as_float_1d(current, name="current"))
    return wasserstein_from_sorted(ref, cur, reference_std=population_std(ref))


def wasserstein_from_sorted(
    ref_sorted: NDArray[np.float64], cur_sorted: NDArray[np.float64], *, reference_std: float
) -> WassersteinResult:
    """``W1`` of two sorted samples in O(n1 + n2), without merging the data.

    On the integer scale ``t = u * n1 * n2`` the quantile functions jump at ``i * n2`` and
    ``j * n1``. The merged order of these two arithmetic progressions is known in closed form,
    so each piece of the integral is read off directly.
    """
    n1, n2 = int(ref_sorted.shape[0]), int(cur_sorted.shape[0])
    i = np.arange(1, n1 + 1, dtype=np.int64)
    j = np.arange(1, n2 + 1, dtype=np.int64)
    ti, tj = i * n2, j * n1
    # Position of i*n2 among all breakpoints: (i-1) earlier of its own, #{j: j*n1 < i*n2} others.
    pos_i = (i - 1) + (ti - 1) // n1
    pos_j = (j - 1) + tj // n2
    breaks = np.empty(n1 + n2, dtype=np.int64)
    breaks[pos_i] = ti
    breaks[pos_j] = tj
    widths = np.diff(breaks, prepend=0)
    # On (t_{k-1}, t_k] the quantiles are ref[ceil(t_k / n2) - 1] and cur[ceil(t_k / n1) - 1].
    q_ref = ref_sorted[-(-breaks // n2) - 1]
    q_cur = cur_sorted[-(-breaks // n1) - 1]
    statistic = float(np.sum(widths * np.abs(q_ref - q_cur)) / (n1 * n2))
    normalized = statistic / reference_std if reference_std > 0 else None
    return WassersteinResult(
        statistic=statistic,
        normalized_statistic=normalized,
        reference_std=reference_std,
        n_reference=n1,
        n_current=n2,
    )
