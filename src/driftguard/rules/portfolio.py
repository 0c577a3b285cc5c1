"""Deployment decisions and MRIs of a whole portfolio at once, as arrays.

A rule over a per-subject fact with an ordered operator (``<``, ``<=``, ``>``, ``>=``) is decided
by one subject: the highest value for ``<`` and ``<=``, the lowest for ``>`` and ``>=`` (ties to
the first name), and the MRI reads only those extremes too. So a version's facts shrink to a
*summary* — per fact its highest and lowest measured value and their subjects — and ten thousand
summaries stack into columns a policy is judged over in a few array operations.

This module gives the same answers as :func:`~driftguard.rules.decision.evaluate_deployment`
and :func:`~driftguard.rules.risk.compute_mri` applied version by version, to the last bit (a
property test holds the two to it). What it cannot decide from extremes — an ``==`` or ``!=``
rule over a per-subject fact, or a value that is not a number — it declines
(:func:`supports`, :func:`summarise` returning ``None``), and the caller judges those versions
one by one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from driftguard.rules.decision import Decision, Outcome
from driftguard.rules.document import Condition, Mri, PolicyDocument
from driftguard.rules.facts import FACTS, WHOLE
from driftguard.rules.risk import RiskScore

# fact -> [highest value, its subject, lowest value, its subject]; unmeasured facts are absent.
Summary = dict[str, list[Any]]
# A column of a fact table: (fact, True) its highest value per version, (fact, False) its lowest.
Key = tuple[str, bool]
Floats = npt.NDArray[np.float64]
Rows = npt.NDArray[np.intp]
_NAN = math.nan
_ORDERED = frozenset({"<", "<=", ">", ">="})
_HIGHEST_DECIDES = frozenset({"<", "<=", "==", "!="})
# decision.COMPARE's operators, element-wise.
_COMPARE: dict[str, Callable[[Floats, float], npt.NDArray[np.bool_]]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def summarise(facts: Mapping[str, Mapping[str, float | None]]) -> Summary | None:
    """The extremes of each measured fact, or ``None`` when a value is not a finite number.

    >>> summarise({"drift.psi": {"income": 0.4, "age": 0.01, "zip": 0.4}, "alerts.open": {"": 2}})
    {'drift.psi': [0.4, 'income', 0.01, 'age'], 'alerts.open': [2.0, '', 2.0, '']}
    >>> summarise({"drift.psi": {"age": float("nan")}}) is None
    True
    """
    summary: Summary = {}
    for fact, by_subject in facts.items():
        high: tuple[float, str] | None = None
        low: tuple[float, str] | None = None
        for subject in sorted(by_subject):
            value = by_subject[subject]
            if value is None:
                continue
            if not isinstance(value, int | float) or not math.isfinite(value):
                return None
            number = float(value)
            if high is None or number > high[0]:
                high = (number, subject)
            if low is None or number < low[0]:
                low = (number, subject)
        if high is not None and low is not None:
            summary[fact] = [high[0], high[1], low[0], low[1]]
    return summary


def supports(document: PolicyDocument) -> bool:
    """Whether extremes decide every rule of ``document``."""
    return all(r.operator in _ORDERED or not FACTS[r.fact].per_subject for r in document.rules)


def key(fact: str, *, highest: bool) -> Key:
    """The column a rule or the MRI reads: a fact's highest or lowest value (a whole-version
    fact has one value, filed as its highest)."""
    return (fact, highest or not FACTS[fact].per_subject)


# The columns the MRI reads (see risk.component_measurements).
MRI_READS = frozenset(
    {
        key(fact, highest=True)
        for fact in (
            "drift.psi",
            "performance.degradation",
            "data_quality.missing_rate",
            "data_quality.out_of_range_rate",
            "data_quality.unseen_rate",
            "validation.days_since",
            "alerts.open",
            "alerts.open_critical",
            "model.tier",
            "model.sensitive_attributes",
        )
    }
    | {key("fairness.disparate_impact_ratio", highest=False)}
)


def reads(document: PolicyDocument) -> frozenset[Key]:
    """The columns judging under ``document`` reads (``mri.score`` is computed, not read)."""
    preconditions = {
        key(c.fact, highest=True)
        for r in document.rules
        for c in r.applies_if or ()
        if c.fact != "mri.score"
    }
    return (
        MRI_READS
        | preconditions
        | {
            key(r.fact, highest=r.operator in _HIGHEST_DECIDES)
            for r in document.rules
            if r.fact != "mri.score"
        }
    )


class FactTable:
    """Facts of many versions as columns: per :data:`Key`, one value per row (NaN where not
    measured) and, for per-subject facts, the subject it was measured on."""

    def __init__(
        self,
        size: int,
        values: Mapping[Key, Floats],
        subjects: Mapping[Key, Sequence[str | None]],
    ) -> None:
        self.size = size
        self._values = dict(values)
        self._subjects = subjects

    @classmethod
    def of(
        cls, summaries: Sequence[Summary], whole: Mapping[str, Floats], *, reads: Iterable[Key]
    ) -> FactTable:
        """The ``reads`` columns of ``summaries`` (row ``i`` is ``summaries[i]``), with the
        whole-version facts of ``whole`` taking precedence."""
        values, subjects = {}, {}
        for fact, highest in reads:
            if fact in whole:
                values[(fact, highest)] = whole[fact]
                continue
            at = 0 if highest else 2
            entries = [s.get(fact) for s in summaries]
            values[(fact, highest)] = np.array(
                [_NAN if e is None else e[at] for e in entries], dtype=np.float64
            )
            subjects[(fact, highest)] = [None if e is None else e[at + 1] for e in entries]
        return cls(len(summaries), values, subjects)

    def column(self, fact: str, *, highest: bool) -> Floats:
        """Per row, the highest (or lowest) measured value of ``fact``; NaN where unmeasured."""
        return self._values[key(fact, highest=highest)]

    def subject(self, fact: str, row: int, *, highest: bool) -> str:
        """The subject behind row ``row``'s highest (or lowest) value of ``fact``; the whole
        version for whole facts."""
        names = self._subjects.get(key(fact, highest=highest))
        return WHOLE if names is None else names[row] or WHOLE

    def replace(self, fact: str, rows: npt.NDArray[np.bool_], value: float | Floats) -> FactTable:
        """A table where the whole-version ``fact`` is ``value`` in ``rows`` (what-if overrides)."""
        if FACTS[fact].per_subject:
            raise ValueError(f"{fact} is measured per subject; only whole facts are replaced")
        column = key(fact, highest=True)
        base = self._values.get(column, np.full(self.size, _NAN))
        subjects = {k: v for k, v in self._subjects.items() if k != column}
        return FactTable(self.size, {**self._values, column: np.where(rows, value, base)}, subjects)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One version's outcome, MRI and the block rules it fails as ``(rule, fact, subject)``."""

    outcome: Outcome
    score: float
    band: str
    blocking: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, decision: Decision, risk: RiskScore) -> Verdict:
        """A decision and its risk score, reduced to what the portfolio simulation compares."""
        return cls(
            outcome=decision.outcome,
            score=risk.score,
            band=risk.band,
            blocking=tuple((r.rule, r.fact, r.subject) for r in decision.blocking),
        )


