"""Multiple-testing correction."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.stats import StatsInputError, correct_pvalues

pvals = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(p=pvals)
def test_benjamini_hochberg_matches_scipy(p: list[float]) -> None:
    res = correct_pvalues(p, method="benjamini-hochberg")
    expected = scipy.stats.false_discovery_control(p, method="bh")
    np.testing.assert_allclose(res.adjusted, expected, rtol=1e-12, atol=0)
    assert all(a >= r for a, r in zip(res.adjusted, res.p_values, strict=True))


@settings(max_examples=100, deadline=None)
@given(p=pvals)
def test_bonferroni(p: list[float]) -> None:
    res = correct_pvalues(p, method="bonferroni")
    assert res.adjusted == tuple(min(1.0, v * len(p)) for v in p)
    assert res.n_tests == len(p)


@pytest.mark.parametrize("bad", [[1.5], [-0.1], [float("nan")], []])
def test_invalid_p_values(bad: list[float]) -> None:
    with pytest.raises(StatsInputError) as info:
        correct_pvalues(bad, method="bonferroni")
    assert info.value.argument == "p_values"


def test_unknown_method() -> None:
    with pytest.raises(StatsInputError) as info:
        correct_pvalues([0.5], method="holm")  # type: ignore[arg-type]
    assert info.value.argument == "method"
