"""Jensen-Shannon distance on reference bins."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._binning import Binning, Bins, UnseenCategories, binned_counts
from ._validation import StatsInputError

__all__ = ["JensenShannonResult", "jensen_shannon_distance", "jensen_shannon_from_counts"]


@dataclass(frozen=True, slots=True)
class JensenShannonResult:
    """Jensen-Shannon distance (base-2 logarithm, so in [0, 1]).

    Attributes
    ----------
    statistic : float
        ``sqrt(JSD)`` with logarithms in base 2.
    n_reference, n_current : int
        Sample sizes.
    bins : Bins
        The bins used.
    reference_proportions, current_proportions : tuple of float
        Raw per-bin proportions (no smoothing is needed: ``0 log 0 = 0``).
    """

    statistic: float
    n_reference: int
    n_current: int
    bins: Bins
    reference_proportions: tuple[float, ...]
    current_proportions: tuple[float, ...]


def jensen_shannon_distance(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    n_bins: int = 10,
    binning: Binning = "quantile",
    categorical: bool = False,
    unseen_categories: UnseenCategories = "pool",
) -> JensenShannonResult:
    r"""Jensen-Shannon distance between the binned reference and current distributions.

    .. math::

        JS(P, Q) = \sqrt{\tfrac12 \mathrm{KL}(P \| M) + \tfrac12 \mathrm{KL}(Q \| M)},
        \quad M = \tfrac12 (P + Q), \quad \mathrm{KL}(P \| M) = \sum_k p_k \log_2 (p_k / m_k)

    with base-2 logarithms, so the distance lies in ``[0, 1]``: 0 for identical proportions, 1
    for disjoint support. Terms with ``p_k = 0`` are 0, so empty bins need no smoothing. Equal to
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` on the same proportions.

    Parameters
    ----------
    reference, current : array_like of shape (n,)
        Numeric samples (NaN rejected), or labels when ``categorical=True``.
    n_bins, binning, categorical, unseen_categories
        Binning on the reference, exactly as in :func:`driftguard.stats.psi`.

    Returns
    -------
    JensenShannonResult

    Raises
    ------
    StatsInputError
        As for :func:`driftguard.stats.psi`.

    Examples
    --------
    >>> res = jensen_shannon_distance(["a", "a", "b"], ["b", "b", "c"], categorical=True)
    >>> round(res.statistic, 6), res.bins.categories
    (0.735426, ('a', 'b'))
    >>> jensen_shannon_distance([1.0, 2.0, 3.0], [3.0, 1.0, 2.0]).statistic
    0.0
    """
    bins, ref_counts, cur_counts = binned_counts(
        reference,
        current,
        categorical=categorical,
        n_bins=n_bins,
        binning=binning,
        unseen_categories=unseen_categories,
    )
    return jensen_shannon_from_counts(ref_counts, cur_counts, bins=bins)


def _kl_to_mixture(p: NDArray[np.float64], m: NDArray[np.float64]) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / m[mask])))


def jensen_shannon_from_counts(
    reference_counts: NDArray[np.int64], current_counts: NDArray[np.int64], *, bins: Bins
) -> JensenShannonResult:
    """Jensen-Shannon distance from per-bin counts; see :func:`jensen_shannon_distance`."""
    n_ref, n_cur = int(reference_counts.sum()), int(current_counts.sum())
    if n_ref == 0:
        raise StatsInputError("reference", "must not be empty")
    if n_cur == 0:
        raise StatsInputError("current", "must not be empty")
    p = reference_counts / n_ref
    q = current_counts / n_cur
    m = 0.5 * (p + q)
    divergence = 0.5 * _kl_to_mixture(p, m) + 0.5 * _kl_to_mixture(q, m)
    # Rounding can push a zero divergence slightly negative or a maximal one above 1.
    distance = float(np.sqrt(min(max(divergence, 0.0), 1.0)))
    return JensenShannonResult(
        statistic=distance,
        n_reference=n_ref,
        n_current=n_cur,
        bins=bins,
        reference_proportions=tuple(p.tolist()),
        current_proportions=tuple(q.tolist()),
    )
