"""Jensen-Shannon distance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from driftguard.stats import jensen_shannon_distance, psi

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("seed", range(10))
def test_matches_scipy_on_the_same_proportions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = rng.normal(size=500), rng.normal(rng.uniform(0, 2), 1, size=300)
    res = jensen_shannon_distance(ref, cur, n_bins=12)
    expected = jensenshannon(res.reference_proportions, res.current_proportions, base=2)
    assert res.statistic == pytest.approx(float(expected), rel=1e-12, abs=1e-15)


def test_uses_the_same_bins_as_psi() -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.exponential(size=400), rng.exponential(size=200)
    assert jensen_shannon_distance(ref, cur).bins == psi(ref, cur).bins


def test_disjoint_categories_are_at_distance_one() -> None:
    res = jensen_shannon_distance(["a", "a"], ["b", "c"], categorical=True)
    assert res.statistic == pytest.approx(1.0, abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(a=st.lists(finite, min_size=1, max_size=50), b=st.lists(finite, min_size=1, max_size=50))
def test_bounded_by_zero_and_one(a: list[float], b: list[float]) -> None:
    res = jensen_shannon_distance(a, b)
    assert 0.0 <= res.statistic <= 1.0
    assert jensen_shannon_distance(a, a).statistic == 0.0
