"""The simulation sandbox: what would a draft policy, or hypothetical facts, change?

For every model in scope the *baseline* is the policy in force judging the actual facts; the
*scenario* is the same judgement with the draft policy activated (as if it were, with its scope
and priority) and the overrides applied. Replay re-judges stored history (deployment decisions
and monitoring runs of the last N days) under the scenario's policies.

Nothing is written: the service only reads, and the API runs it in a transaction the database
itself holds read-only (see ``api/deps.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from driftguard.errors import ErrorDetail, InvalidError
from driftguard.governance.evaluation import Evaluation, judge, require_environment
from driftguard.governance.facts import Subject, gather
from driftguard.governance.orm import Deployment
from driftguard.governance.schemas import (
    ModelOutcome,
    Override,
    ReplayDecisions,
    ReplayMonitoring,
    ReplayResult,
    Simulation,
    SimulationRequest,
    SimulationSummary,
)
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.monitoring.facts import report_facts
from driftguard.monitoring.orm import MonitoringReport, MonitoringRun
from driftguard.policies import service as policies
from driftguard.policies.schemas import AppliedPolicy
from driftguard.policies.service import InForce
from driftguard.policy import (
    FACTS,
    WHOLE,
    Facts,
    content_hash,
    evaluate_monitoring,
    monitoring_policy,
    tier_of,
)
from driftguard.registry.orm import ModelVersion, RegisteredModel, Stage

DRAFT = "draft"
LEVEL_FACTS = ("model.materiality", "model.criticality")
MAX_LISTED = 1000
MAX_REPLAY_RUNS = 5000


@dataclass(frozen=True, slots=True)
class Judged:
    subject: Subject
    before: Evaluation
    after: Evaluation

    @property
    def changed(self) -> bool:
        return (
            self.before.decision.outcome != self.after.decision.outcome
            or self.before.risk.band != self.after.risk.band
        )


@dataclass(frozen=True, slots=True)
class Candidates:
    baseline: list[InForce]
    scenario: list[InForce]
    draft: AppliedPolicy | None


def simulate(
    session: Session,
    *,
    principal: Principal,
    data: SimulationRequest,
    environments: Sequence[str],
) -> Simulation:
    require_environment(data.environment, environments)
    candidates = _candidates(session, data, environments)
    subjects = _subjects(session, principal, data)
    _check_overrides(data.overrides, subjects)
    now = datetime.now(UTC)
    facts = gather(session, subjects, now=now)
    judged = []
    same_mri: dict[tuple[int, int], bool] = {}
    for subject in subjects:
        actual = facts[subject.version_id]
        before = _judge(actual, candidates.baseline, subject, subject.tier, data.environment)
        changed_facts, changed_tier = _apply(actual, data.overrides, subject)
        policy = policies.select_policy(
            candidates.scenario, team_id=subject.team_id, tier=changed_tier,
            environment=data.environment,
        )  # fmt: skip
        # Unchanged facts under the same MRI settings score the same: reuse the baseline's.
        key = (id(before.policy.document.mri), id(policy.document.mri))
        if key not in same_mri:
            same_mri[key] = before.policy.document.mri == policy.document.mri
        reuse = changed_facts is actual and same_mri[key]
        after = judge(changed_facts, policy, environment=data.environment,
                      risk=before.risk if reuse else None)  # fmt: skip
        judged.append(Judged(subject, before, after))
    listed = [j for j in judged if data.include_unchanged or j.changed]
    return Simulation(
        environment=data.environment,
        draft_policy=candidates.draft,
        evaluated_at=now,
        summary=_summary(judged),
        models=[_outcome(j) for j in listed[:MAX_LISTED]],
        models_truncated=len(listed) > MAX_LISTED,
        replay=_replay(session, principal, data, candidates, subjects, now)
        if data.replay_days
        else None,
    )


def _candidates(
    session: Session, data: SimulationRequest, environments: Sequence[str]
) -> Candidates:
    active = policies.active_policies(session)
    if data.policy is None:
        return Candidates(active, active, None)
    document = policies.parse(data.policy, environments=environments, field="policy")
    applied = AppliedPolicy(
        name=DRAFT, version=None, version_id=None, content_hash=content_hash(document)
    )
    draft = InForce(document, applied, activated_at_key=float("inf"))
    # The draft replaces the active version of the policy it revises, if it names one.
    revised = (
        None
        if data.policy_id is None
        else policies.read_policy(session, policy_id=data.policy_id).name
    )
    kept = [p for p in active if p.applied.name != revised]
    scenario = sorted(
        [*kept, draft], key=lambda p: (p.document.priority, p.activated_at_key), reverse=True
    )
    return Candidates(active, scenario, applied)


def _subjects(session: Session, principal: Principal, data: SimulationRequest) -> list[Subject]:
    """Per model in scope: the version live in the environment, else its newest live version.

    Read as plain columns in three queries, whatever the number of models."""
    models = select(
        RegisteredModel.id, RegisteredModel.name, RegisteredModel.team_id,
        RegisteredModel.materiality, RegisteredModel.criticality,
    ).where(RegisteredModel.archived_at.is_(None))  # fmt: skip
    teams = principal.teams_with(Permission.MODELS_READ)
    if teams is not None:
        models = models.where(RegisteredModel.team_id.in_(teams))
    if data.scope.model_id is not None:
        models = models.where(RegisteredModel.id == data.scope.model_id)
    if data.scope.team_id is not None:
        models = models.where(RegisteredModel.team_id == data.scope.team_id)
    by_id = {row[0]: row for row in session.execute(models)}
    if data.scope.model_id is not None and not by_id:
        raise InvalidError(
            f"scope.model_id: model {data.scope.model_id} not found",
            details=[ErrorDetail("scope.model_id", "no such model among those you may see")],
        )
    live = {  # noqa: C416 (dict(rows) does not type-check)
        model_id: version_id
        for model_id, version_id in session.execute(
            select(Deployment.model_id, Deployment.version_id).where(
                Deployment.status == "deployed", Deployment.environment == data.environment
            )
        )
    }
    newest = (
        select(ModelVersion.model_id, func.max(ModelVersion.number).label("number"))
        .where(ModelVersion.stage != Stage.ARCHIVED)
        .group_by(ModelVersion.model_id)
        .subquery()
    )
    versions = {}
    for model_id, version_id, number, created_at, features in session.execute(
        select(
            ModelVersion.model_id, ModelVersion.id, ModelVersion.number,
            ModelVersion.created_at, ModelVersion.features,
        ).join(
            newest,
            (newest.c.model_id == ModelVersion.model_id) & (newest.c.number == ModelVersion.number),
        )
    ):  # fmt: skip
        versions[version_id] = (model_id, number, created_at, features)
    wanted_live = {v for m, v in live.items() if m in by_id and v not in versions}
    if wanted_live:
        for version_id, model_id, number, created_at, features in session.execute(
            select(
                ModelVersion.id, ModelVersion.model_id, ModelVersion.number,
                ModelVersion.created_at, ModelVersion.features,
            ).where(ModelVersion.id.in_(wanted_live))
        ):  # fmt: skip
            versions[version_id] = (model_id, number, created_at, features)
    latest = {model_id: version_id for version_id, (model_id, *_) in versions.items()
              if version_id not in wanted_live}  # fmt: skip
    subjects = []
    for model_id in sorted(by_id):
        version_id = live.get(model_id) or latest.get(model_id)
        if version_id is None or version_id not in versions:
            continue
        _, name, team_id, materiality, criticality = by_id[model_id]
        _, number, created_at, features = versions[version_id]
        subjects.append(
            Subject(
                model_id=model_id, model_name=name, team_id=team_id,
                materiality=materiality.value, criticality=criticality.value,
                version_id=version_id, version_number=number, registered_at=created_at,
                features=frozenset(str(f.get("name")) for f in features),
                sensitive=sum(1 for f in features if f.get("sensitive")),
            )
        )  # fmt: skip
    return subjects


def _check_overrides(overrides: Sequence[Override], subjects: Sequence[Subject]) -> None:
    problems = []
    for i, override in enumerate(overrides):
        where = f"overrides.{i}"
        targets = [
            s for s in subjects if override.model_id is None or s.model_id == override.model_id
        ]
        if override.model_id is not None and not targets:
            problems.append(ErrorDetail(f"{where}.model_id", "not a model in the scope"))
            continue
        if override.fact in LEVEL_FACTS:
            if override.value not in ("low", "medium", "high"):
                problems.append(ErrorDetail(f"{where}.value", "must be low, medium or high"))
            continue
        if override.fact not in FACTS:
            problems.append(ErrorDetail(f"{where}.fact", f"unknown fact {override.fact!r}"))
            continue
        if isinstance(override.value, str):
            problems.append(ErrorDetail(f"{where}.value", "must be a number"))
        if FACTS[override.fact].per_subject:
            if not override.subject:
                problems.append(ErrorDetail(f"{where}.subject", "this fact needs a feature"))
            elif not any(override.subject in s.features for s in targets):
                problems.append(
                    ErrorDetail(
                        f"{where}.subject",
                        f"no model in scope has a feature named {override.subject!r}",
                    )
                )
        elif override.subject:
            problems.append(ErrorDetail(f"{where}.subject", "this fact has no subject"))
    if problems:
        raise InvalidError(
            "overrides: " + "; ".join(f"{p.loc}: {p.msg}" for p in problems), details=problems
        )


def _apply(facts: Facts, overrides: Sequence[Override], subject: Subject) -> tuple[Facts, int]:
    """The facts and tier with the overrides that concern this model applied (the same
    ``facts`` object when none does)."""
    materiality, criticality = subject.materiality, subject.criticality
    for override in overrides:
        if override.model_id is not None and override.model_id != subject.model_id:
            continue
        if override.fact == "model.materiality":
            materiality = str(override.value)
        elif override.fact == "model.criticality":
            criticality = str(override.value)
        elif not FACTS[override.fact].per_subject:
            facts = facts.with_value(override.fact, float(override.value), WHOLE)
        elif override.subject in subject.features:
            facts = facts.with_value(override.fact, float(override.value), override.subject)
    tier = tier_of(materiality, criticality)
    if tier != subject.tier:
        facts = facts.with_value("model.tier", float(tier))
    return facts, tier


def _judge(
    facts: Facts, candidates: list[InForce], subject: Subject, tier: int, environment: str
) -> Evaluation:
    policy = policies.select_policy(
        candidates, team_id=subject.team_id, tier=tier, environment=environment
    )
    return judge(facts, policy, environment=environment)


def _outcome(judged: Judged) -> ModelOutcome:
    subject, before, after = judged.subject, judged.before, judged.after
    return ModelOutcome(
        model_id=subject.model_id, model_name=subject.model_name, team_id=subject.team_id,
        version=subject.version_number,
        current_outcome=before.decision.outcome, scenario_outcome=after.decision.outcome,
        current_mri=before.risk.score, scenario_mri=after.risk.score,
        current_band=before.risk.band, scenario_band=after.risk.band,
        current_policy=before.policy.applied.name, scenario_policy=after.policy.applied.name,
        scenario_blocking=[f"{r.rule}: {r.fact}{'[' + r.subject + ']' if r.subject else ''}"
                           for r in after.decision.blocking],
        changed=judged.changed,
    )  # fmt: skip


def _summary(judged: Sequence[Judged]) -> SimulationSummary:
    current = [j.before.decision.outcome for j in judged]
    scenario = [j.after.decision.outcome for j in judged]
    return SimulationSummary(
        models=len(judged),
        changed=sum(j.changed for j in judged),
        newly_blocked=sum(a == "blocked" != b for b, a in zip(current, scenario, strict=True)),
        newly_allowed=sum(b == "blocked" != a for b, a in zip(current, scenario, strict=True)),
        band_changes=sum(j.before.risk.band != j.after.risk.band for j in judged),
        current_outcomes=dict(Counter(current)),
        scenario_outcomes=dict(Counter(scenario)),
        scenario_bands=dict(Counter(j.after.risk.band for j in judged)),
    )


def _replay(
    session: Session,
    principal: Principal,
    data: SimulationRequest,
    candidates: Candidates,
    subjects: Sequence[Subject],
    now: datetime,
) -> ReplayResult:
    assert data.replay_days is not None
    since = now - timedelta(days=data.replay_days)
    models = {s.model_id: s for s in subjects}
    # Deployment decisions: the facts each one judged, under the scenario's policies.
    stored = session.scalars(
        select(Deployment)
        .where(Deployment.created_at >= since, Deployment.model_id.in_(list(models)))
        .order_by(Deployment.id)
    ).all()
    newly_blocked, newly_allowed, changed_ids = 0, 0, []
    for deployment in stored:
        subject = models[deployment.model_id]
        was_blocked = deployment.decision.get("outcome") == "blocked"
        would = _judge(
            Facts(deployment.facts), candidates.scenario, subject, subject.tier,
            deployment.environment,
        )  # fmt: skip
        would_block = would.decision.outcome == "blocked"
        newly_blocked += would_block and not was_blocked
        newly_allowed += was_blocked and not would_block
        if would_block != was_blocked:
            changed_ids.append(deployment.id)
    decisions = ReplayDecisions(
        examined=len(stored),
        newly_blocked=newly_blocked,
        newly_allowed=newly_allowed,
        changed_deployment_ids=changed_ids[:MAX_LISTED],
    )
    return ReplayResult(
        days=data.replay_days,
        since=since,
        decisions=decisions,
        monitoring=_replay_monitoring(session, candidates, models, since),
    )


def _replay_monitoring(
    session: Session,
    candidates: Candidates,
    models: dict[int, Subject],
    since: datetime,
) -> ReplayMonitoring:
    """Alerts the baseline and the scenario monitoring thresholds raise over stored windows."""
    runs = session.execute(
        select(MonitoringRun.id, ModelVersion.model_id, ModelVersion.task_type,
               ModelVersion.training_metrics)
        .join(ModelVersion, ModelVersion.id == MonitoringRun.version_id)
        .where(MonitoringRun.window_end >= since, MonitoringRun.status == "completed",
               ModelVersion.model_id.in_(list(models)))
        .order_by(MonitoringRun.id.desc())
        .limit(MAX_REPLAY_RUNS + 1)
    ).all()  # fmt: skip
    truncated = len(runs) > MAX_REPLAY_RUNS
    runs = runs[:MAX_REPLAY_RUNS]
    reports: dict[int, dict[str, dict[str, object]]] = {}
    if runs:
        for run_id, kind, payload in session.execute(
            select(MonitoringReport.run_id, MonitoringReport.kind, MonitoringReport.payload).where(
                MonitoringReport.run_id.in_([r[0] for r in runs]),
                MonitoringReport.kind.in_(("drift", "fairness", "data_quality")),
            )
        ):
            reports.setdefault(run_id, {})[kind] = payload
    current: Counter[str] = Counter()
    scenario: Counter[str] = Counter()
    for run_id, model_id, task_type, training in runs:
        subject = models[model_id]
        facts = report_facts(reports.get(run_id, {}), task_type=task_type.value, training=training)
        for counter, pool in ((current, candidates.baseline), (scenario, candidates.scenario)):
            policy = policies.select_policy(
                pool, team_id=subject.team_id, tier=subject.tier, environment=None
            )
            for finding in evaluate_monitoring(monitoring_policy(policy.document), facts):
                counter[f"{finding.rule}:{finding.severity}"] += 1
    return ReplayMonitoring(
        runs_examined=len(runs),
        truncated=truncated,
        current_findings=dict(current),
        scenario_findings=dict(scenario),
    )
