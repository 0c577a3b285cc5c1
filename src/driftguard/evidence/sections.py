"""The sections of an evidence pack: a registry, one builder function per section.

A builder takes the :class:`Scope` of the export and returns a pydantic model; the pack keeps its
JSON (``model_dump(mode="json")``), which is what the manifest hashes and what the HTML draws, so
the page shows exactly the hashed data. To add a section (the lifecycle's cards, validations and
findings, reviews, suspensions, overrides, incidents): write its builder and its template
``templates/sections/<name>.html``, and append a :class:`SectionSpec` to :data:`SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from driftguard.audit.schemas import AuditRecordRead
from driftguard.evidence import repository
from driftguard.governance import deployments, policies, risk
from driftguard.governance.schemas import (
    AppliedPolicy,
    DeploymentEventRead,
    DeploymentRead,
    RiskScoreRead,
)
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.monitoring import repository as monitoring_repository
from driftguard.monitoring.report_models import (
    AttributeFairness,
    DriftReport,
    FairnessReport,
    PerformanceReport,
    Source,
)
from driftguard.registry import repository as registry_repository
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.registry.schemas import ModelVersionRead, RegisteredModelRead
from driftguard.rules import tier_of
from driftguard.rules.document import hashed_form

PERFORMANCE_METRICS = ("accuracy", "roc_auc", "precision", "recall", "f1", "rmse", "mae", "r2")


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of each long history a pack holds (the newest; each section states its total)."""

    audit_records: int = 500
    reports_per_kind: int = 1000
    risk_scores: int = 1000
    deployments: int = 200


@dataclass(frozen=True, slots=True)
class Scope:
    """What every builder may read: the version (already authorised), who exports, and when."""

    session: Session
    principal: Principal
    model: RegisteredModel
    version: ModelVersion
    now: datetime
    limits: Limits
    environments: tuple[str, ...]
    chain_head_seq: int | None


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- model and version (registry) -------------------------------------------------------------


class ModelSection(_Section):
    model: RegisteredModelRead
    version: ModelVersionRead
    tier: int


def model_section(scope: Scope) -> ModelSection:
    tags = registry_repository.tags_by_model(scope.session, [scope.model.id])[scope.model.id]
    return ModelSection(
        model=registry_service.to_read(scope.model, tags),
        version=ModelVersionRead.model_validate(scope.version),
        tier=tier_of(scope.model.materiality.value, scope.model.criticality.value),
    )


# --- the policy in force (governance/policies) ------------------------------------------------


class PolicyInForce(_Section):
    environment: str | None  # None: the policy for monitoring and the MRI, whatever the env
    policy: AppliedPolicy
    # Its SHA-256 is ``policy.content_hash`` (the same canonical JSON as the manifest's).
    document: dict[str, Any]


class PolicySection(_Section):
    in_force: list[PolicyInForce]


def policy_section(scope: Scope) -> PolicySection:
    candidates = policies.active_policies(scope.session)
    tier = tier_of(scope.model.materiality.value, scope.model.criticality.value)
    found = []
    for environment in (None, *scope.environments):
        chosen = policies.select_policy(
            candidates, team_id=scope.model.team_id, tier=tier, environment=environment
        )
        found.append(
            PolicyInForce(
                environment=environment,
                policy=chosen.applied,
                document=hashed_form(chosen.document),
            )
        )
    return PolicySection(in_force=found)


# --- the MRI (governance/risk) ----------------------------------------------------------------


class RiskSection(_Section):
    current: RiskScoreRead
    history: list[RiskScoreRead]  # oldest first: the newest ``history_limit`` scores
    history_total: int
    history_limit: int


def risk_section(scope: Scope) -> RiskSection:
    principal, model_id, number = scope.principal, scope.model.id, scope.version.number
    current = risk.current(scope.session, principal=principal, model_id=model_id, number=number)
    page = risk.history(
        scope.session,
        principal=principal,
        model_id=model_id,
        number=number,
        start=None,
        end=None,
        limit=scope.limits.risk_scores,
        offset=0,
        newest_first=True,
    )
    return RiskSection(
        current=current,
        history=page.items[::-1],
        history_total=page.total,
        history_limit=scope.limits.risk_scores,
    )


# --- monitoring over time (monitoring reports, through the typed report models) ---------------


class Window(_Section):
    report_id: int
    run_id: int
    window_start: datetime
    window_end: datetime
    source: Source | None


class DriftPoint(Window):
    psi: dict[str, float | None]  # per feature
    p_value_adjusted: dict[str, float | None]


class FairnessSummary(_Section):
    n: int
    disparate_impact_ratio: float | None
    demographic_parity_difference: float | None
    equal_opportunity_difference: float | None
    equalized_odds_difference: float | None


class FairnessPoint(Window):
    attributes: dict[str, FairnessSummary]
    skipped: str | None
    unavailable: str | None


class PerformancePoint(Window):
    n_labelled: int | None
    metrics: dict[str, float]
    skipped: str | None
    unavailable: str | None


class Series(_Section):
    total: int  # reports of this kind stored for the version
    limit: int  # the newest this many are held


class MonitoringSection(_Section):
    drift: list[DriftPoint]
    drift_series: Series
    fairness: list[FairnessPoint]
    fairness_series: Series
    performance: list[PerformancePoint]
    performance_series: Series


def _window(report: Any) -> dict[str, Any]:
    return {
        "report_id": report.id,
        "run_id": report.run_id,
        "window_start": report.window_start,
        "window_end": report.window_end,
        "source": report.payload.get("source"),
    }


