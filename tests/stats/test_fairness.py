"""Fairness metrics against fairlearn."""

from __future__ import annotations

import warnings

import fairlearn.metrics as flm
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.stats import GroupCodes, StatsInputError, fairness_metrics
from driftguard.stats._fairness import factorize


def _data(seed: int, n: int, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = rng.choice(np.array([f"g{k}" for k in range(n_groups)]), size=n)
    y_true = rng.integers(0, 2, size=n)
    bias = np.array([rng.uniform(0.2, 0.8) for _ in range(n_groups)])
    y_pred = (rng.random(n) < bias[np.searchsorted(np.unique(groups), groups)]).astype(int)
    return y_true, y_pred, groups


def _fairlearn(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    kw = {"sensitive_features": groups}
    return {
        "demographic_parity_difference": flm.demographic_parity_difference(y_true, y_pred, **kw),
        "demographic_parity_ratio": flm.demographic_parity_ratio(y_true, y_pred, **kw),
        "equal_opportunity_difference": flm.equal_opportunity_difference(y_true, y_pred, **kw),
        "equalized_odds_difference": flm.equalized_odds_difference(y_true, y_pred, **kw),
    }


@pytest.mark.parametrize(("seed", "n_groups"), [(0, 2), (1, 3), (2, 4), (3, 7), (4, 40)])
def test_matches_fairlearn(seed: int, n_groups: int) -> None:
    y_true, y_pred, groups = _data(seed, 3000, n_groups)
    ours = fairness_metrics(y_pred, groups, y_true=y_true)
    for name, expected in _fairlearn(y_true, y_pred, groups).items():
        assert getattr(ours, name) == pytest.approx(float(expected), abs=1e-12), name
    assert ours.disparate_impact_ratio == ours.demographic_parity_ratio
    frame = flm.MetricFrame(
        metrics={
            "sr": flm.selection_rate,
            "tpr": flm.true_positive_rate,
            "fpr": flm.false_positive_rate,
            "n": flm.count,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=groups,
    ).by_group
    assert [g.group for g in ours.groups] == list(frame.index)
    for g in ours.groups:
        row = frame.loc[g.group]
        assert g.size == row["n"]
        assert g.selection_rate == pytest.approx(row["sr"], abs=1e-12)
        assert g.tpr == pytest.approx(row["tpr"], abs=1e-12)
        assert g.fpr == pytest.approx(row["fpr"], abs=1e-12)


def test_group_without_positives_excluded_by_default_and_zero_on_request() -> None:
    y_true = np.array([1, 0, 1, 0, 0, 0, 1, 1, 0, 0])
    y_pred = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0, 1])
    groups = np.array(["a", "a", "a", "a", "b", "b", "c", "c", "c", "c"])  # "b": no positives
    ours = fairness_metrics(y_pred, groups, y_true=y_true)
    b = next(g for g in ours.groups if g.group == "b")
    assert (b.tpr, b.n_positive) == (None, 0)
    assert ours.equal_opportunity_difference == pytest.approx(0.0)  # a: 1/2, c: 1/2
    as_zero = fairness_metrics(y_pred, groups, y_true=y_true, undefined_rates="as_zero")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn may warn about the empty row
        expected = _fairlearn(y_true, y_pred, groups)
    assert as_zero.equal_opportunity_difference == pytest.approx(
        expected["equal_opportunity_difference"], abs=1e-12
    )
    assert as_zero.equal_opportunity_difference == pytest.approx(0.5)
    assert as_zero.equalized_odds_difference == pytest.approx(
        expected["equalized_odds_difference"], abs=1e-12
    )


def test_without_labels_only_selection_measures() -> None:
    res = fairness_metrics([1, 1, 0, 1], ["x", "x", "y", "y"])
    assert res.demographic_parity_difference == 0.5
    assert res.disparate_impact_ratio == 0.5
    assert res.equal_opportunity_difference is None
    assert res.equalized_odds_difference is None
    assert all(g.tpr is None and g.n_positive is None for g in res.groups)


def test_small_groups_are_flagged_not_dropped() -> None:
    res = fairness_metrics([1, 0, 1, 1, 0], ["big", "big", "big", "big", "tiny"], min_group_size=2)
    assert [(g.group, g.size, g.below_min_group_size) for g in res.groups] == [
        ("big", 4, False),
        ("tiny", 1, True),
    ]
    assert res.demographic_parity_difference == 0.75


def test_impact_ratio_against_most_favoured_group() -> None:
    res = fairness_metrics([1, 1, 1, 0, 1, 0, 0, 0], list("aaaabbbb"))
    assert [g.impact_ratio for g in res.groups] == [1.0, pytest.approx(1 / 3)]
    assert res.disparate_impact_ratio == pytest.approx(1 / 3)


def test_nobody_selected() -> None:
    res = fairness_metrics([0, 0, 0], ["a", "b", "b"])
    assert res.demographic_parity_difference == 0.0
    assert res.demographic_parity_ratio is None
    assert all(g.impact_ratio is None for g in res.groups)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 1), st.sampled_from("abcde")),
        min_size=1,
        max_size=60,
    ),
    names=st.permutations(["v", "w", "x", "y", "z"]),
)
def test_invariant_to_renaming_groups(rows: list[tuple[int, int, str]], names: list[str]) -> None:
    y_true = [r[0] for r in rows]
    y_pred = [r[1] for r in rows]
    groups = [r[2] for r in rows]
    rename = dict(zip("abcde", names, strict=True))
    a = fairness_metrics(y_pred, groups, y_true=y_true)
    b = fairness_metrics(y_pred, [rename[g] for g in groups], y_true=y_true)
    for field in (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "disparate_impact_ratio",
        "equal_opportunity_difference",
        "equalized_odds_difference",
        "n",
    ):
        assert getattr(a, field) == getattr(b, field)
    by_name = {rename[g.group]: g for g in a.groups}  # type: ignore[index]
    for g in b.groups:
        assert by_name[g.group].size == g.size
        assert by_name[g.group].selection_rate == g.selection_rate


