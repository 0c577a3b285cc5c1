"""Two-sample KS test against scipy, in the exact and asymptotic regimes."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.stats import KSResult, StatsInputError, ks_2samp
from driftguard.stats._ks import _smooth_sum, kstwo_sf

RTOL_P = 1e-9


def _assert_matches_scipy(a: np.ndarray, b: np.ndarray, method: str = "auto") -> KSResult:
    ours = ks_2samp(a, b, method=method)  # type: ignore[arg-type]
    ref = scipy.stats.ks_2samp(a, b, method=method)
    assert ours.statistic == pytest.approx(float(ref.statistic), abs=1e-12)
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=RTOL_P, abs=1e-300)
    assert ours.n_reference == a.shape[0]
    assert ours.n_current == b.shape[0]
    return ours


@pytest.mark.parametrize("seed", range(40))
def test_small_samples_match_scipy_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(1, 80, size=2)
    a = rng.normal(size=n1)
    b = rng.normal(rng.uniform(0, 1), 1, size=n2)
    assert _assert_matches_scipy(a, b).method == "exact"


@pytest.mark.parametrize("seed", range(20))
def test_ties_match_scipy(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n1, n2 = rng.integers(1, 200, size=2)
    a = rng.integers(0, 6, size=n1).astype(float)
    b = rng.integers(0, 8, size=n2).astype(float)
    _assert_matches_scipy(a, b)


@pytest.mark.parametrize(
    ("n1", "n2", "shift"),
    [
        (10_000, 9_999, 0.05),  # largest unequal sizes still exact under "auto"
        (10_000, 10_000, 0.05),  # equal sizes: closed alternating sum
        (3_000, 7_000, 0.1),
        (2_000, 500, 0.2),
        (500, 500, 0.4),  # small p-value
    ],
)
def test_exact_regime_boundaries(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(n1 + n2)
    res = _assert_matches_scipy(rng.normal(size=n1), rng.normal(shift, 1, size=n2))
    assert res.method == "exact"


@pytest.mark.parametrize(
    ("n1", "n2", "shift"),
    [
        (10_001, 10_000, 0.0),
        (20_000, 15_000, 0.03),  # 2.2 <= n D^2 < 370: vectorised Smirnov sum
        (50_000, 40_000, 0.06),
        (100_000, 120, 0.1),
        (30_000, 30_000, 0.5),  # p underflows to 0
    ],
)
def test_asymptotic_regime_matches_scipy(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(n1 - n2)
    res = _assert_matches_scipy(rng.normal(size=n1), rng.normal(shift, 1, size=n2))
    assert res.method == "asymp"


def test_forced_methods_match_scipy() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=300), rng.normal(0.2, 1, size=200)
    assert _assert_matches_scipy(a, b, "asymp").method == "asymp"
    assert _assert_matches_scipy(a, b, "exact").method == "exact"


def test_exact_falls_back_to_asymp_when_lattice_too_large() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=100_003), rng.normal(size=99_991)  # coprime: lcm ~ 1e10
    assert ks_2samp(a, b, method="exact").method == "asymp"


@pytest.mark.parametrize(
    ("n", "n_d2"),
    [(n, x) for n in (141, 1_000, 20_000) for x in (0.3, 1.5, 2.2, 4.0, 17.0, 80.0, 300.0)]
    + [(200_000, 2.5), (200_000, 40.0), (500_000, 2.2), (500_000, 120.0), (1_000_000, 9.0)]
    # scipy switches to its asymptotic formula above n = 10^6; so must we.
    + [(1_000_001, 9.0), (3_000_000, 150.0)],
)
def test_kstwo_sf_matches_scipy_in_every_regime(n: int, n_d2: float) -> None:
    d = float(np.sqrt(n_d2 / n))
    expected = float(scipy.stats.kstwo.sf(d, n))
    assert kstwo_sf(d, n) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_smooth_sum_refines_until_two_steps_agree() -> None:
    # Terms that fall away at once are not smooth: a coarse grid would read 64 for a sum of
    # about 1.58, so the step must shrink to 1 (the full sum).
    full = sum(math.exp(-j) for j in range(10_001))
    assert _smooth_sum(lambda j: np.exp(-j), 10_000, step=64) == pytest.approx(full, rel=1e-15)


@pytest.mark.parametrize("n_d2", [2.2, 3.0, 25.0, 369.0])
def test_smirnov_sum_in_steps_equals_the_full_sum(n_d2: float) -> None:
    n = 400_000
    d = math.sqrt(n_d2 / n)
    last = math.floor(n * (1 - d))

    def term(j: np.ndarray) -> np.ndarray:
        u = d + j / n
        return np.asarray(scipy.stats.binom.pmf(j, n, u) / u)

    full = float(term(np.arange(last + 1, dtype=np.float64)).sum())
    assert _smooth_sum(term, last, step=math.isqrt(n) // 4) == pytest.approx(full, rel=1e-12)


def test_identical_samples() -> None:
    x = np.arange(10.0)
    res = ks_2samp(x, x)
    assert res.statistic == 0.0
    assert res.p_value == 1.0


def test_disjoint_samples_have_statistic_one() -> None:
    res = ks_2samp([1.0, 2.0, 3.0], [10.0, 11.0])
    assert res.statistic == 1.0
    assert res.p_value == pytest.approx(float(scipy.stats.ks_2samp([1, 2, 3], [10, 11]).pvalue))


samples = st.lists(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=40
)


@settings(max_examples=60, deadline=None)
@given(a=samples, b=samples, seed=st.integers(0, 2**32 - 1))
def test_permutation_invariance(a: list[float], b: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = np.array(a), np.array(b)
    base = ks_2samp(x, y)
    shuffled = ks_2samp(rng.permutation(x), rng.permutation(y))
    assert shuffled == base


@settings(max_examples=60, deadline=None)
@given(a=samples, b=samples)
def test_statistic_matches_scipy_on_arbitrary_data(a: list[float], b: list[float]) -> None:
    ours = ks_2samp(a, b)
    with warnings.catch_warnings():
        # scipy warns when its exact p-value rounds outside [0, 1]; see the test below.
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = float(scipy.stats.ks_2samp(a, b).statistic)
    assert ours.statistic == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= ours.p_value <= 1.0


def test_exact_p_value_rounding_above_one_is_clipped_not_replaced() -> None:
    """Deliberate difference: scipy discards an exact p-value that rounds to just above 1.

    For equal sizes and D = 1/n the exact p-value is 1 (D >= 1/n always holds). scipy's
    alternating sum rounds slightly above 1, so it warns and reports the asymptotic value
    instead; we keep the exact method and clip to 1.
    """
    a, b = [0.0] * 7, [0.0] * 6 + [1.0]
    ours = ks_2samp(a, b)
    assert (ours.statistic, ours.p_value, ours.method) == (1 / 7, 1.0, "exact")
    with pytest.warns(RuntimeWarning, match="Switching to method=asymp"):
        ref = scipy.stats.ks_2samp(a, b)
    assert float(ref.pvalue) < 1.0


@pytest.mark.parametrize(
    ("reference", "current", "argument"),
    [
        ([], [1.0], "reference"),
        ([1.0], [], "current"),
        ([1.0, float("nan")], [1.0], "reference"),
        ([1.0], [float("inf")], "current"),
        (["a"], [1.0], "reference"),
        ([[1.0]], [1.0], "reference"),
    ],
)
def test_invalid_input_names_argument(reference: list, current: list, argument: str) -> None:
    with pytest.raises(StatsInputError) as info:
        ks_2samp(reference, current)
    assert info.value.argument == argument


def test_unknown_method() -> None:
    with pytest.raises(StatsInputError, match="method"):
        ks_2samp([1.0], [2.0], method="fast")  # type: ignore[arg-type]
