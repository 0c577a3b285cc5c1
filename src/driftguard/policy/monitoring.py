from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Operator = Literal[">=", ">", "<=", "<"]
Severity = Literal["warning", "critical"]
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass(frozen=True, slots=True)
class MonitoringRule:
    """Open an alert for every subject whose ``fact`` satisfies ``op threshold``.

    Facts are named ``drift.psi``, ``drift.p_value_adjusted`` (per feature) and
    ``fairness.disparate_impact_ratio`` (per sensitive attribute).
    """

    name: str
    fact: str
    op: Operator
    threshold: float
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class MonitoringPolicy:
    rules: tuple[MonitoringRule, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that fired for one subject, with the evidence."""

    rule: str
    subject: str
    fact: str
    observed: float
    op: Operator
    threshold: float
    severity: Severity
    message: str


DEFAULT_MONITORING_POLICY = MonitoringPolicy(
    rules=(
        MonitoringRule(
            "psi", "drift.psi", ">=", 0.25, "warning",
            "population stability index shows a major shift",
        ),
        MonitoringRule(
            "distribution_test", "drift.p_value_adjusted", "<", 0.01, "warning",
            "distribution differs from the reference (KS or chi-square, corrected across "
            "features)",
        ),
        MonitoringRule(
            "disparate_impact", "fairness.disparate_impact_ratio", "<", 0.8, "critical",
            "selection rate of a group is below four fifths of the most favoured group's",
        ),
    )
)  # fmt: skip


def evaluate_monitoring(
    policy: MonitoringPolicy, facts: Mapping[str, Iterable[tuple[str, float | None]]]
) -> list[Finding]:
    """Findings for every (subject, value) of every rule's fact that crosses its threshold.

    ``facts`` maps a fact name to ``(subject, value)`` pairs; a ``None`` value (not measured)
    never fires.

    >>> facts = {"drift.psi": [("income", 0.4), ("region", 0.02)]}
    >>> found = evaluate_monitoring(DEFAULT_MONITORING_POLICY, facts)
    >>> [(f.rule, f.subject, f.observed) for f in found]
    [('psi', 'income', 0.4)]
    """
    findings = []
    for rule in policy.rules:
        compare = _OPERATORS[rule.op]
        for subject, value in facts.get(rule.fact, ()):
            if value is not None and compare(value, rule.threshold):
                findings.append(
                    Finding(
                        rule=rule.name,
                        subject=subject,
                        fact=rule.fact,
                        observed=value,
                        op=rule.op,
                        threshold=rule.threshold,
                        severity=rule.severity,
                        message=rule.message,
                    )
                )
    return findings