def monitoring_section(scope: Scope) -> MonitoringSection:
    limit = scope.limits.reports_per_kind

    def newest(kind: str) -> tuple[list[Any], Series]:
        rows = monitoring_repository.latest_reports(
            scope.session, version_id=scope.version.id, kind=kind, limit=limit
        )
        total = repository.report_count(scope.session, version_id=scope.version.id, kind=kind)
        return list(reversed(rows)), Series(total=total, limit=limit)

    drift_rows, drift_series = newest("drift")
    drift = []
    for row in drift_rows:
        report = DriftReport.model_validate(row.payload)
        drift.append(
            DriftPoint(
                **_window(row),
                psi={f.feature: f.psi for f in report.features},
                p_value_adjusted={f.feature: f.p_value_adjusted for f in report.features},
            )
        )
    fairness_rows, fairness_series = newest("fairness")
    fairness = []
    for row in fairness_rows:
        measured = FairnessReport.model_validate(row.payload)
        attributes = {
            name: FairnessSummary(
                n=result.n,
                disparate_impact_ratio=result.disparate_impact_ratio,
                demographic_parity_difference=result.demographic_parity_difference,
                equal_opportunity_difference=result.equal_opportunity_difference,
                equalized_odds_difference=result.equalized_odds_difference,
            )
            for name, result in sorted((measured.attributes or {}).items())
            if isinstance(result, AttributeFairness)
        }
        fairness.append(
            FairnessPoint(
                **_window(row),
                attributes=attributes,
                skipped=measured.skipped,
                unavailable=measured.unavailable,
            )
        )
    performance_rows, performance_series = newest("performance")
    performance = []
    for row in performance_rows:
        measured_performance = PerformanceReport.model_validate(row.payload)
        metrics = {
            name: float(value)
            for name in PERFORMANCE_METRICS
            if (value := getattr(measured_performance, name)) is not None
        }
        performance.append(
            PerformancePoint(
                **_window(row),
                n_labelled=measured_performance.n_labelled,
                metrics=metrics,
                skipped=measured_performance.skipped,
                unavailable=measured_performance.unavailable,
            )
        )
    return MonitoringSection(
        drift=drift,
        drift_series=drift_series,
        fairness=fairness,
        fairness_series=fairness_series,
        performance=performance,
        performance_series=performance_series,
    )


# --- deployments, decisions, approvals and history (governance/deployments) -------------------


class DeploymentEvidence(_Section):
    deployment: DeploymentRead  # with its decision (rule by rule) and approvals
    history: list[DeploymentEventRead]


class DeploymentsSection(_Section):
    deployments: list[DeploymentEvidence]  # oldest first: the newest ``limit``
    total: int
    limit: int


def deployments_section(scope: Scope) -> DeploymentsSection:
    rows, total = repository.version_deployments(
        scope.session, version_id=scope.version.id, limit=scope.limits.deployments
    )
    events: dict[int, list[DeploymentEventRead]] = {}
    for event in repository.deployment_events(scope.session, [d.id for d in rows]):
        events.setdefault(event.deployment_id, []).append(DeploymentEventRead.model_validate(event))
    return DeploymentsSection(
        deployments=[
            DeploymentEvidence(
                deployment=deployments.to_read(scope.session, row), history=events.get(row.id, [])
            )
            for row in rows
        ],
        total=total,
        limit=scope.limits.deployments,
    )


# --- the audit records of the version (audit/) ------------------------------------------------


class AuditSection(_Section):
    # What the records name: the version, its model, deployments, runs, references, alerts.
    scope: list[str]
    records: list[AuditRecordRead]  # newest first: the newest ``limit`` of ``total``
    total: int
    limit: int
    through_seq: int | None  # the chain head at export: no record after it is included


AUDIT_SCOPE = [
    "model_version",
    "model",
    "deployment",
    "monitoring_run",
    "reference_dataset",
    "alert",
]


def audit_section(scope: Scope) -> AuditSection:
    rows, total = repository.audit_records(
        scope.session,
        targets=repository.version_targets(scope.model.id, scope.version.id),
        through_seq=scope.chain_head_seq,
        limit=scope.limits.audit_records,
    )
    return AuditSection(
        scope=AUDIT_SCOPE,
        records=[AuditRecordRead.model_validate(r) for r in rows],
        total=total,
        limit=scope.limits.audit_records,
        through_seq=scope.chain_head_seq,
    )


# --- the registry -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """One section: its name (the JSON key, and ``templates/sections/<name>.html``), title,
    builder, and the permission (in the version's team) without which it is withheld."""

    name: str
    title: str
    build: Callable[[Scope], BaseModel]
    requires: Permission | None = None


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("model", "Model and version", model_section),
    SectionSpec("policy", "Policy in force", policy_section),
    SectionSpec("risk", "Model Risk Index", risk_section),
    SectionSpec("monitoring", "Drift, fairness and performance over time", monitoring_section),
    SectionSpec("deployments", "Deployments, decisions and approvals", deployments_section),
    SectionSpec("audit", "Audit records", audit_section, requires=Permission.AUDIT_READ),
    # The model-risk lifecycle's sections follow here as they land: "card", "validations"
    # (with findings), "reviews", "suspensions", "overrides", "incidents".
)


def section_names(specs: Sequence[SectionSpec] = SECTIONS) -> list[str]:
    return [s.name for s in specs]


def as_json(section: BaseModel) -> Mapping[str, Any]:
    data: dict[str, Any] = section.model_dump(mode="json")
    return data
