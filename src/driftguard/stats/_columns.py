"""Reading tabular input (a 2-D array or a mapping of named columns) column by column."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import StatsInputError, as_float_1d, as_labels, check_choice

__all__ = ["NanPolicy", "Table", "map_columns", "numeric_column", "split_columns"]

NanPolicy = Literal["raise", "omit"]
Table = Mapping[str, ArrayLike] | NDArray[Any]
T = TypeVar("T")
_THREAD_MIN_ROWS = 50_000


def split_columns(
    data: Table, *, name: str, feature_names: Sequence[str] | None
) -> dict[str, NDArray[Any]]:
    """Return ``{feature name: 1-D column}`` from a mapping of columns or a 2-D array."""
    if isinstance(data, Mapping):
        if not data:
            raise StatsInputError(name, "must have at least one column")
        columns = {str(key): np.asarray(value) for key, value in data.items()}
    else:
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise StatsInputError(
                name, f"must be a 2-D array (rows x features) or a mapping, got shape {arr.shape}"
            )
        if feature_names is None:
            feature_names = [f"x{k}" for k in range(arr.shape[1])]
        if len(feature_names) != arr.shape[1]:
            raise StatsInputError(
                "feature_names", f"has {len(feature_names)} names for {arr.shape[1]} columns"
            )
        columns = {str(n): arr[:, k] for k, n in enumerate(feature_names)}
    lengths = {col.shape[0] if col.ndim else -1 for col in columns.values()}
    if len(lengths) != 1:
        raise StatsInputError(name, "columns must all have the same length")
    if lengths.pop() == 0:
        raise StatsInputError(name, "must not be empty")
    return columns


def numeric_column(
    values: NDArray[Any],
    *,
    name: str,
    nan_policy: str,
    copy: bool = False,
    allow_all_missing: bool = False,
) -> tuple[NDArray[np.float64], int]:
    """Validated float column and its number of NaN values (dropped when ``nan_policy="omit"``).

    ``copy=True`` guarantees a private contiguous array (safe to sort in place).
    ``allow_all_missing`` returns an empty array for an all-NaN column instead of raising
    (counting: a window part with no values contributes nothing but its missing count).
    """
    check_choice(nan_policy, name="nan_policy", choices=("raise", "omit"))
    arr = as_float_1d(values, name=name, allow_nan=nan_policy == "omit", copy=copy)
    if nan_policy == "raise":
        return arr, 0  # validation has already rejected NaN
    missing = np.isnan(arr)
    n_missing = int(missing.sum())
    if n_missing:
        arr = arr[~missing]
        if arr.shape[0] == 0 and not allow_all_missing:
            raise StatsInputError(name, "has no non-missing values")
    return arr, n_missing


def label_column(values: NDArray[Any], *, name: str) -> NDArray[Any]:
    return as_labels(values, name=name)


def map_columns(
    func: Any, items: Sequence[T], *, n_jobs: int | None, rows: int | None = None
) -> list[Any]:
    """Apply ``func`` to every item, in a thread pool when ``n_jobs != 1``.

    The heavy kernels (sort, searchsorted, reductions) release the GIL, so threads scale. With
    ``n_jobs=None`` small columns (under ``_THREAD_MIN_ROWS`` rows) run serially: there the
    pool costs more than it saves.
    """
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1
    ):
        raise StatsInputError("n_jobs", f"must be a positive integer or None, got {n_jobs!r}")
    serial = n_jobs is None and rows is not None and rows < _THREAD_MIN_ROWS
    if n_jobs == 1 or len(items) <= 1 or serial:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return list(pool.map(func, items))
