"""Policies decide; statistics measure. A pure package: plain data in, structured decisions out.

The monitoring policy turns a window's measured facts into findings (each with its observed value,
threshold and severity). Versioned, declarative governance policies extend this package.
"""

from driftguard.policy.monitoring import (
    DEFAULT_MONITORING_POLICY,
    Finding,
    MonitoringPolicy,
    MonitoringRule,
    evaluate_monitoring,
)

__all__ = [
    "DEFAULT_MONITORING_POLICY",
    "Finding",
    "MonitoringPolicy",
    "MonitoringRule",
    "evaluate_monitoring",
]
