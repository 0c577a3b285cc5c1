"""Group fairness of binary decisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import StatsInputError, as_binary, as_labels, check_choice, check_same_length

__all__ = ["FairnessResult", "GroupCodes", "GroupRates", "factorize", "fairness_metrics"]

UndefinedRates = Literal["exclude", "as_zero"]
_FEW_GROUPS = 32


@dataclass(frozen=True, slots=True)
class GroupCodes:
    """Group labels already factorised: ``names``, the distinct labels in ascending order, and
    ``codes``, each row's index into them (what :func:`factorize` returns). A caller that holds
    its groups encoded (an Arrow dictionary, say) passes them so, and no array of a million
    labels is built or compared."""

    names: ArrayLike
    codes: ArrayLike


@dataclass(frozen=True, slots=True)
class GroupRates:
    """Counts and rates of one group.

    Rates are ``None`` where undefined: ``tpr`` without actual positives, ``fpr`` without actual
    negatives, ``ppv`` without predicted positives; label-based fields are ``None`` without
    ``y_true``.
    """

    group: str | int | bool
    size: int
    n_selected: int
    selection_rate: float
    impact_ratio: float | None
    below_min_group_size: bool
    n_positive: int | None
    n_negative: int | None
    true_positives: int | None
    false_positives: int | None
    tpr: float | None
    fpr: float | None
    ppv: float | None


@dataclass(frozen=True, slots=True)
class FairnessResult:
    """Between-group fairness measures (worst case over all pairs of groups).

    Attributes
    ----------
    demographic_parity_difference : float
        ``max_g SR_g - min_g SR_g`` (selection rates).
    demographic_parity_ratio : float or None
        ``min_g SR_g / max_g SR_g``; ``None`` when nobody is selected.
    disparate_impact_ratio : float or None
        Lowest ``SR_g / SR_max`` against the most favoured group (equals the ratio above; the
        per-group values are in ``groups[...].impact_ratio``), the four-fifths-rule input.
    equal_opportunity_difference : float or None
        ``max_g TPR_g - min_g TPR_g``; ``None`` without ``y_true`` or defined TPRs.
    equalized_odds_difference : float or None
        ``max(TPR difference, FPR difference)``.
    groups : tuple of GroupRates
        Per-group table, sorted by group label; small groups are flagged, never dropped.
    n : int
        Number of rows.
    min_group_size : int
        The size below which groups are flagged.
    undefined_rates : str
        How groups with undefined TPR/FPR entered the differences.
    """

    demographic_parity_difference: float
    demographic_parity_ratio: float | None
    disparate_impact_ratio: float | None
    equal_opportunity_difference: float | None
    equalized_odds_difference: float | None
    groups: tuple[GroupRates, ...]
    n: int
    min_group_size: int
    undefined_rates: str


def factorize(labels: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Sorted distinct labels and each row's code.

    With a handful of groups, k equality passes beat sorting a million strings; with many
    groups, fall back to ``np.unique``.
    """
    n = labels.shape[0]
    codes = np.full(n, -1, dtype=np.intp)
    found: list[Any] = []
    start = 0
    while start < n:
        if len(found) == _FEW_GROUPS:
            uniques, inverse = np.unique(labels, return_inverse=True)
            return uniques, inverse.astype(np.intp)
        value = labels[start]
        codes[labels == value] = len(found)
        found.append(value)
        unassigned = np.flatnonzero(codes[start:] < 0)
        start = start + int(unassigned[0]) if unassigned.size else n
    uniques = np.asarray(found, dtype=labels.dtype)
    order = np.argsort(uniques, kind="stable")
    remap = np.empty_like(order)
    remap[order] = np.arange(order.shape[0])
    return uniques[order], remap[codes]


def _checked_codes(groups: GroupCodes) -> tuple[NDArray[Any], NDArray[np.intp]]:
    names = as_labels(groups.names, name="groups.names")
    if names.shape[0] > 1 and not bool(np.all(names[:-1] < names[1:])):
        raise StatsInputError("groups.names", "must be distinct and in ascending order")
    codes = np.asarray(groups.codes)
    if codes.ndim != 1 or codes.dtype.kind not in "iu":
        raise StatsInputError("groups.codes", "must be a one-dimensional array of integers")
    k = names.shape[0]
    if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= k):
        raise StatsInputError("groups.codes", f"must index groups.names (0 to {k - 1})")
    if codes.size and int(np.bincount(codes, minlength=k).min()) == 0:
        raise StatsInputError("groups.names", "must name only groups that have rows")
    return names, codes.astype(np.intp, copy=False)


