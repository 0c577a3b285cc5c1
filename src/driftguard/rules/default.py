"""The policy DriftGuard ships: in force wherever no stored, active policy applies."""

from __future__ import annotations

from driftguard.rules.document import PolicyDocument, parse_policy
from driftguard.rules.monitoring import MonitoringPolicy, monitoring_policy

DEFAULT_POLICY_NAME = "driftguard-default"
DEFAULT_POLICY_YAML = """\
schema_version: 1
description: >-
  DriftGuard's default policy. Production needs evidence (a reference, monitored data without
  major drift or unfair outcomes, no open critical alert, an MRI below critical) and two
  approvers; a tier-1 or EU high-risk version also needs an approved validation, no open
  critical finding and a complete card. Staging needs a reference only.
priority: 0
rules:
  - name: reference_data
    fact: reference.rows
    operator: ">"
    threshold: 0
    severity: block
    message: upload the version's reference (training) data first
  - name: feature_drift
    fact: drift.psi
    operator: "<"
    threshold: 0.25
    severity: block
    environments: [production]
    message: every feature's population stability index must stay below 0.25
  - name: distribution_shift
    fact: drift.p_value_adjusted
    operator: ">="
    threshold: 0.01
    severity: warn
    environments: [production]
    message: a feature's distribution differs from the reference (corrected p < 0.01)
  - name: disparate_impact
    fact: fairness.disparate_impact_ratio
    operator: ">="
    threshold: 0.8
    severity: block
    environments: [production]
    when_missing: pass
    message: every group's selection rate must be at least four fifths of the most favoured group's
  - name: performance_degradation
    fact: performance.degradation
    operator: "<="
    threshold: 0.1
    severity: warn
    environments: [production]
    when_missing: pass
    message: the primary metric must stay within 10% of its training value
  - name: critical_alerts
    fact: alerts.open_critical
    operator: "=="
    threshold: 0
    severity: block
    environments: [production]
    message: resolve open critical alerts first
  - name: risk_index
    fact: mri.score
    operator: "<"
    threshold: 75
    severity: block
    environments: [production]
    message: the Model Risk Index must be below the critical band
  # Model risk lifecycle: tier-1 and EU AI Act high-risk versions (SR 11-7 effective challenge,
  # EU AI Act Art. 11 and Annex IV). validation.status: 2 approved, 1 approved with conditions,
  # 0 rejected, missing when never decided.
  - name: independent_validation
    fact: validation.status
    operator: ">="
    threshold: 1
    severity: block
    environments: [production]
    applies_if: &material
      - {fact: model.tier, operator: "==", threshold: 1}
      - {fact: model.eu_high_risk, operator: "==", threshold: 1}
    message: a tier-1 or EU high-risk version needs an approved independent validation
  - name: critical_findings
    fact: findings.open_critical
    operator: "=="
    threshold: 0
    severity: block
    environments: [production]
    applies_if: *material
    message: close the version's critical validation findings first
  - name: model_card
    fact: card.complete
    operator: "=="
    threshold: 1
    severity: block
    environments: [production]
    applies_if: *material
    message: complete the model's card and the version's card first
approvals:
  - environments: [production]
    required: 2
    roles: [approver]
    separation_of_duties: true
  - environments: [staging]
    required: 0
monitoring:
  rules:
    - name: psi
      fact: drift.psi
      operator: ">="
      threshold: 0.25
      severity: warning
      message: population stability index shows a major shift
    - name: distribution_test
      fact: drift.p_value_adjusted
      operator: "<"
      threshold: 0.01
      severity: warning
      message: distribution differs from the reference (KS or chi-square, corrected across features)
    - name: disparate_impact
      fact: fairness.disparate_impact_ratio
      operator: "<"
      threshold: 0.8
      severity: critical
      message: selection rate of a group is below four fifths of the most favoured group's
"""
DEFAULT_POLICY: PolicyDocument = parse_policy(DEFAULT_POLICY_YAML)
DEFAULT_MONITORING_POLICY: MonitoringPolicy = monitoring_policy(DEFAULT_POLICY)