@dataclass(frozen=True, slots=True)
class _Failure:
    rule: str
    fact: str
    highest: bool
    failed: npt.NDArray[np.bool_]
    measured: npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Verdicts:
    """The verdicts of ``rows`` of a table under one policy."""

    rows: Rows
    outcome: npt.NDArray[np.str_]
    score: Floats
    band: npt.NDArray[np.str_]
    _table: FactTable
    _failures: tuple[_Failure, ...]

    def verdict(self, k: int) -> Verdict:
        """The verdict of the ``k``-th judged row (``self.rows[k]`` of the table)."""
        row = int(self.rows[k])
        blocking = tuple(
            (
                f.rule,
                f.fact,
                self._table.subject(f.fact, row, highest=f.highest) if f.measured[k] else WHOLE,
            )
            for f in self._failures
            if f.failed[k]
        )
        outcome: Outcome = self.outcome[k].item()
        return Verdict(outcome, float(self.score[k]), str(self.band[k]), blocking)


def judge_portfolio(
    document: PolicyDocument, table: FactTable, rows: Rows, *, environment: str
) -> Verdicts:
    """The MRI and deployment decision of each of ``rows`` under ``document`` (see the module
    docstring); ``document`` must be one :func:`supports`."""
    if not supports(document):
        raise ValueError("the policy has equality rules over per-subject facts")
    score = _mri(table, rows, document.mri)
    blocked = np.zeros(len(rows), dtype=bool)
    failures = []
    for rule in document.rules:
        if rule.environments is not None and environment not in rule.environments:
            continue
        highest = rule.operator in _HIGHEST_DECIDES
        if rule.fact == "mri.score":
            observed = score
        else:
            observed = table.column(rule.fact, highest=highest)[rows]
        measured = ~np.isnan(observed)
        with np.errstate(invalid="ignore"):
            passed = _COMPARE[rule.operator](observed, float(rule.threshold))
        failed = np.where(measured, ~passed, rule.when_missing == "fail")
        if rule.applies_if is not None:
            failed &= _applies(rule.applies_if, table, rows, score)
        if rule.severity == "block":
            blocked |= failed
            failures.append(_Failure(rule.name, rule.fact, highest, failed, measured))
    approvals = document.approvals_for(environment)
    waiting = "pending_approval" if approvals is not None and approvals.required else "approved"
    outcome = np.where(blocked, "blocked", waiting)
    return Verdicts(rows, outcome, score, _bands(score, document.mri), table, tuple(failures))


