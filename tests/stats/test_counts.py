"""Mergeable window counts."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.stats import (
    StatsInputError,
    WindowCounts,
    count_window,
    fit_profile,
    ks_2samp,
    score_counts,
    score_window,
)
from driftguard.stats._counts import ks_from_grid_counts

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
windows = st.lists(st.lists(finite, min_size=1, max_size=30), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(reference=st.lists(finite, min_size=1, max_size=60), parts=windows)
def test_merged_counts_equal_counts_of_concatenated_data(
    reference: list[float], parts: list[list[float]]
) -> None:
    profile = fit_profile({"x": reference}, n_bins=5, ks_grid_size=32)
    merged = count_window(profile, {"x": parts[0]})
    for part in parts[1:]:
        merged = merged + count_window(profile, {"x": part})
    whole = count_window(profile, {"x": np.concatenate(parts)})
    np.testing.assert_array_equal(merged.bin_counts[0], whole.bin_counts[0])
    np.testing.assert_array_equal(merged.grid_counts[0], whole.grid_counts[0])  # type: ignore[arg-type]
    from_counts = score_counts(profile, merged).feature("x")
    from_raw = score_window(profile, {"x": np.concatenate(parts)}).feature("x")
    assert from_counts.psi == from_raw.psi
    assert from_counts.jensen_shannon == from_raw.jensen_shannon


@settings(max_examples=80, deadline=None)
@given(
    reference=st.lists(finite, min_size=1, max_size=80),
    current=st.lists(finite, min_size=1, max_size=80),
    grid=st.integers(1, 64),
)
def test_ks_from_counts_brackets_the_exact_statistic(
    reference: list[float], current: list[float], grid: int
) -> None:
    profile = fit_profile({"x": reference}, ks_grid_size=grid)
    approx = score_counts(profile, count_window(profile, {"x": current})).feature("x").ks
    assert approx is not None
    exact = ks_2samp(reference, current).statistic
    assert approx.statistic <= exact + 1e-12
    assert exact <= approx.statistic_upper_bound + 1e-12
    assert approx.statistic_upper_bound - approx.statistic <= approx.error_bound + 1e-12


def test_fine_grid_error_bound_is_about_one_over_grid_size() -> None:
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=200_000), rng.normal(0.02, 1.0, size=100_000)
    profile = fit_profile({"x": ref}, ks_grid_size=2048)
    hours = [count_window(profile, {"x": chunk}) for chunk in np.array_split(cur, 24)]
    month = sum(hours[1:], hours[0])
    approx = score_counts(profile, month).feature("x").ks
    assert approx is not None
    exact = ks_2samp(ref, cur).statistic
    assert approx.error_bound < 2.0 / 2048
    assert abs(approx.statistic - exact) <= approx.error_bound
    assert approx.statistic <= exact <= approx.statistic_upper_bound


def test_grid_counts_bounds_by_hand() -> None:
    res = ks_from_grid_counts(np.array([2, 2]), np.array([0, 4]))
    assert (res.statistic, res.statistic_upper_bound, res.error_bound) == (0.5, 1.0, 1.0)


def test_categorical_counts_and_chi_square_are_exact() -> None:
    ref = {"c": np.array(["a", "b", "b", "c"] * 25)}
    profile = fit_profile(ref)
    parts = [np.array(["a", "a", "d"]), np.array(["b", "e", "c", "c"])]
    merged = count_window(profile, {"c": parts[0]}) + count_window(profile, {"c": parts[1]})
    assert merged.bin_counts[0].tolist() == [2, 1, 2, 2]
    assert merged.grid_counts[0] is None
    by_counts = score_counts(profile, merged).feature("c")
    by_raw = score_window(profile, {"c": np.concatenate(parts)}).feature("c")
    assert by_counts.chi_square == by_raw.chi_square
    assert by_counts.psi == by_raw.psi


def test_counts_round_trip_through_bytes() -> None:
    profile = fit_profile({"x": np.arange(100.0), "c": np.array(["u", "v"] * 50)})
    counts = count_window(
        profile, {"x": [1.0, np.nan, 500.0], "c": ["u", "w", "v"]}, nan_policy="omit"
    )
    restored = WindowCounts.from_bytes(counts.to_bytes())
    assert restored.profile_id == counts.profile_id
    assert restored.n_missing == (1, 0)
    for a, b in zip(restored.bin_counts, counts.bin_counts, strict=True):
        np.testing.assert_array_equal(a, b)
    assert restored.grid_counts[1] is None
    np.testing.assert_array_equal(restored.grid_counts[0], counts.grid_counts[0])  # type: ignore[arg-type]


def _version_1_bytes(counts: WindowCounts) -> bytes:
    """Counts as version 1 wrote them (``.npz``); stored rows may still hold this format."""
    header = {
        "format": "driftguard.stats.window_counts",
        "version": 1,
        "profile_id": counts.profile_id,
        "feature_names": list(counts.feature_names),
        "n_missing": list(counts.n_missing),
        "has_grid": [g is not None for g in counts.grid_counts],
    }
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), np.uint8)}
    for k, (bins, grid) in enumerate(zip(counts.bin_counts, counts.grid_counts, strict=True)):
        arrays[f"f{k}_bins"] = bins
        if grid is not None:
            arrays[f"f{k}_grid"] = grid
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def test_counts_stored_in_version_1_still_load() -> None:
    profile = fit_profile({"x": np.arange(100.0), "c": np.array(["u", "v"] * 50)})
    counts = count_window(profile, {"x": [1.0, 7.5, 500.0], "c": ["u", "w", "v"]})
    restored = WindowCounts.from_bytes(_version_1_bytes(counts))
    assert restored.to_bytes() == counts.to_bytes()


def _version_2_bytes(counts: WindowCounts) -> bytes:
    """Counts as version 2 wrote them: every count as one uncompressed int64 buffer."""
    arrays = [a for pair in zip(counts.bin_counts, counts.grid_counts, strict=True) for a in pair]
    header = {
        "format": "driftguard.stats.window_counts",
        "version": 2,
        "profile_id": counts.profile_id,
        "feature_names": list(counts.feature_names),
        "n_missing": list(counts.n_missing),
        "lengths": [-1 if a is None else int(a.shape[0]) for a in arrays],
    }
    text = json.dumps(header).encode()
    body = np.concatenate([a for a in arrays if a is not None]).astype("<i8").tobytes()
    return b"DGWC\x02" + len(text).to_bytes(4, "little") + text + body


def test_counts_stored_in_version_2_still_load() -> None:
    profile = fit_profile({"x": np.arange(100.0), "c": np.array(["u", "v"] * 50)})
    counts = count_window(profile, {"x": [1.0, 7.5, 500.0], "c": ["u", "w", "v"]})
    restored = WindowCounts.from_bytes(_version_2_bytes(counts))
    assert restored.to_bytes() == counts.to_bytes()


@pytest.mark.parametrize(
    ("largest", "dtype"),
    [
        (0, "<u1"),
        (255, "<u1"),
        (256, "<u2"),
        (65_535, "<u2"),
        (65_536, "<u4"),
        (2**32 - 1, "<u4"),
        (2**32, "<i8"),
        (2**62, "<i8"),
    ],
)
def test_counts_of_any_size_round_trip_in_their_narrowest_type(largest: int, dtype: str) -> None:
    profile = fit_profile({"x": np.arange(100.0)})
    counts = count_window(profile, {"x": [1.0, 2.0]})
    grid = counts.grid_counts[0]
    assert grid is not None
    big = WindowCounts(
        profile_id=counts.profile_id,
        feature_names=counts.feature_names,
        bin_counts=(np.full_like(counts.bin_counts[0], largest),),
        grid_counts=(np.arange(grid.shape[0], dtype=np.int64) % 7 + largest // 2,),
        n_missing=(largest,),
    )
    data = big.to_bytes()
    restored = WindowCounts.from_bytes(data)
    np.testing.assert_array_equal(restored.bin_counts[0], big.bin_counts[0])
    np.testing.assert_array_equal(restored.grid_counts[0], big.grid_counts[0])  # type: ignore[arg-type]
    assert restored.n_missing == (largest,)
    assert restored.bin_counts[0].dtype == np.int64
    size = int.from_bytes(data[5:9], "little")
    assert json.loads(data[9 : 9 + size])["dtype"] == dtype


@pytest.mark.parametrize("cut", [1, 9, -8, None])
def test_truncated_counts_are_rejected(cut: int | None) -> None:
    profile = fit_profile({"x": np.arange(100.0)})
    counts = count_window(profile, {"x": [1.0, 2.0]})
    data = _version_1_bytes(counts)[:-30] if cut is None else counts.to_bytes()[:cut]
    with pytest.raises(StatsInputError) as info:
        WindowCounts.from_bytes(data)
    assert info.value.argument == "data"


def test_counts_of_different_profiles_do_not_merge() -> None:
    a = fit_profile({"x": [1.0, 2.0, 3.0]})
    b = fit_profile({"x": [1.0, 2.0, 4.0]})
    with pytest.raises(StatsInputError) as info:
        count_window(a, {"x": [1.0]}) + count_window(b, {"x": [1.0]})
    assert info.value.argument == "other"
    with pytest.raises(StatsInputError) as info:
        score_counts(b, count_window(a, {"x": [1.0]}))
    assert info.value.argument == "counts"
