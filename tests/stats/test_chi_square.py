"""Chi-square test of homogeneity."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from driftguard.stats import StatsInputError, chi_square


@pytest.mark.parametrize("seed", range(10))
def test_matches_scipy_contingency(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cats = np.array(["a", "b", "c", "d"])
    ref = rng.choice(cats[:3], size=300, p=[0.5, 0.3, 0.2])
    cur = rng.choice(cats, size=200, p=[0.4, 0.3, 0.2, 0.1])
    res = chi_square(ref, cur)
    full = np.array([[(ref == c).sum() for c in cats], [(cur == c).sum() for c in cats]])
    table = full[:, full.sum(axis=0) > 0]
    expected = scipy.stats.chi2_contingency(table, correction=False)
    assert res.statistic == pytest.approx(float(expected.statistic), rel=1e-12)
    assert res.p_value == pytest.approx(float(expected.pvalue), rel=1e-9)
    assert res.dof == expected.dof
    assert (res.n_reference, res.n_current) == (300, 200)


def test_identical_samples() -> None:
    res = chi_square([1, 2, 2, 3], [3, 2, 1, 2])
    assert (res.statistic, res.p_value) == (0.0, 1.0)


def test_single_category_has_no_degrees_of_freedom() -> None:
    res = chi_square(["a", "a"], ["a"])
    assert (res.statistic, res.p_value, res.dof) == (0.0, 1.0, 0)


def test_mismatched_label_types_are_rejected() -> None:
    with pytest.raises(StatsInputError) as info:
        chi_square(["a", "b"], [1, 2])
    assert info.value.argument == "current"


def test_float_labels_are_rejected() -> None:
    with pytest.raises(StatsInputError) as info:
        chi_square([0.5, 1.5], [0.5])
    assert info.value.argument == "reference"
