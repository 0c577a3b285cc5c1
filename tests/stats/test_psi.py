"""Population Stability Index."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.stats import StatsInputError, psi

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def test_hand_computed_value() -> None:
    ref = np.arange(1.0, 9.0)  # quartile edges 2.75, 4.5, 6.25
    cur = np.array([1.0, 5.0, 6.0, 7.0])
    res = psi(ref, cur, n_bins=4)
    assert res.bins.edges == (2.75, 4.5, 6.25)
    p_ref = np.full(4, 0.25)
    p_cur = np.array([0.25, 0.0001, 0.5, 0.25])  # empty bin floored at 1e-4
    expected = float(np.sum((p_ref - p_cur) * np.log(p_ref / p_cur)))
    assert res.statistic == pytest.approx(expected, rel=1e-14)
    assert res.current_proportions == pytest.approx(tuple(p_cur))
    assert sum(res.contributions) == pytest.approx(res.statistic, rel=1e-14)
    assert (res.n_reference, res.n_current, res.empty_bins, res.smoothing) == (8, 4, "floor", 1e-4)


def test_additive_smoothing_formula() -> None:
    ref = np.arange(1.0, 9.0)
    cur = np.array([1.0, 5.0, 6.0, 7.0])
    res = psi(ref, cur, n_bins=4, empty_bins="additive", smoothing=0.5)
    p_ref = (np.array([2, 2, 2, 2]) + 0.5) / (8 + 2.0)
    p_cur = (np.array([1, 0, 2, 1]) + 0.5) / (4 + 2.0)
    expected = float(np.sum((p_ref - p_cur) * np.log(p_ref / p_cur)))
    assert res.statistic == pytest.approx(expected, rel=1e-14)
    assert (res.empty_bins, res.smoothing) == ("additive", 0.5)


def test_values_outside_reference_range_fall_in_outer_bins() -> None:
    ref = np.linspace(0.0, 1.0, 101)
    res = psi(ref, [-50.0, 50.0], n_bins=5)
    assert res.current_proportions[0] == 0.5
    assert res.current_proportions[-1] == 0.5


def test_tied_quantile_edges_are_merged_and_reported() -> None:
    ref = np.array([0.0] * 80 + list(np.linspace(1.0, 2.0, 20)))
    res = psi(ref, ref, n_bins=10)
    assert res.bins.n_requested == 10
    assert res.bins.n_bins < 10
    assert res.bins.n_bins == len(res.bins.edges) + 1
    assert len(set(res.bins.edges)) == len(res.bins.edges)
    assert res.statistic == 0.0


def test_uniform_bins_are_equal_width() -> None:
    res = psi([0.0, 10.0, 1.0, 2.0], [3.0], n_bins=5, binning="uniform")
    assert res.bins.edges == pytest.approx((2.0, 4.0, 6.0, 8.0))
    assert res.bins.kind == "uniform"


def test_requested_bin_count_is_honoured_on_continuous_data() -> None:
    rng = np.random.default_rng(0)
    res = psi(rng.normal(size=1000), rng.normal(size=500), n_bins=17)
    assert res.bins.n_bins == 17


def test_categorical_with_unseen_categories() -> None:
    res = psi(["a", "a", "b", "b"], ["a", "c", "c", "d"], categorical=True)
    assert res.bins.categories == ("a", "b")
    assert res.current_proportions == pytest.approx((0.25, 1e-4, 0.75))
    assert res.reference_proportions == pytest.approx((0.5, 0.5, 1e-4))
    p = np.array(res.reference_proportions)
    q = np.array(res.current_proportions)
    assert res.statistic == pytest.approx(float(np.sum((p - q) * np.log(p / q))))


def test_unseen_categories_can_raise() -> None:
    with pytest.raises(StatsInputError) as info:
        psi(["a"], ["z"], categorical=True, unseen_categories="raise")
    assert info.value.argument == "current"


@settings(max_examples=80, deadline=None)
@given(x=st.lists(finite, min_size=1, max_size=60), n_bins=st.integers(1, 20))
def test_psi_of_a_sample_with_itself_is_zero(x: list[float], n_bins: int) -> None:
    assert psi(x, x, n_bins=n_bins).statistic == 0.0
    assert psi(x, x, n_bins=n_bins, binning="uniform").statistic == 0.0


@settings(max_examples=80, deadline=None)
@given(
    a=st.lists(finite, min_size=1, max_size=60),
    b=st.lists(finite, min_size=1, max_size=60),
    empty_bins=st.sampled_from(["floor", "additive"]),
)
def test_psi_is_non_negative(a: list[float], b: list[float], empty_bins: str) -> None:
    res = psi(a, b, empty_bins=empty_bins)  # type: ignore[arg-type]
    assert res.statistic >= 0.0
    assert all(c >= 0.0 for c in res.contributions)
    assert math.isfinite(res.statistic)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"n_bins": 0}, "n_bins"),
        ({"n_bins": 2.5}, "n_bins"),
        ({"binning": "kmeans"}, "binning"),
        ({"empty_bins": "replace"}, "empty_bins"),
        ({"smoothing": 0.0}, "smoothing"),
        ({"smoothing": float("nan")}, "smoothing"),
        ({"unseen_categories": "drop", "categorical": True}, "unseen_categories"),
    ],
)
def test_invalid_options_name_argument(kwargs: dict, argument: str) -> None:
    with pytest.raises(StatsInputError) as info:
        psi(["1", "2"] if kwargs.get("categorical") else [1.0, 2.0], [1.0, 2.0], **kwargs)
    assert info.value.argument == argument
