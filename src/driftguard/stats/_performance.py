"""Model performance: binary classification and regression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import StatsInputError, as_binary, as_float_1d, check_same_length

__all__ = [
    "ClassificationMetrics",
    "RegressionMetrics",
    "classification_metrics",
    "regression_metrics",
    "roc_auc",
]


@dataclass(frozen=True, slots=True)
class ClassificationMetrics:
    """Binary classification performance; ``None`` where a metric is undefined.

    Attributes
    ----------
    n, n_positive, n_predicted_positive : int
    true_positives, false_positives, false_negatives, true_negatives : int
    accuracy : float
    precision : float or None
        ``TP / (TP + FP)``; ``None`` without predicted positives.
    recall : float or None
        ``TP / (TP + FN)``; ``None`` without actual positives.
    f1 : float or None
        ``2 TP / (2 TP + FP + FN)``; ``None`` when that denominator is 0.
    roc_auc : float or None
        Area under the ROC curve; ``None`` without ``y_score`` or with one class only.
    log_loss, brier_score : float or None
        From ``y_score``; ``None`` without it.
    """

    n: int
    n_positive: int
    n_predicted_positive: int
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    accuracy: float
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None
    log_loss: float | None
    brier_score: float | None


def roc_auc(truth: NDArray[np.bool_], score: NDArray[np.float64]) -> float | None:
    """``P(s_pos > s_neg) + P(s_pos = s_neg) / 2`` counted exactly per distinct score."""
    n_pos = int(truth.sum())
    n_neg = truth.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse = np.unique(score, return_inverse=True)
    size = int(inverse.max()) + 1
    pos = np.bincount(inverse[truth], minlength=size).astype(np.int64)
    neg = np.bincount(inverse[~truth], minlength=size).astype(np.int64)
    neg_below = np.cumsum(neg) - neg
    twice = int(np.sum(pos * (2 * neg_below + neg)))
    return float(twice / (2 * n_pos * n_neg))


def classification_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, *, y_score: ArrayLike | None = None
) -> ClassificationMetrics:
    r"""Binary classification metrics, equal to scikit-learn's where defined.

    From the confusion counts: accuracy :math:`(TP + TN)/n`, precision :math:`TP/(TP+FP)`,
    recall :math:`TP/(TP+FN)`, F1 :math:`2TP/(2TP+FP+FN)`. From the scores :math:`p_i` (the
    predicted probability of class 1): ROC AUC :math:`P(p_{pos} > p_{neg}) + \tfrac12
    P(p_{pos} = p_{neg})`, log loss :math:`-\frac1n \sum y_i \ln p_i + (1-y_i) \ln(1-p_i)`
    with :math:`p` clipped to :math:`[\epsilon, 1-\epsilon]` (machine epsilon, as
    scikit-learn) and Brier score :math:`\frac1n \sum (p_i - y_i)^2`.

    Where scikit-learn warns and returns 0 (precision without predicted positives, recall without
    actual positives) or raises (ROC AUC with one class), the field is ``None`` instead: an
    undefined metric is not a bad score. Log loss is defined even when ``y_true`` holds one class
    (scikit-learn needs ``labels=[0, 1]`` for that).

    Parameters
    ----------
    y_true, y_pred : array_like of shape (n,)
        Binary outcomes and decisions (0/1 or booleans).
    y_score : array_like of shape (n,), optional
        Predicted probabilities of class 1, in [0, 1].

    Returns
    -------
    ClassificationMetrics

    Raises
    ------
    StatsInputError
        Empty or non-binary labels, mismatched lengths, scores outside [0, 1] or NaN.

    Examples
    --------
    >>> m = classification_metrics([1, 0, 1, 0], [1, 0, 0, 0], y_score=[0.9, 0.2, 0.4, 0.3])
    >>> m.accuracy, m.precision, m.recall, round(m.f1, 4), m.roc_auc
    (0.75, 1.0, 0.5, 0.6667, 1.0)
    >>> round(m.log_loss, 4), round(m.brier_score, 4)
    (0.4004, 0.125)
    """
    truth = as_binary(y_true, name="y_true")
    pred = as_binary(y_pred, name="y_pred")
    check_same_length(y_true=truth, y_pred=pred)
    n = truth.shape[0]
    tp = int(np.count_nonzero(truth & pred))
    n_pos, n_pred = int(np.count_nonzero(truth)), int(np.count_nonzero(pred))
    fp, fn = n_pred - tp, n_pos - tp
    tn = n - tp - fp - fn
    auc = loss = brier = None
    if y_score is not None:
        score = as_float_1d(y_score, name="y_score")
        check_same_length(y_true=truth, y_score=score)
        if np.any((score < 0) | (score > 1)):
            raise StatsInputError("y_score", "must hold probabilities in [0, 1]")
        auc = roc_auc(truth, score)
        eps = np.finfo(np.float64).eps
        p_true = np.clip(np.where(truth, score, 1.0 - score), eps, 1 - eps)
        loss = float(-np.mean(np.log(p_true)))
        brier = float(np.mean((score - truth) ** 2))
    return ClassificationMetrics(
        n=n,
        n_positive=n_pos,
        n_predicted_positive=n_pred,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        true_negatives=tn,
        accuracy=(tp + tn) / n,
        precision=tp / n_pred if n_pred else None,
        recall=tp / n_pos if n_pos else None,
        f1=2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else None,
        roc_auc=auc,
        log_loss=loss,
        brier_score=brier,
    )


@dataclass(frozen=True, slots=True)
class RegressionMetrics:
    """Regression errors.

    Attributes
    ----------
    n : int
    mae : float
        Mean absolute error.
    rmse : float
        Root mean squared error.
    r2 : float or None
        Coefficient of determination; ``None`` when ``y_true`` is constant.
    """

    n: int
    mae: float
    rmse: float
    r2: float | None


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> RegressionMetrics:
    r"""Regression metrics, equal to scikit-learn's.

    .. math::

        \mathrm{MAE} = \frac1n \sum |y_i - \hat y_i|, \quad
        \mathrm{RMSE} = \sqrt{\frac1n \sum (y_i - \hat y_i)^2}, \quad
        R^2 = 1 - \frac{\sum (y_i - \hat y_i)^2}{\sum (y_i - \bar y)^2}

    :math:`R^2` is undefined for a constant ``y_true`` and is then ``None`` (scikit-learn returns
    1.0 or 0.0 there by default, ``nan`` / ``-inf`` with ``force_finite=False``).

    Parameters
    ----------
    y_true, y_pred : array_like of shape (n,)
        Numeric; NaN and infinities are rejected.

    Returns
    -------
    RegressionMetrics

    Raises
    ------
    StatsInputError
        Empty, non-numeric or NaN input, or mismatched lengths.

    Examples
    --------
    >>> m = regression_metrics([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    >>> m.mae, round(m.rmse, 6), round(m.r2, 6)
    (0.5, 0.612372, 0.948608)
    """
    truth = as_float_1d(y_true, name="y_true")
    pred = as_float_1d(y_pred, name="y_pred")
    check_same_length(y_true=truth, y_pred=pred)
    error = truth - pred
    ss_res = float(np.sum(error**2))
    ss_tot = float(np.sum((truth - np.mean(truth)) ** 2))
    return RegressionMetrics(
        n=int(truth.shape[0]),
        mae=float(np.mean(np.abs(error))),
        rmse=float(np.sqrt(ss_res / truth.shape[0])),
        r2=1.0 - ss_res / ss_tot if ss_tot > 0 else None,
    )
