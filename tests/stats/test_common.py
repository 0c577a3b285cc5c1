"""Invariants shared by every statistic of a kind, checked across all of them at once."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import driftguard.stats as dgs

rng = np.random.default_rng(2024)
REF = rng.normal(size=400)
CUR = rng.normal(0.3, 1.2, size=300)
REF_CAT = rng.choice(np.array(["a", "b", "c"]), size=400)
CUR_CAT = rng.choice(np.array(["a", "b", "d"]), size=300)

NUMERIC_DRIFT: dict[str, Callable[[Any, Any], Any]] = {
    "psi": dgs.psi,
    "psi_uniform": lambda a, b: dgs.psi(a, b, binning="uniform"),
    "psi_additive": lambda a, b: dgs.psi(a, b, empty_bins="additive", smoothing=0.5),
    "jensen_shannon": dgs.jensen_shannon_distance,
    "ks": dgs.ks_2samp,
    "ks_asymp": lambda a, b: dgs.ks_2samp(a, b, method="asymp"),
    "wasserstein": dgs.wasserstein_distance,
}
CATEGORICAL_DRIFT: dict[str, Callable[[Any, Any], Any]] = {
    "psi": lambda a, b: dgs.psi(a, b, categorical=True),
    "jensen_shannon": lambda a, b: dgs.jensen_shannon_distance(a, b, categorical=True),
    "chi_square": dgs.chi_square,
}
ALL_DRIFT = [(f"numeric-{k}", f, REF, CUR) for k, f in NUMERIC_DRIFT.items()] + [
    (f"categorical-{k}", f, REF_CAT, CUR_CAT) for k, f in CATEGORICAL_DRIFT.items()
]
SYMMETRIC = ["ks", "ks_asymp", "wasserstein"]


@pytest.mark.parametrize(("name", "func", "ref", "cur"), ALL_DRIFT, ids=[d[0] for d in ALL_DRIFT])
def test_drift_result_shape(name: str, func: Callable, ref: Any, cur: Any) -> None:
    res = func(ref, cur)
    assert dataclasses.is_dataclass(res)
    assert res.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert hasattr(type(res), "__slots__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.statistic = 0.0
    assert isinstance(res.statistic, float)
    assert res.statistic > 0.0
    assert (res.n_reference, res.n_current) == (len(ref), len(cur))
    if hasattr(res, "p_value"):
        assert 0.0 <= res.p_value < 0.05


@pytest.mark.parametrize(("name", "func", "ref", "cur"), ALL_DRIFT, ids=[d[0] for d in ALL_DRIFT])
def test_no_drift_against_itself(name: str, func: Callable, ref: Any, cur: Any) -> None:
    res = func(ref, ref)
    assert res.statistic == 0.0
    if hasattr(res, "p_value"):
        assert res.p_value == 1.0


@pytest.mark.parametrize(("name", "func", "ref", "cur"), ALL_DRIFT, ids=[d[0] for d in ALL_DRIFT])
def test_invariant_to_row_order(name: str, func: Callable, ref: Any, cur: Any) -> None:
    order = np.random.default_rng(1)
    assert func(order.permutation(ref), order.permutation(cur)) == func(ref, cur)


@pytest.mark.parametrize("name", SYMMETRIC)
def test_symmetric_statistics(name: str) -> None:
    func = NUMERIC_DRIFT[name]
    assert func(REF, CUR).statistic == pytest.approx(func(CUR, REF).statistic, rel=1e-14)


@pytest.mark.parametrize("name", list(NUMERIC_DRIFT))
@pytest.mark.parametrize("position", ["reference", "current"])
@pytest.mark.parametrize(
    ("bad", "message"),
    [([1.0, np.nan], "NaN"), ([], "empty"), (["1.0", "2.0"], "dtype"), ([1.0, np.inf], "infinite")],
)
def test_numeric_drift_rejects_bad_input(name: str, position: str, bad: list, message: str) -> None:
    args = {"reference": REF, "current": CUR, position: np.asarray(bad)}
    with pytest.raises(dgs.StatsInputError, match=message) as info:
        NUMERIC_DRIFT[name](args["reference"], args["current"])
    assert info.value.argument == position
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", list(CATEGORICAL_DRIFT))
@pytest.mark.parametrize("position", ["reference", "current"])
@pytest.mark.parametrize("bad", [[], ["a", None], [0.5, 1.5]])
def test_categorical_drift_rejects_bad_input(name: str, position: str, bad: list) -> None:
    args = {"reference": REF_CAT, "current": CUR_CAT, position: np.asarray(bad, dtype=object)}
    if len(bad) and isinstance(bad[0], float):
        args[position] = np.asarray(bad)
    with pytest.raises(dgs.StatsInputError) as info:
        CATEGORICAL_DRIFT[name](args["reference"], args["current"])
    assert info.value.argument == position


def test_every_public_result_is_a_frozen_slotted_dataclass() -> None:
    results = [
        dgs.fairness_metrics([1, 0], ["a", "b"], y_true=[1, 0]),
        dgs.classification_metrics([1, 0], [1, 0], y_score=[0.7, 0.2]),
        dgs.regression_metrics([1.0, 2.0], [1.5, 2.0]),
        dgs.correct_pvalues([0.1], method="bonferroni"),
    ]
    profile = dgs.fit_profile({"x": REF[:50], "c": REF_CAT[:50]})
    window = dgs.score_window(profile, {"x": CUR[:50], "c": CUR_CAT[:50]})
    counts = dgs.score_counts(profile, dgs.count_window(profile, {"x": CUR, "c": CUR_CAT}))
    results += [window, window.features[0], counts, counts.features[0], profile]
    results += [dgs.data_quality(profile, {"x": CUR, "c": CUR_CAT})]
    results += [dgs.fairness_metrics([1, 0], ["a", "b"]).groups[0]]
    for res in results:
        assert dataclasses.is_dataclass(res), type(res)
        assert res.__dataclass_params__.frozen, type(res)  # type: ignore[attr-defined]
        assert hasattr(type(res), "__slots__"), type(res)


def test_every_window_statistic_reports_sample_sizes() -> None:
    profile = dgs.fit_profile({"x": REF, "c": REF_CAT})
    for feature in dgs.score_window(profile, {"x": CUR, "c": CUR_CAT}).features:
        parts = [feature.psi, feature.jensen_shannon, feature.ks, feature.wasserstein]
        parts.append(feature.chi_square)
        for part in filter(None, parts):
            assert (part.n_reference, part.n_current) == (feature.n_reference, feature.n_current)


PUBLIC_FUNCTIONS = [
    getattr(dgs, name) for name in dgs.__all__ if inspect.isfunction(getattr(dgs, name))
]


@pytest.mark.parametrize("func", PUBLIC_FUNCTIONS, ids=lambda f: f.__name__)
def test_public_functions_are_documented_and_keyword_only(func: Callable) -> None:
    doc = inspect.getdoc(func) or ""
    for section in ("Parameters", "Returns", "Examples"):
        assert f"{section}\n---" in doc, (func.__name__, section)
    params = list(inspect.signature(func).parameters.values())
    options = [p for p in params if p.default is not inspect.Parameter.empty]
    # Every optional argument is keyword-only (y_true in fairness_metrics included).
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in options), func.__name__
