"""Data quality."""

from __future__ import annotations

import numpy as np
import pytest

from driftguard.stats import StatsInputError, data_quality, fit_profile


def test_counts_every_kind_of_problem() -> None:
    profile = fit_profile(
        {"x": [0.0, 1.0, 2.0], "c": ["a", "b", "b"], "k": [1, 2, 2]}, categorical=["k"]
    )
    window = {
        "x": [0.5, None, float("nan"), -1.0, 3.0, "7", float("inf")],
        "c": ["a", "z", "y", None, "z", 5, "b"],
        "k": [1, 3, 3, 2, 2, 2, 1],
    }
    x, c, k = data_quality(profile, window).features
    assert (x.n, x.n_missing, x.n_type_violations, x.n_out_of_range) == (7, 2, 2, 2)
    assert x.missing_rate == pytest.approx(2 / 7)
    assert (c.n_missing, c.n_type_violations, c.n_unseen, c.unseen_categories) == (
        1,
        1,
        3,
        ("y", "z"),
    )
    assert c.unseen_rate == pytest.approx(3 / 7)
    assert (k.n_unseen, k.unseen_categories, k.n_type_violations) == (2, (3,), 0)


def test_clean_numeric_window() -> None:
    profile = fit_profile(np.arange(20.0).reshape(10, 2))
    report = data_quality(profile, np.arange(20.0).reshape(10, 2))
    for f in report.features:
        assert (f.n_missing, f.n_type_violations, f.n_out_of_range, f.n_unseen) == (0, 0, 0, 0)
    assert report.profile_id == profile.profile_id


def test_missing_feature_is_an_error() -> None:
    profile = fit_profile({"x": [1.0]})
    with pytest.raises(StatsInputError) as info:
        data_quality(profile, {"y": [1.0]})
    assert info.value.argument == "current"