def test_factorize_many_groups_falls_back_to_sorting() -> None:
    labels = np.array([f"g{k % 50:02d}" for k in range(500)])
    uniques, codes = factorize(labels)
    assert uniques.tolist() == sorted(set(labels.tolist()))
    np.testing.assert_array_equal(uniques[codes], labels)
    few = np.array(["b", "a", "b", "c"])
    uniques, codes = factorize(few)
    assert uniques.tolist() == ["a", "b", "c"]
    assert codes.tolist() == [1, 0, 1, 2]


@pytest.mark.parametrize("seed", range(5))
def test_groups_given_as_codes_give_the_same_result(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.choice(np.array(["north", "south", "east", "west"]), 2_000)
    y_pred, y_true = rng.integers(0, 2, 2_000), rng.integers(0, 2, 2_000)
    names, codes = np.unique(labels, return_inverse=True)
    by_codes = fairness_metrics(y_pred, GroupCodes(names, codes), y_true=y_true)
    assert by_codes == fairness_metrics(y_pred, labels, y_true=y_true)
    assert [g.group for g in by_codes.groups] == sorted(set(labels.tolist()))


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"y_pred": [2, 0], "groups": ["a", "b"]}, "y_pred"),
        ({"y_pred": [1, 0], "groups": ["a"]}, "groups"),
        ({"y_pred": [1, 0], "groups": ["a", "b"], "y_true": [1]}, "y_true"),
        ({"y_pred": [1, 0], "groups": ["a", None]}, "groups"),
        ({"y_pred": [], "groups": []}, "y_pred"),
        ({"y_pred": [1], "groups": ["a"], "min_group_size": -1}, "min_group_size"),
        ({"y_pred": [1], "groups": ["a"], "undefined_rates": "nan"}, "undefined_rates"),
        ({"y_pred": [1, 0], "groups": GroupCodes(["b", "a"], [0, 1])}, "groups.names"),
        ({"y_pred": [1, 0], "groups": GroupCodes(["a", "a"], [0, 1])}, "groups.names"),
        ({"y_pred": [1, 0], "groups": GroupCodes(["a", "b"], [0, 2])}, "groups.codes"),
        ({"y_pred": [1, 0], "groups": GroupCodes(["a", "b"], [0, -1])}, "groups.codes"),
        ({"y_pred": [1, 0], "groups": GroupCodes(["a", "b"], [0.0, 1.0])}, "groups.codes"),
        ({"y_pred": [1, 0], "groups": GroupCodes(["a", "b"], [0, 1, 1])}, "groups"),
        ({"y_pred": [1, 0], "groups": GroupCodes(["a", "b", "c"], [0, 2])}, "groups.names"),
    ],
)
def test_invalid_input(kwargs: dict, argument: str) -> None:
    with pytest.raises(StatsInputError) as info:
        fairness_metrics(**kwargs)
    assert info.value.argument == argument
