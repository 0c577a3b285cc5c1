"""Input validation shared by every statistic.

Every check raises :class:`StatsInputError` (a :class:`ValueError`) whose ``argument`` attribute
names the offending argument, so callers can point users at the exact input that was wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "StatsInputError",
    "as_binary",
    "as_float_1d",
    "as_labels",
    "check_choice",
    "check_same_length",
]


class StatsInputError(ValueError):
    """Invalid input to a statistic.

    Parameters
    ----------
    argument : str
        Name of the offending argument, as the caller spelled it.
    message : str
        What is wrong with it.

    Examples
    --------
    >>> err = StatsInputError("current", "must not be empty")
    >>> err.argument
    'current'
    >>> str(err)
    'current: must not be empty'
    """

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument


def as_float_1d(
    values: ArrayLike,
    *,
    name: str,
    allow_nan: bool = False,
    allow_empty: bool = False,
    copy: bool = False,
) -> NDArray[np.float64]:
    """Return ``values`` as a 1-D float64 array, rejecting bad dtypes, NaN and infinities.

    With ``copy=True`` the result is always a fresh contiguous array the caller may modify
    (the copy is made before the finiteness pass, so a strided column is read only once).
    """
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:  # ragged nested sequences
        raise StatsInputError(name, f"cannot be read as an array ({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise StatsInputError(
            name, f"must hold integer or floating-point numbers, got dtype {arr.dtype}"
        )
    if arr.ndim != 1:
        raise StatsInputError(name, f"must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise StatsInputError(name, "must not be empty")
    out = np.array(arr, dtype=np.float64) if copy else np.asarray(arr, dtype=np.float64)
    _check_finite(out, name=name, allow_nan=allow_nan)
    return out


def _check_finite(arr: NDArray[np.float64], *, name: str, allow_nan: bool) -> None:
    if np.isfinite(arr).all():
        return
    if np.isinf(arr).any():
        raise StatsInputError(name, "must not contain infinite values")
    if not allow_nan:
        raise StatsInputError(
            name, f"must not contain NaN ({int(np.isnan(arr).sum())} found); drop or impute first"
        )


def as_labels(values: ArrayLike, *, name: str) -> NDArray[Any]:
    """Return ``values`` as a 1-D array of category labels (strings, integers or booleans)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise StatsInputError(name, f"must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise StatsInputError(name, "must not be empty")
    if arr.dtype.kind == "O":
        if not all(isinstance(v, str) for v in arr.tolist()):
            raise StatsInputError(name, "object arrays must hold only strings (no None or NaN)")
        arr = arr.astype(str)
    if arr.dtype.kind not in "biuU":
        raise StatsInputError(
            name, f"must hold strings, integers or booleans, got dtype {arr.dtype}"
        )
    return arr


def as_binary(values: ArrayLike, *, name: str) -> NDArray[np.bool_]:
    """Return a 1-D boolean array from values that are all 0/1 (or booleans)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise StatsInputError(name, f"must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise StatsInputError(name, "must not be empty")
    if arr.dtype.kind == "b":
        return np.asarray(arr, dtype=np.bool_)
    if arr.dtype.kind not in "iuf":
        raise StatsInputError(name, f"must hold 0/1 or booleans, got dtype {arr.dtype}")
    positive: NDArray[np.bool_] = arr == 1
    if not np.all(positive | (arr == 0)):
        raise StatsInputError(name, "must hold only the binary outcomes 0 and 1")
    return positive


def check_same_length(**arrays: NDArray[Any]) -> None:
    """Raise if the given arrays do not all have the same length; names the second offender."""
    items = list(arrays.items())
    first_name, first = items[0]
    for other_name, other in items[1:]:
        if other.shape[0] != first.shape[0]:
            raise StatsInputError(
                other_name,
                f"has length {other.shape[0]} but {first_name} has length {first.shape[0]}",
            )


def check_choice(value: object, *, name: str, choices: Sequence[str]) -> None:
    """Raise if ``value`` is not one of ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise StatsInputError(name, f"must be one of {allowed}, got {value!r}")
