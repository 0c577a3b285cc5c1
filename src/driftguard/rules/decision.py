"""Deployment decisions: a policy's rules judged against a version's facts, with every reason."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from driftguard.rules.document import Operator, PolicyDocument, Rule
from driftguard.rules.facts import FACTS, WHOLE, Facts

Outcome = Literal["blocked", "pending_approval", "approved"]
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's verdict: the observed value (the worst subject's), the threshold, the outcome.

    ``missing`` is true when the fact was never measured; ``passed`` then follows the rule's
    ``when_missing``. ``applicable`` is false when none of the rule's ``applies_if`` conditions
    holds: the rule then passes without being judged (nothing observed).
    """

    rule: str
    fact: str
    subject: str
    observed: float | None
    operator: Operator
    threshold: float
    severity: Literal["block", "warn"]
    passed: bool
    missing: bool
    message: str
    applicable: bool = True


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    results: tuple[RuleResult, ...]
    required_approvals: int
    approver_roles: tuple[str, ...]
    separation_of_duties: bool

    @property
    def blocking(self) -> tuple[RuleResult, ...]:
        """The failed rules of severity ``block``: any one of them blocks the deployment."""
        return tuple(r for r in self.results if not r.passed and r.severity == "block")

    @property
    def warnings(self) -> tuple[RuleResult, ...]:
        """The failed rules of severity ``warn``: reported, never blocking."""
        return tuple(r for r in self.results if not r.passed and r.severity == "warn")


def judge_rule(rule: Rule, facts: Facts) -> RuleResult:
    """Judge one rule; a per-subject fact passes only if every measured subject passes.

    The reported subject is the worst one: the first to fail, or the closest to failing.

    >>> from driftguard.rules.document import Rule
    >>> rule = Rule(name="psi", fact="drift.psi", operator="<", threshold=0.25, severity="block")
    >>> r = judge_rule(rule, Facts({"drift.psi": {"age": 0.1, "income": 0.4}}))
    >>> r.passed, r.subject, r.observed
    (False, 'income', 0.4)
    """
    compare = COMPARE[rule.operator]
    threshold = float(rule.threshold)
    measured = {s: v for s, v in _subjects(rule.fact, facts).items() if v is not None}
    if not measured:
        return _result(rule, WHOLE, None, passed=rule.when_missing == "pass", missing=True)
    # For "<" the largest value is the worst; for ">" the smallest; for "==" / "!=" any failure.
    # Ties go to the first subject in name order, so the verdict never depends on dict order.
    sign = -1.0 if rule.operator in ("<", "<=", "==", "!=") else 1.0
    failing = [(s, v) for s, v in measured.items() if not compare(v, threshold)]
    pool = failing or list(measured.items())
    subject, value = min(pool, key=lambda sv: (sign * sv[1], sv[0]))
    return _result(rule, subject, value, passed=not failing, missing=False)


def applies(rule: Rule, facts: Facts) -> bool:
    """Whether ``rule`` applies to a version with ``facts``: it has no ``applies_if``, or one
    of its conditions holds (a fact never measured holds none).

    >>> rule = Rule(name="v", fact="validation.status", operator=">=", threshold=1,
    ...             severity="block", applies_if=[{"fact": "model.tier", "operator": "==",
    ...                                            "threshold": 1}])
    >>> applies(rule, Facts({"model.tier": {"": 1.0}})), applies(rule, Facts())
    (True, False)
    """
    if rule.applies_if is None:
        return True
    for condition in rule.applies_if:
        value = facts.value(condition.fact)
        if value is not None and COMPARE[condition.operator](value, float(condition.threshold)):
            return True
    return False


def _subjects(fact: str, facts: Facts) -> Mapping[str, float | None]:
    if FACTS[fact].per_subject:
        return facts.subjects(fact)
    return {WHOLE: facts.value(fact)}


def _result(
    rule: Rule,
    subject: str,
    observed: float | None,
    *,
    passed: bool,
    missing: bool,
    applicable: bool = True,
) -> RuleResult:
    return RuleResult(
        rule=rule.name,
        fact=rule.fact,
        subject=subject,
        observed=observed,
        operator=rule.operator,
        threshold=float(rule.threshold),
        severity=rule.severity,
        passed=passed,
        missing=missing,
        message=rule.message,
        applicable=applicable,
    )


def evaluate_deployment(document: PolicyDocument, facts: Facts, *, environment: str) -> Decision:
    """The policy's decision for deploying a version with ``facts`` to ``environment``.

    Any failing ``block`` rule blocks; otherwise the request waits for the approvals the policy
    requires in that environment, or is approved at once when it requires none.

    >>> from driftguard.rules.document import parse_policy
    >>> policy = parse_policy({"rules": [{"name": "psi", "fact": "drift.psi", "operator": "<",
    ...     "threshold": 0.25, "severity": "block"}]})
    >>> evaluate_deployment(policy, Facts({"drift.psi": {"age": 0.1}}), environment="prod").outcome
    'pending_approval'
    >>> evaluate_deployment(policy, Facts(), environment="prod").outcome
    'blocked'
    """
    results = tuple(
        judge_rule(rule, facts)
        if applies(rule, facts)
        else _result(rule, WHOLE, None, passed=True, missing=False, applicable=False)
        for rule in document.rules
        if rule.environments is None or environment in rule.environments
    )
    approvals = document.approvals_for(environment)
    required = approvals.required if approvals is not None else 0
    outcome: Outcome
    if any(not r.passed and r.severity == "block" for r in results):
        outcome = "blocked"
    else:
        outcome = "pending_approval" if required else "approved"
    return Decision(
        outcome=outcome,
        results=results,
        required_approvals=required,
        approver_roles=tuple(approvals.roles) if approvals is not None else (),
        separation_of_duties=approvals.separation_of_duties if approvals is not None else True,
    )
