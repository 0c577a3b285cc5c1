"""The pure rules engine: policy documents parsed and judged. Policies decide; statistics measure.
Plain data in, structured decisions out; no storage, no web framework (stored policy versions
live in ``driftguard.governance.policies``).

- ``document``: the governance policy document (schema, parsing with paths, content hash);
- ``facts``: the catalogue of facts a policy may judge;
- ``decision``: deployment rules judged against a version's facts, with every reason;
- ``risk``: the Model Risk Index and its breakdown;
- ``monitoring``: monitoring thresholds turning a window's facts into alert findings.
"""

from driftguard.rules.decision import Decision, RuleResult, evaluate_deployment, judge_rule
from driftguard.rules.default import (
    DEFAULT_MONITORING_POLICY,
    DEFAULT_POLICY,
    DEFAULT_POLICY_NAME,
    DEFAULT_POLICY_YAML,
)
from driftguard.rules.document import (
    PolicyDocument,
    PolicyError,
    content_hash,
    parse_policy,
    policy_json_schema,
)
from driftguard.rules.facts import FACTS, MONITORING_FACTS, WHOLE, Facts
from driftguard.rules.monitoring import (
    Finding,
    MonitoringPolicy,
    MonitoringRule,
    evaluate_monitoring,
    monitoring_policy,
)
from driftguard.rules.risk import Component, RiskScore, band_of, compute_mri, tier_of

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
