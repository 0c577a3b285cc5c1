"""Policies decide; statistics measure. A pure package: plain data in, structured decisions out.

- ``document``: the governance policy document (schema, parsing with paths, content hash);
- ``facts``: the catalogue of facts a policy may judge;
- ``decision``: deployment rules judged against a version's facts, with every reason;
- ``risk``: the Model Risk Index and its breakdown;
- ``monitoring``: monitoring thresholds turning a window's facts into alert findings.
"""

from driftguard.policy.decision import Decision, RuleResult, evaluate_deployment, judge_rule
from driftguard.policy.default import (
    DEFAULT_MONITORING_POLICY,
    DEFAULT_POLICY,
    DEFAULT_POLICY_NAME,
    DEFAULT_POLICY_YAML,
)
from driftguard.policy.document import (
    PolicyDocument,
    PolicyError,
    content_hash,
    parse_policy,
    policy_json_schema,
)
from driftguard.policy.facts import FACTS, MONITORING_FACTS, WHOLE, Facts
from driftguard.policy.monitoring import (
    Finding,
    MonitoringPolicy,
    MonitoringRule,
    evaluate_monitoring,
    monitoring_policy,
)
from driftguard.policy.risk import Component, RiskScore, band_of, compute_mri, tier_of

__all__ = [
    "DEFAULT_MONITORING_POLICY",
    "DEFAULT_POLICY",
    "DEFAULT_POLICY_NAME",
    "DEFAULT_POLICY_YAML",
    "FACTS",
    "MONITORING_FACTS",
    "WHOLE",
    "Component",
    "Decision",
    "Facts",
    "Finding",
    "MonitoringPolicy",
    "MonitoringRule",
    "PolicyDocument",
    "PolicyError",
    "RiskScore",
    "RuleResult",
    "band_of",
    "compute_mri",
    "content_hash",
    "evaluate_deployment",
    "evaluate_monitoring",
    "judge_rule",
    "monitoring_policy",
    "parse_policy",
    "policy_json_schema",
    "tier_of",
]
