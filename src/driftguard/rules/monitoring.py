"""Monitoring thresholds: a window's measured facts turned into alert findings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from driftguard.rules.decision import COMPARE
from driftguard.rules.document import Operator, PolicyDocument
from driftguard.rules.facts import Facts

Severity = Literal["warning", "critical"]


@dataclass(frozen=True, slots=True)
class MonitoringRule:
    """Open an alert for every subject whose ``fact`` satisfies ``op threshold``."""

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


def monitoring_policy(document: PolicyDocument) -> MonitoringPolicy:
    """The monitoring thresholds of a governance policy document."""
    return MonitoringPolicy(
        rules=tuple(
            MonitoringRule(
                name=r.name,
                fact=r.fact,
                op=r.operator,
                threshold=float(r.threshold),
                severity=r.severity,
                message=r.message,
            )
            for r in document.monitoring.rules
        )
    )


def evaluate_monitoring(policy: MonitoringPolicy, facts: Facts) -> list[Finding]:
    """Findings for every measured subject of every rule's fact that crosses its threshold.

    A ``None`` value (not measured) never fires.

    >>> rule = MonitoringRule("psi", "drift.psi", ">=", 0.25, "warning", "major shift")
    >>> facts = Facts({"drift.psi": {"income": 0.4, "region": 0.02}})
    >>> found = evaluate_monitoring(MonitoringPolicy((rule,)), facts)
    >>> [(f.rule, f.subject, f.observed) for f in found]
    [('psi', 'income', 0.4)]
    """
    findings = []
    for rule in policy.rules:
        compare = COMPARE[rule.op]
        for subject, value in sorted(facts.subjects(rule.fact).items()):
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
