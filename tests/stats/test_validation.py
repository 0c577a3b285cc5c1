"""The shared input validation."""

from __future__ import annotations

import numpy as np
import pytest

from driftguard.stats import StatsInputError
from driftguard.stats._validation import as_binary, as_float_1d, as_labels, check_same_length


def test_error_is_a_value_error_with_the_argument_name() -> None:
    err = StatsInputError("y_true", "must not be empty")
    assert isinstance(err, ValueError)
    assert err.argument == "y_true"
    assert str(err) == "y_true: must not be empty"


def test_float_conversion_keeps_values_and_allows_nan_on_request() -> None:
    np.testing.assert_array_equal(as_float_1d([1, 2], name="x"), [1.0, 2.0])
    out = as_float_1d([1.0, np.nan], name="x", allow_nan=True)
    assert np.isnan(out[1])
    with pytest.raises(StatsInputError, match="infinite"):
        as_float_1d([np.inf], name="x", allow_nan=True)
    with pytest.raises(StatsInputError, match="dtype"):
        as_float_1d([True, False], name="x")
    with pytest.raises(StatsInputError, match="array"):
        as_float_1d([[1.0], [1.0, 2.0]], name="x")


def test_labels() -> None:
    assert as_labels(np.array(["a", "b"], dtype=object), name="g").dtype.kind == "U"
    assert as_labels([1, 2], name="g").dtype.kind == "i"
    with pytest.raises(StatsInputError, match="only strings"):
        as_labels(np.array(["a", 1], dtype=object), name="g")


def test_binary() -> None:
    np.testing.assert_array_equal(as_binary([1, 0, 1.0], name="y"), [True, False, True])
    with pytest.raises(StatsInputError, match="binary"):
        as_binary([0, 0.5], name="y")
    with pytest.raises(StatsInputError, match="dtype"):
        as_binary(["1"], name="y")


def test_length_mismatch_names_second_argument() -> None:
    with pytest.raises(StatsInputError) as info:
        check_same_length(y_true=np.zeros(2), y_pred=np.zeros(3))
    assert info.value.argument == "y_pred"
