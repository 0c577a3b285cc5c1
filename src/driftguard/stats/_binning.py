"""Bins fitted on a reference sample, shared by PSI, Jensen-Shannon and windowed counts.

Numeric bins are left-closed, ``[e_k, e_{k+1})``, with the outer bins open to ``-inf`` and
``+inf`` so that current values outside the reference range fall in the outer bins. Categorical
bins are the reference categories in sorted order plus one last bucket that pools every
category never seen in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ._validation import StatsInputError, check_choice

__all__ = ["Binning", "Bins", "UnseenCategories"]

Binning = Literal["quantile", "uniform"]
UnseenCategories = Literal["pool", "raise"]
Label = str | int | bool


@dataclass(frozen=True, slots=True)
class Bins:
    """The bins a binned statistic was computed on.

    Attributes
    ----------
    kind : str
        ``"quantile"``, ``"uniform"`` (equal width) or ``"categorical"``.
    edges : tuple of float
        Interior bin edges (numeric kinds); bin ``k`` is ``[edges[k-1], edges[k])`` with
        ``edges[-1] = -inf`` and ``edges[n] = +inf``. Empty for categorical bins.
    categories : tuple
        Reference categories (categorical kind); the last bin, beyond these, pools categories
        never seen in the reference. Empty for numeric bins.
    n_requested : int or None
        Number of bins asked for (numeric kinds). Fewer are used when quantile edges coincide.
    """

    kind: str
    edges: tuple[float, ...] = ()
    categories: tuple[Label, ...] = ()
    n_requested: int | None = None

    @property
    def n_bins(self) -> int:
        """Number of bins actually used (for categories: categories + 1 unseen bucket)."""
        if self.kind == "categorical":
            return len(self.categories) + 1
        return len(self.edges) + 1


def check_n_bins(n_bins: object, *, name: str = "n_bins") -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise StatsInputError(name, f"must be a positive integer, got {n_bins!r}")
    return int(n_bins)


def sorted_quantiles(
    sorted_values: NDArray[np.float64], probabilities: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Quantiles of already sorted data by linear interpolation (numpy's default method)."""
    position = probabilities * (sorted_values.shape[0] - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, sorted_values.shape[0] - 1)
    frac = position - below
    low, high = sorted_values[below], sorted_values[above]
    # Weighted form, not low + (high - low) * frac: it cannot overflow for huge values.
    return np.asarray(low * (1.0 - frac) + high * frac, dtype=np.float64)


def population_std(values: NDArray[np.float64]) -> float:
    """Standard deviation (ddof=0), scaled first so that huge finite values do not overflow."""
    scale = float(np.max(np.abs(values)))
    if scale == 0.0:
        return 0.0
    return scale * float(np.std(values / scale))


def fit_edges(
    sorted_reference: NDArray[np.float64], *, n_bins: int, binning: str
) -> NDArray[np.float64]:
    """Interior edges for ``n_bins`` bins; coinciding edges (ties) are merged."""
    check_choice(binning, name="binning", choices=("quantile", "uniform"))
    n_bins = check_n_bins(n_bins)
    if binning == "quantile":
        inner = sorted_quantiles(sorted_reference, np.arange(1, n_bins) / n_bins)
    else:
        low, high = float(sorted_reference[0]), float(sorted_reference[-1])
        t = np.arange(1, n_bins) / n_bins
        inner = low * (1.0 - t) + high * t
    return np.unique(inner)


def counts_sorted(
    sorted_values: NDArray[np.float64], edges: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Per-bin counts of sorted values (no pass over the data: one binary search per edge)."""
    cut = np.searchsorted(sorted_values, edges, side="left")
    bounds = np.concatenate(([0], cut, [sorted_values.shape[0]]))
    return np.diff(bounds).astype(np.int64)


def category_counts(
    values: NDArray[Any],
    categories: NDArray[Any],
    *,
    name: str,
    unseen_categories: str,
) -> tuple[NDArray[np.int64], tuple[Label, ...]]:
    """Counts per sorted reference category plus a last, pooled unseen bucket.

    Returns the counts and the distinct unseen categories found.
    """
    check_choice(unseen_categories, name="unseen_categories", choices=("pool", "raise"))
    labels, counts = np.unique(values, return_counts=True)
    out = np.zeros(categories.shape[0] + 1, dtype=np.int64)
    if categories.shape[0] == 0:
        out[0] = counts.sum()
        return out, tuple(labels.tolist())
    if labels.dtype.kind != categories.dtype.kind and not (
        labels.dtype.kind in "biu" and categories.dtype.kind in "biu"
    ):
        raise StatsInputError(
            name, f"has labels of dtype {labels.dtype} but the reference has {categories.dtype}"
        )
    pos = np.minimum(np.searchsorted(categories, labels), categories.shape[0] - 1)
    seen = categories[pos] == labels
    np.add.at(out, pos[seen], counts[seen])
    out[-1] = counts[~seen].sum()
    unseen = tuple(labels[~seen].tolist())
    if unseen and unseen_categories == "raise":
        shown = ", ".join(repr(u) for u in unseen[:5])
        raise StatsInputError(name, f"has categories never seen in the reference: {shown}")
    return out, unseen


def binned_counts(
    reference: Any,
    current: Any,
    *,
    categorical: bool,
    n_bins: int,
    binning: str,
    unseen_categories: str,
) -> tuple[Bins, NDArray[np.int64], NDArray[np.int64]]:
    """Fit bins on ``reference`` and count both samples in them."""
    from ._validation import as_float_1d, as_labels

    if categorical:
        check_choice(unseen_categories, name="unseen_categories", choices=("pool", "raise"))
        ref_labels = as_labels(reference, name="reference")
        cur_labels = as_labels(current, name="current")
        categories, ref_counts = np.unique(ref_labels, return_counts=True)
        ref_full = np.append(ref_counts.astype(np.int64), 0)
        cur_counts, _ = category_counts(
            cur_labels, categories, name="current", unseen_categories=unseen_categories
        )
        bins = Bins(kind="categorical", categories=tuple(categories.tolist()))
        return bins, ref_full, cur_counts
    check_choice(binning, name="binning", choices=("quantile", "uniform"))
    n_bins = check_n_bins(n_bins)
    ref = np.sort(as_float_1d(reference, name="reference"))
    cur = np.sort(as_float_1d(current, name="current"))
    edges = fit_edges(ref, n_bins=n_bins, binning=binning)
    bins = Bins(kind=binning, edges=tuple(edges.tolist()), n_requested=n_bins)
    return bins, counts_sorted(ref, edges), counts_sorted(cur, edges)
