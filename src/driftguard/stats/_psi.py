"""Population Stability Index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._binning import Binning, Bins, UnseenCategories, binned_counts
from ._validation import StatsInputError, check_choice

__all__ = ["EmptyBins", "PSIResult", "psi", "psi_from_counts"]

EmptyBins = Literal["floor", "additive"]


@dataclass(frozen=True, slots=True)
class PSIResult:
    """Population Stability Index and everything needed to explain it.

    Attributes
    ----------
    statistic : float
        The PSI, ``>= 0``.
    n_reference, n_current : int
        Sample sizes.
    bins : Bins
        The bins used (edges or categories, bins requested and used).
    reference_proportions, current_proportions : tuple of float
        Per-bin proportions after the empty-bin handling below.
    contributions : tuple of float
        Per-bin terms ``(p_ref - p_cur) * ln(p_ref / p_cur)``; they sum to ``statistic``.
    empty_bins : str
        ``"floor"`` or ``"additive"``: how proportions of empty bins were made positive.
    smoothing : float
        The floor ``epsilon`` or the additive pseudo-count ``alpha``.
    """

    statistic: float
    n_reference: int
    n_current: int
    bins: Bins
    reference_proportions: tuple[float, ...]
    current_proportions: tuple[float, ...]
    contributions: tuple[float, ...]
    empty_bins: str
    smoothing: float


def psi(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    n_bins: int = 10,
    binning: Binning = "quantile",
    categorical: bool = False,
    unseen_categories: UnseenCategories = "pool",
    empty_bins: EmptyBins = "floor",
    smoothing: float = 1e-4,
) -> PSIResult:
    r"""Population Stability Index of ``current`` against ``reference``.

    .. math::

        \mathrm{PSI} = \sum_k (p_{ref,k} - p_{cur,k}) \ln \frac{p_{ref,k}}{p_{cur,k}}

    over bins fitted on the reference. Every term is ``>= 0``, so ``PSI >= 0``, and
    ``PSI = 0`` when the two samples have the same bin proportions.

    Parameters
    ----------
    reference, current : array_like of shape (n,)
        Numeric samples (NaN rejected), or category labels when ``categorical=True``.
    n_bins : int, default 10
        Number of bins requested (numeric only). Quantile edges that coincide because of ties
        are merged, so fewer bins may be used; ``result.bins.n_bins`` says how many.
    binning : {"quantile", "uniform"}, default "quantile"
        Quantile bins (equal reference mass, linear interpolation) or equal-width bins between
        the reference minimum and maximum. Bins are ``[e_k, e_{k+1})``; the outer bins extend to
        infinity, so current values outside the reference range fall in them.
    categorical : bool, default False
        Treat values as category labels: one bin per reference category plus one bucket that
        pools categories never seen in the reference (reference proportion 0).
    unseen_categories : {"pool", "raise"}, default "pool"
        Pool unseen current categories into the extra bucket, or raise.
    empty_bins : {"floor", "additive"}, default "floor"
        An empty bin makes ``ln(p_ref / p_cur)`` infinite. ``"floor"``: proportions below
        ``smoothing`` are raised to ``smoothing`` (epsilon). ``"additive"``: ``smoothing`` is
        added to every count before normalising (Laplace, ``p = (c + a) / (n + a K)``).
    smoothing : float, default 1e-4
        The epsilon or pseudo-count above; must be ``> 0``. Echoed in the result.

    Returns
    -------
    PSIResult

    Raises
    ------
    StatsInputError
        Empty, non-numeric or NaN input; unknown ``binning``, ``empty_bins`` or
        ``unseen_categories``; ``n_bins < 1``; ``smoothing <= 0``.

    Examples
    --------
    >>> ref = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    >>> psi(ref, ref, n_bins=4).statistic
    0.0
    >>> res = psi(ref, [5.0, 6.0, 7.0, 8.0, 9.0, 9.0, 9.0, 9.0], n_bins=4)
    >>> round(res.statistic, 4), res.bins.n_bins
    (4.4598, 4)
    >>> res.current_proportions
    (0.0001, 0.0001, 0.25, 0.75)
    """
    bins, ref_counts, cur_counts = binned_counts(
        reference,
        current,
        categorical=categorical,
        n_bins=n_bins,
        binning=binning,
        unseen_categories=unseen_categories,
    )
    return psi_from_counts(
        ref_counts, cur_counts, bins=bins, empty_bins=empty_bins, smoothing=smoothing
    )


def smoothed_proportions(
    counts: NDArray[np.int64], *, empty_bins: str, smoothing: float
) -> NDArray[np.float64]:
    total = float(counts.sum())
    if empty_bins == "additive":
        return np.asarray((counts + smoothing) / (total + smoothing * counts.shape[0]))
    return np.asarray(np.maximum(counts / total, smoothing), dtype=np.float64)


def psi_from_counts(
    reference_counts: NDArray[np.int64],
    current_counts: NDArray[np.int64],
    *,
    bins: Bins,
    empty_bins: EmptyBins = "floor",
    smoothing: float = 1e-4,
) -> PSIResult:
    """PSI from per-bin counts (e.g. merged window counts); see :func:`psi` for the formula."""
    check_choice(empty_bins, name="empty_bins", choices=("floor", "additive"))
    if not (isinstance(smoothing, float | int) and np.isfinite(smoothing) and smoothing > 0):
        raise StatsInputError("smoothing", f"must be a positive finite number, got {smoothing!r}")
    n_ref, n_cur = int(reference_counts.sum()), int(current_counts.sum())
    if n_ref == 0:
        raise StatsInputError("reference", "must not be empty")
    if n_cur == 0:
        raise StatsInputError("current", "must not be empty")
    p_ref = smoothed_proportions(reference_counts, empty_bins=empty_bins, smoothing=smoothing)
    p_cur = smoothed_proportions(current_counts, empty_bins=empty_bins, smoothing=smoothing)
    terms = (p_ref - p_cur) * np.log(p_ref / p_cur)
    return PSIResult(
        statistic=float(terms.sum()),
        n_reference=n_ref,
        n_current=n_cur,
        bins=bins,
        reference_proportions=tuple(p_ref.tolist()),
        current_proportions=tuple(p_cur.tolist()),
        contributions=tuple(terms.tolist()),
        empty_bins=empty_bins,
        smoothing=float(smoothing),
    )