def _applies(
    conditions: Sequence[Condition], table: FactTable, rows: Rows, score: Floats
) -> npt.NDArray[np.bool_]:
    """Per row, whether one of ``conditions`` holds (see
    :func:`~driftguard.rules.decision.applies`): an unmeasured fact holds none, whatever the
    operator (NaN != x would otherwise hold)."""
    holds = np.zeros(len(rows), dtype=bool)
    for condition in conditions:
        if condition.fact == "mri.score":
            observed = score
        else:
            observed = table.column(condition.fact, highest=True)[rows]
        with np.errstate(invalid="ignore"):
            met = _COMPARE[condition.operator](observed, float(condition.threshold))
        holds |= met & ~np.isnan(observed)
    return holds


def _mri(table: FactTable, rows: Rows, mri: Mri) -> Floats:
    """:func:`~driftguard.rules.risk.compute_mri`'s score, row-wise, in the same operations."""

    def high(fact: str) -> Floats:
        return table.column(fact, highest=True)[rows]

    scales = mri.scales
    alerts = high("alerts.open") + np.nan_to_num(high("alerts.open_critical"), nan=0.0)
    quality = np.fmax(
        np.fmax(high("data_quality.missing_rate"), high("data_quality.out_of_range_rate")),
        high("data_quality.unseen_rate"),
    )
    fairness = table.column("fairness.disparate_impact_ratio", highest=False)[rows]
    # (measurement, its value before clipping), in risk.COMPONENTS order.
    measurements: dict[str, tuple[Floats, Floats]] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, measurement, scaled in (
            ("drift", psi := high("drift.psi"), psi / scales.psi),
            ("fairness", fairness, (1 - fairness) / (1 - scales.disparate_impact_floor)),
            ("performance", loss := high("performance.degradation"), loss / scales.degradation),
            ("data_quality", quality, quality / scales.missing_rate),
            ("staleness", days := high("validation.days_since"), days / scales.staleness_days),
            ("alerts", alerts, alerts / scales.open_alerts),
        ):
            measurements[name] = (measurement, scaled)
    applicable = np.nan_to_num(high("model.sensitive_attributes"), nan=0.0) > 0
    tier = np.nan_to_num(high("model.tier"), nan=1.0).astype(np.int64)
    tier = np.where(tier == 0, 1, tier)
    factors = mri.tier_factors
    factor = np.select(
        [tier == 1, tier == 2, tier == 3],
        [float(factors.tier_1), float(factors.tier_2), float(factors.tier_3)],
        default=_NAN,
    )
    weights = mri.weights.model_dump()
    score = np.zeros(len(rows), dtype=np.float64)
    for name, (measurement, scaled) in measurements.items():
        value = np.where(np.isnan(measurement), float(scales.missing_evidence), scaled.clip(0, 1))
        if name == "fairness":
            value = np.where(applicable, value, 0.0)
        score = score + 100 * factor * float(weights[name]) * value
    return score


def _bands(score: Floats, mri: Mri) -> npt.NDArray[np.str_]:
    bands = mri.bands
    return np.select(
        [score >= bands.critical, score >= bands.high, score >= bands.medium],
        ["critical", "high", "medium"],
        default="low",
    )