def _spread(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return max(defined) - min(defined) if defined else None


def fairness_metrics(
    y_pred: ArrayLike,
    groups: ArrayLike | GroupCodes,
    *,
    y_true: ArrayLike | None = None,
    min_group_size: int = 0,
    undefined_rates: UndefinedRates = "exclude",
) -> FairnessResult:
    r"""Group fairness of binary decisions, with per-group counts and rates.

    With selection rate :math:`SR_g = P(\hat y = 1 | g)`, :math:`TPR_g = P(\hat y = 1 | y = 1, g)`
    and :math:`FPR_g = P(\hat y = 1 | y = 0, g)`:

    * demographic parity difference :math:`\max_g SR_g - \min_g SR_g`, ratio
      :math:`\min_g SR_g / \max_g SR_g`;
    * disparate impact ratio :math:`\min_g SR_g / SR_{g^*}` against the most favoured group
      :math:`g^*` (per group in the table);
    * equal opportunity difference :math:`\max_g TPR_g - \min_g TPR_g`;
    * equalized odds difference :math:`\max(\Delta TPR, \Delta FPR)` (worst case).

    These are fairlearn's ``method="between_groups"`` definitions and agree with
    ``fairlearn.metrics`` to rounding. One deliberate difference: a group without actual
    positives has no TPR (and one without negatives no FPR). fairlearn silently counts such a
    rate as 0, which can create or hide a gap; by default (``undefined_rates="exclude"``) such
    groups are left out of that difference and their rate is ``None``. Pass
    ``undefined_rates="as_zero"`` to reproduce fairlearn exactly.

    Parameters
    ----------
    y_pred : array_like of shape (n,)
        Binary decisions (0/1 or booleans); 1 is the favourable outcome.
    groups : array_like of shape (n,), or GroupCodes
        Group labels (strings, integers or booleans); any number of groups. Or the same
        already factorised (:class:`GroupCodes`).
    y_true : array_like of shape (n,), optional
        Binary outcomes. Without them the label-based measures are ``None``.
    min_group_size : int, default 0
        Groups smaller than this are flagged (``below_min_group_size``) but still counted.
    undefined_rates : {"exclude", "as_zero"}, default "exclude"
        See above.

    Returns
    -------
    FairnessResult

    Raises
    ------
    StatsInputError
        Empty or non-binary decisions or outcomes, mismatched lengths, bad group labels,
        negative ``min_group_size`` or unknown ``undefined_rates``.

    Examples
    --------
    >>> res = fairness_metrics([1, 0, 1, 1, 0, 0], ["a", "a", "a", "b", "b", "b"],
    ...                        y_true=[1, 0, 0, 1, 1, 0])
    >>> round(res.demographic_parity_difference, 4), round(res.disparate_impact_ratio, 4)
    (0.3333, 0.5)
    >>> res.equal_opportunity_difference, res.equalized_odds_difference
    (0.5, 0.5)
    >>> [(g.group, g.size, g.tpr) for g in res.groups]
    [('a', 3, 1.0), ('b', 3, 0.5)]
    """
    check_choice(undefined_rates, name="undefined_rates", choices=("exclude", "as_zero"))
    if (
        isinstance(min_group_size, bool)
        or not isinstance(min_group_size, int)
        or min_group_size < 0
    ):
        raise StatsInputError(
            "min_group_size", f"must be a non-negative integer, got {min_group_size!r}"
        )
    pred = as_binary(y_pred, name="y_pred")
    uniques, codes = (
        _checked_codes(groups)
        if isinstance(groups, GroupCodes)
        else factorize(as_labels(groups, name="groups"))
    )
    check_same_length(y_pred=pred, groups=codes)
    truth = None
    if y_true is not None:
        truth = as_binary(y_true, name="y_true")
        check_same_length(y_pred=pred, y_true=truth)
    k = uniques.shape[0]
    # One pass: cell = group * 4 + truth * 2 + pred.
    cell = codes * 4 + pred
    if truth is not None:
        cell += 2 * truth
    table = np.bincount(cell, minlength=4 * k).reshape(k, 2, 2)  # [group, truth, pred]
    sizes = table.sum(axis=(1, 2))
    selected = table[:, :, 1].sum(axis=1)
    rates = selected / sizes
    top = float(rates.max())
    zero = undefined_rates == "as_zero"
    rows = []
    for g in range(k):
        tp = fp = pos = neg = None
        tpr = fpr = ppv = None
        if truth is not None:
            tp, fp = int(table[g, 1, 1]), int(table[g, 0, 1])
            pos, neg = int(table[g, 1].sum()), int(table[g, 0].sum())
            tpr = tp / pos if pos else (0.0 if zero else None)
            fpr = fp / neg if neg else (0.0 if zero else None)
            ppv = tp / (tp + fp) if tp + fp else None
        rows.append(
            GroupRates(
                group=uniques[g].item(),
                size=int(sizes[g]),
                n_selected=int(selected[g]),
                selection_rate=float(rates[g]),
                impact_ratio=float(rates[g]) / top if top > 0 else None,
                below_min_group_size=bool(sizes[g] < min_group_size),
                n_positive=pos,
                n_negative=neg,
                true_positives=tp,
                false_positives=fp,
                tpr=tpr,
                fpr=fpr,
                ppv=ppv,
            )
        )
    ratio = float(rates.min()) / top if top > 0 else None
    eod = eqodds = None
    if truth is not None:
        eod = _spread([r.tpr for r in rows])
        fpr_spread = _spread([r.fpr for r in rows])
        spreads = [s for s in (eod, fpr_spread) if s is not None]
        eqodds = max(spreads) if spreads else None
    return FairnessResult(
        demographic_parity_difference=float(rates.max() - rates.min()),
        demographic_parity_ratio=ratio,
        disparate_impact_ratio=ratio,
        equal_opportunity_difference=eod,
        equalized_odds_difference=eqodds,
        groups=tuple(rows),
        n=int(pred.shape[0]),
        min_group_size=min_group_size,
        undefined_rates=undefined_rates,
    )
