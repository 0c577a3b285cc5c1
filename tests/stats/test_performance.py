"""Classification and regression metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.stats import StatsInputError, classification_metrics, regression_metrics


@pytest.mark.parametrize("seed", range(8))
def test_classification_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 3000))
    y_true = rng.integers(0, 2, size=n)
    score = np.clip(0.3 * y_true + rng.uniform(0, 0.7, size=n), 0, 1)
    if seed % 2:
        score = np.round(score, 1)  # many ties
    y_pred = (score > 0.5).astype(int)
    m = classification_metrics(y_true, y_pred, y_score=score)
    assert m.accuracy == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-12)
    assert m.precision == pytest.approx(skm.precision_score(y_true, y_pred), abs=1e-12)
    assert m.recall == pytest.approx(skm.recall_score(y_true, y_pred), abs=1e-12)
    assert m.f1 == pytest.approx(skm.f1_score(y_true, y_pred), abs=1e-12)
    assert m.roc_auc == pytest.approx(skm.roc_auc_score(y_true, score), abs=1e-12)
    assert m.log_loss == pytest.approx(skm.log_loss(y_true, score), abs=1e-12)
    assert m.brier_score == pytest.approx(skm.brier_score_loss(y_true, score), abs=1e-12)
    tn, fp, fn, tp = skm.confusion_matrix(y_true, y_pred).ravel()
    assert (m.true_negatives, m.false_positives, m.false_negatives, m.true_positives) == (
        tn,
        fp,
        fn,
        tp,
    )


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.booleans(), st.floats(0, 1, allow_nan=False)), min_size=2, max_size=50
    )
)
def test_roc_auc_matches_sklearn_with_arbitrary_ties(rows: list[tuple[bool, float]]) -> None:
    y_true = np.array([r[0] for r in rows])
    score = np.array([r[1] for r in rows])
    m = classification_metrics(y_true, score > 0.5, y_score=score)
    if y_true.all() or not y_true.any():
        assert m.roc_auc is None
    else:
        assert m.roc_auc == pytest.approx(skm.roc_auc_score(y_true, score), abs=1e-12)


def test_clipped_log_loss_matches_sklearn_at_certainty() -> None:
    y_true, score = [1, 0, 1], [1.0, 0.0, 0.0]
    m = classification_metrics(y_true, [1, 0, 0], y_score=score)
    assert m.log_loss == pytest.approx(skm.log_loss(y_true, score), rel=1e-12)


def test_undefined_metrics_are_none() -> None:
    m = classification_metrics([0, 0, 0], [0, 0, 0], y_score=[0.1, 0.2, 0.3])
    assert (m.precision, m.recall, m.f1, m.roc_auc) == (None, None, None, None)
    assert m.accuracy == 1.0
    assert m.log_loss == pytest.approx(skm.log_loss([0, 0, 0], [0.1, 0.2, 0.3], labels=[0, 1]))
    bare = classification_metrics([1, 0], [1, 1])
    assert (bare.roc_auc, bare.log_loss, bare.brier_score) == (None, None, None)


@pytest.mark.parametrize("seed", range(6))
def test_regression_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=500) * 10
    y_hat = y + rng.normal(size=500)
    m = regression_metrics(y, y_hat)
    assert m.mae == pytest.approx(skm.mean_absolute_error(y, y_hat), rel=1e-12)
    assert m.rmse == pytest.approx(skm.root_mean_squared_error(y, y_hat), rel=1e-12)
    assert m.r2 == pytest.approx(skm.r2_score(y, y_hat), rel=1e-12)
    assert m.n == 500


def test_r2_undefined_for_constant_truth() -> None:
    m = regression_metrics([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert m.r2 is None
    with np.errstate(divide="ignore"):
        undefined = skm.r2_score([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], force_finite=False)
    assert np.isneginf(undefined)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: classification_metrics([1, 2], [1, 0]), "y_true"),
        (lambda: classification_metrics([1, 0], [1]), "y_pred"),
        (lambda: classification_metrics([1, 0], [1, 0], y_score=[0.5, 1.5]), "y_score"),
        (lambda: classification_metrics([1, 0], [1, 0], y_score=[0.5]), "y_score"),
        (lambda: classification_metrics(["yes"], ["no"]), "y_true"),
        (lambda: regression_metrics([1.0, np.nan], [1.0, 2.0]), "y_true"),
        (lambda: regression_metrics([1.0], [1.0, 2.0]), "y_pred"),
        (lambda: regression_metrics([], []), "y_true"),
    ],
)
def test_invalid_input(call: object, argument: str) -> None:
    with pytest.raises(StatsInputError) as info:
        call()  # type: ignore[operator]
    assert info.value.argument == argument
