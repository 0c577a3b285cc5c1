"""Wasserstein distance."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.stats import StatsInputError, wasserstein_distance

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(a=st.lists(finite, min_size=1, max_size=60), b=st.lists(finite, min_size=1, max_size=60))
def test_matches_scipy(a: list[float], b: list[float]) -> None:
    res = wasserstein_distance(a, b)
    expected = float(scipy.stats.wasserstein_distance(a, b))
    assert res.statistic == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert (res.n_reference, res.n_current) == (len(a), len(b))


@pytest.mark.parametrize(("n1", "n2"), [(1000, 1000), (1000, 999), (4096, 1536), (7, 100_000)])
def test_matches_scipy_on_larger_samples(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * n2)
    a, b = rng.normal(size=n1), rng.gamma(2.0, size=n2)
    expected = float(scipy.stats.wasserstein_distance(a, b))
    assert wasserstein_distance(a, b).statistic == pytest.approx(expected, rel=1e-12)


def test_normalised_by_reference_population_std() -> None:
    ref = np.array([0.0, 2.0, 4.0, 6.0])
    res = wasserstein_distance(ref, ref + 3.0)
    assert res.statistic == 3.0
    assert res.reference_std == pytest.approx(float(np.std(ref)))
    assert res.normalized_statistic == pytest.approx(3.0 / float(np.std(ref)))


def test_constant_reference_has_no_normalised_value() -> None:
    res = wasserstein_distance([2.0, 2.0, 2.0], [1.0, 5.0])
    assert res.normalized_statistic is None
    assert res.statistic == pytest.approx(2.0)


def test_rejects_nan() -> None:
    with pytest.raises(StatsInputError) as info:
        wasserstein_distance([1.0], [np.nan])
    assert info.value.argument == "current"
