"""Reference profiles: fitting, serialisation and scoring windows against them."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.stats import (
    NumericFeatureProfile,
    Profile,
    StatsInputError,
    chi_square,
    correct_pvalues,
    fit_profile,
    jensen_shannon_distance,
    ks_2samp,
    psi,
    score_window,
    wasserstein_distance,
)


def _mixed(seed: int, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "income": rng.lognormal(10 + shift, 1, size=n),
        "age": rng.integers(18, 90, size=n).astype(float),
        "plan": rng.choice(np.array(["basic", "plus", "pro"]), size=n),
        "region": rng.integers(0, 5, size=n),
    }


def _assert_profiles_equal(a: Profile, b: Profile) -> None:
    assert (a.n_bins, a.binning, a.ks_grid_size, a.profile_id) == (
        b.n_bins,
        b.binning,
        b.ks_grid_size,
        b.profile_id,
    )
    assert a.feature_names == b.feature_names
    for fa, fb in zip(a.features, b.features, strict=True):
        assert type(fa) is type(fb)
        assert (fa.name, fa.n, fa.n_missing, fa.bins) == (fb.name, fb.n, fb.n_missing, fb.bins)
        np.testing.assert_array_equal(fa.bin_counts, fb.bin_counts)
        if isinstance(fa, NumericFeatureProfile) and isinstance(fb, NumericFeatureProfile):
            assert fa.std == fb.std
            np.testing.assert_array_equal(fa.sorted_values, fb.sorted_values)
            np.testing.assert_array_equal(fa.grid_edges, fb.grid_edges)
            np.testing.assert_array_equal(fa.grid_counts, fb.grid_counts)
        else:
            np.testing.assert_array_equal(fa.categories, fb.categories)  # type: ignore[union-attr]


def test_score_window_equals_the_standalone_statistics() -> None:
    ref, cur = _mixed(0, 3000), _mixed(1, 2000, shift=0.2)
    profile = fit_profile(ref, categorical=["region"], n_bins=8)
    window = score_window(profile, cur)
    income = window.feature("income")
    assert income.ks == ks_2samp(ref["income"], cur["income"])
    assert income.psi == psi(ref["income"], cur["income"], n_bins=8)
    assert income.jensen_shannon == jensen_shannon_distance(ref["income"], cur["income"], n_bins=8)
    assert income.wasserstein == wasserstein_distance(ref["income"], cur["income"])
    assert income.p_value == income.ks.p_value
    plan = window.feature("plan")
    assert plan.kind == "categorical"
    assert plan.chi_square == chi_square(ref["plan"], cur["plan"])
    assert plan.psi == psi(ref["plan"], cur["plan"], categorical=True)
    region = window.feature("region")
    assert region.chi_square == chi_square(ref["region"], cur["region"])
    assert (region.n_reference, region.n_current) == (3000, 2000)


def test_score_window_is_repeatable_and_thread_count_independent() -> None:
    ref, cur = _mixed(2, 1000), _mixed(3, 700, shift=0.1)
    profile = fit_profile(ref)
    assert score_window(profile, cur, n_jobs=1) == score_window(profile, cur, n_jobs=4)


def test_2d_array_input_and_correction() -> None:
    rng = np.random.default_rng(4)
    ref = rng.normal(size=(2000, 5))
    cur = rng.normal(size=(1500, 5)) + np.array([0.0, 0.0, 0.3, 0.0, 0.1])
    profile = fit_profile(ref, feature_names=["a", "b", "c", "d", "e"])
    window = score_window(profile, cur, correction="benjamini-hochberg")
    raw = [f.p_value for f in window.features]
    expected = correct_pvalues(raw, method="benjamini-hochberg").adjusted
    assert tuple(f.p_value_adjusted for f in window.features) == expected
    for k, f in enumerate(window.features):
        assert f.ks is not None
        assert f.ks.p_value == pytest.approx(
            float(scipy.stats.ks_2samp(ref[:, k], cur[:, k]).pvalue), rel=1e-9
        )
    assert window.correction == "benjamini-hochberg"
    assert score_window(profile, cur).features[0].p_value_adjusted is None


def test_nan_policy() -> None:
    profile = fit_profile({"x": np.arange(10.0)})
    with pytest.raises(StatsInputError) as info:
        score_window(profile, {"x": [1.0, np.nan]})
    assert info.value.argument == "current['x']"
    drift = score_window(profile, {"x": [1.0, np.nan, 3.0]}, nan_policy="omit").feature("x")
    assert (drift.n_current, drift.n_missing) == (2, 1)
    assert drift.ks == ks_2samp(np.arange(10.0), [1.0, 3.0])


def test_missing_feature_and_bad_options() -> None:
    profile = fit_profile({"x": [1.0, 2.0], "y": [1.0, 2.0]})
    with pytest.raises(StatsInputError, match="lacks profiled features") as info:
        score_window(profile, {"x": [1.0]})
    assert info.value.argument == "current"
    with pytest.raises(StatsInputError) as info:
        score_window(profile, {"x": [1.0], "y": [1.0]}, correction="holm")  # type: ignore[arg-type]
    assert info.value.argument == "correction"
    with pytest.raises(StatsInputError) as info:
        fit_profile({"x": [1.0]}, categorical=["nope"])
    assert info.value.argument == "categorical"
    with pytest.raises(StatsInputError) as info:
        fit_profile(np.zeros((3, 2)), feature_names=["only_one"])
    assert info.value.argument == "feature_names"


def test_profile_arrays_are_read_only() -> None:
    profile = fit_profile({"x": [3.0, 1.0, 2.0]})
    feature = profile.feature("x")
    assert isinstance(feature, NumericFeatureProfile)
    with pytest.raises(ValueError, match="read-only"):
        feature.sorted_values[0] = 0.0


def test_round_trip_keeps_everything() -> None:
    profile = fit_profile(_mixed(5, 500), categorical=["region"], n_bins=7, binning="uniform")
    restored = Profile.from_bytes(profile.to_bytes())
    _assert_profiles_equal(profile, restored)
    cur = _mixed(6, 300, shift=0.3)
    assert score_window(restored, cur) == score_window(profile, cur)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=50
    ),
    labels=st.lists(st.text(min_size=0, max_size=5), min_size=1, max_size=50),
    n_bins=st.integers(1, 12),
)
def test_round_trip_property(values: list[float], labels: list[str], n_bins: int) -> None:
    profile = fit_profile({"num": values}, n_bins=n_bins, ks_grid_size=64)
    _assert_profiles_equal(profile, Profile.from_bytes(profile.to_bytes()))
    cats = fit_profile({"cat": np.array(labels, dtype=str)})
    _assert_profiles_equal(cats, Profile.from_bytes(cats.to_bytes()))


def test_serialised_form_is_npz_without_pickles() -> None:
    data = fit_profile({"x": [1.0, 2.0], "c": ["a", "b"]}).to_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)


def test_from_bytes_rejects_garbage_and_pickles() -> None:
    with pytest.raises(StatsInputError) as info:
        Profile.from_bytes(b"not a profile")
    assert info.value.argument == "data"
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(StatsInputError):
        Profile.from_bytes(buffer.getvalue())
