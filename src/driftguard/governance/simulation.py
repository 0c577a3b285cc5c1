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
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Select, String, exists, func, null, select, type_coerce
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from driftguard.errors import ErrorDetail, InvalidError
from driftguard.governance import policies
from driftguard.governance.evaluation import Evaluation, judge, require_environment
from driftguard.governance.facts import (
    Subject,
    driver_time,
    fetch_all,
    gather,
    gather_portfolio,
)
from driftguard.governance.orm import Deployment
from driftguard.governance.policies import InForce
from driftguard.governance.reviews_due import cadence_of
from driftguard.governance.schemas import (
    AppliedPolicy,
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
from driftguard.monitoring.report_models import RunReports
from driftguard.registry.orm import ModelVersion, RegisteredModel, Stage
from driftguard.rules import (
    FACTS,
    WHOLE,
    Facts,
    content_hash,
    evaluate_monitoring,
    monitoring_policy,
    tier_of,
)
from driftguard.rules.portfolio import (
    FactTable,
    Verdict,
    Verdicts,
    judge_portfolio,
    reads,
    supports,
)

DRAFT = "draft"
LEVEL_FACTS = ("model.materiality", "model.criticality")
MAX_LISTED = 1000
MAX_REPLAY_RUNS = 5000


@dataclass(frozen=True, slots=True)
class Candidates:
    baseline: list[InForce]
    scenario: list[InForce]
    draft: AppliedPolicy | None


class _Side:
    """Baseline or scenario: per model its policy and verdict, filled group by group."""

    def __init__(self, size: int) -> None:
        self.outcome = np.full(size, "", dtype="<U16")
        self.score = np.zeros(size, dtype=np.float64)
        self.band = np.full(size, "", dtype="<U8")
        self.policy: list[str] = [""] * size
        self._columnar: dict[int, tuple[Verdicts, int]] = {}
        self._scalar: dict[int, Verdict] = {}

    def put_columnar(self, verdicts: Verdicts, policy: str) -> None:
        rows = verdicts.rows
        self.outcome[rows], self.score[rows], self.band[rows] = (
            verdicts.outcome,
            verdicts.score,
            verdicts.band,
        )
        for k, row in enumerate(rows.tolist()):
            self._columnar[row] = (verdicts, k)
            self.policy[row] = policy

    def put(self, row: int, verdict: Verdict, policy: str) -> None:
        self.outcome[row], self.score[row], self.band[row] = (
            verdict.outcome,
            verdict.score,
            verdict.band,
        )
        self._scalar[row], self.policy[row] = verdict, policy

    def verdict(self, row: int) -> Verdict:
        if row in self._scalar:
            return self._scalar[row]
        verdicts, k = self._columnar[row]
        return verdicts.verdict(k)


def simulate(
    session: Session,
    *,
    principal: Principal,
    data: SimulationRequest,
    environments: Sequence[str],
) -> Simulation:
    """Baseline and scenario of every model in scope, judged as a portfolio
    (:mod:`driftguard.rules.portfolio`); the models the portfolio engine cannot judge exactly
    (a per-feature override, an equality rule over features, a value that is not a number) are
    judged one by one, with the same result."""
    require_environment(data.environment, environments)
    candidates = _candidates(session, data, environments)
    # Feature names are read only to check a per-feature override against them.
    subjects = _subjects(
        session, principal, data, with_features=any(o.subject for o in data.overrides)
    )
    _check_overrides(data.overrides, subjects)
    now = datetime.now(UTC)
    in_force = [*candidates.baseline, *candidates.scenario, policies.DEFAULT_IN_FORCE]
    columns = set().union(*(reads(p.document) for p in in_force if supports(p.document)))
    # The review clock (``review.*``) runs on the cadence of the policies in force.
    portfolio = gather_portfolio(
        session, subjects, now=now, reads=columns, cadence=cadence_of(candidates.baseline)
    )
    tiers = _scenario_tiers(subjects, data.overrides)
    scenario_table = _override_whole_facts(portfolio.table, subjects, data.overrides, tiers)
    baseline, scenario = _Side(len(subjects)), _Side(len(subjects))
    select_before = _Selector(candidates.baseline, data.environment)
    select_after = _Selector(candidates.scenario, data.environment)
    groups: dict[tuple[int, int], list[int]] = {}
    scalar = set(portfolio.irregular)
    per_feature = [o for o in data.overrides if o.subject]
    for row, subject in enumerate(subjects):
        if row in scalar or any(_concerns(o, subject) for o in per_feature):
            scalar.add(row)
            continue
        before = select_before(subject.team_id, subject.tier)
        after = select_after(subject.team_id, tiers[row])
        groups.setdefault((id(before), id(after)), []).append(row)
    for (before_id, after_id), members in groups.items():
        before, after = select_before.known[before_id], select_after.known[after_id]
        if not (supports(before.document) and supports(after.document)):
            scalar.update(members)
            continue
        rows = np.array(members, dtype=np.intp)
        for side, table, policy in (
            (baseline, portfolio.table, before),
            (scenario, scenario_table, after),
        ):
            side.put_columnar(
                judge_portfolio(policy.document, table, rows, environment=data.environment),
                policy.applied.name,
            )
    _judge_one_by_one(
        session, sorted(scalar), subjects, data, candidates, (baseline, scenario), now
    )
    changed = (baseline.outcome != scenario.outcome) | (baseline.band != scenario.band)
    listed = [row for row in range(len(subjects)) if data.include_unchanged or changed[row]]
    return Simulation(
        environment=data.environment,
        draft_policy=candidates.draft,
        evaluated_at=now,
        summary=_summary(baseline, scenario, changed),
        models=[
            _outcome(subjects[row], baseline, scenario, row, bool(changed[row]))
            for row in listed[:MAX_LISTED]
        ],
        models_truncated=len(listed) > MAX_LISTED,
        replay=_replay(session, principal, data, candidates, subjects, now)
        if data.replay_days
        else None,
    )


class _Selector:
    """The policy in force per team and tier (memoised: a portfolio has few combinations)."""

    def __init__(self, candidates: list[InForce], environment: str) -> None:
        self._candidates, self._environment = candidates, environment
        self._memo: dict[tuple[int, int], InForce] = {}
        self.known: dict[int, InForce] = {}

    def __call__(self, team_id: int, tier: int) -> InForce:
        key = (team_id, tier)
        if key not in self._memo:
            policy = policies.select_policy(
                self._candidates, team_id=team_id, tier=tier, environment=self._environment
            )
            self._memo[key] = self.known[id(policy)] = policy
        return self._memo[key]


def _concerns(override: Override, subject: Subject) -> bool:
    return override.model_id is None or override.model_id == subject.model_id


def _scenario_tiers(subjects: Sequence[Subject], overrides: Sequence[Override]) -> list[int]:
    """Each model's tier once the materiality and criticality overrides are applied."""
    levels = [o for o in overrides if o.fact in LEVEL_FACTS]
    return [_tier(subject, levels) if levels else subject.tier for subject in subjects]


def _tier(subject: Subject, overrides: Sequence[Override]) -> int:
    """The model's tier with the materiality and criticality overrides that concern it."""
    levels = {"model.materiality": subject.materiality, "model.criticality": subject.criticality}
    for override in overrides:
        if override.fact in levels and _concerns(override, subject):
            levels[override.fact] = str(override.value)
    return tier_of(levels["model.materiality"], levels["model.criticality"])


def _override_whole_facts(
    table: FactTable, subjects: Sequence[Subject], overrides: Sequence[Override], tiers: list[int]
) -> FactTable:
    """The scenario's table: the whole-version overrides and tier changes applied."""
    model_ids = np.array([s.model_id for s in subjects], dtype=np.int64)
    for override in overrides:
        if override.fact in LEVEL_FACTS or FACTS[override.fact].per_subject:
            continue  # tiers below; per-feature overrides are judged one by one
        rows = (
            np.ones(len(subjects), dtype=bool)
            if override.model_id is None
            else model_ids == override.model_id
        )
        table = table.replace(override.fact, rows, float(override.value))
    if any(o.fact in LEVEL_FACTS for o in overrides):
        table = table.replace(
            "model.tier", np.ones(len(subjects), dtype=bool), np.array(tiers, dtype=np.float64)
        )
    return table


def _judge_one_by_one(
    session: Session,
    rows: list[int],
    subjects: Sequence[Subject],
    data: SimulationRequest,
    candidates: Candidates,
    sides: tuple[_Side, _Side],
    now: datetime,
) -> None:
    """The per-version engine, for the rows the portfolio engine left."""
    if not rows:
        return
    facts = gather(
        session,
        [subjects[row] for row in rows],
        now=now,
        cadence=cadence_of(candidates.baseline),
    )
    baseline, scenario = sides
    for row in rows:
        subject = subjects[row]
        actual = facts[subject.version_id]
        before = _judge(actual, candidates.baseline, subject, subject.tier, data.environment)
        changed_facts, changed_tier = _apply(actual, data.overrides, subject)
        after = _judge(changed_facts, candidates.scenario, subject, changed_tier, data.environment)
        for side, evaluation in ((baseline, before), (scenario, after)):
            verdict = Verdict.of(evaluation.decision, evaluation.risk)
            side.put(row, verdict, evaluation.policy.applied.name)


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


def _subjects(
    session: Session, principal: Principal, data: SimulationRequest, *, with_features: bool
) -> list[Subject]:
    """Per model in scope: the version live in the environment, else its newest live version.

    Read as plain columns in three queries, whatever the number of models. The feature names
    are read only ``with_features`` (a per-feature override names one); otherwise they are
    left empty."""
    connection = session.connection()  # plain rows: no ORM loading for ten thousand of them
    models = select(
        RegisteredModel.id,
        RegisteredModel.name,
        RegisteredModel.team_id,
        # The stored level names, without building ten thousand enum members.
        type_coerce(RegisteredModel.materiality, String),
        type_coerce(RegisteredModel.criticality, String),
    ).where(RegisteredModel.archived_at.is_(None))
    teams = principal.teams_with(Permission.MODELS_READ)
    if teams is not None:
        models = models.where(RegisteredModel.team_id.in_(teams))
    if data.scope.model_id is not None:
        models = models.where(RegisteredModel.id == data.scope.model_id)
    if data.scope.team_id is not None:
        models = models.where(RegisteredModel.team_id == data.scope.team_id)
    by_id = {row[0]: row for row in fetch_all(connection, models)}
    if data.scope.model_id is not None and not by_id:
        raise InvalidError(
            f"scope.model_id: model {data.scope.model_id} not found",
            details=[ErrorDetail("scope.model_id", "no such model among those you may see")],
        )
    live = {  # noqa: C416 (dict(rows) does not type-check)
        model_id: version_id
        for model_id, version_id in fetch_all(
            connection,
            select(Deployment.model_id, Deployment.version_id).where(
                Deployment.status == "deployed", Deployment.environment == data.environment
            ),
        )
    }
    features = ModelVersion.features if with_features else null()
    versions = {}
    for model_id, version_id, number, created_at, names, sensitive in fetch_all(
        connection, _newest_versions(connection, features)
    ):
        versions[version_id] = (model_id, number, created_at, names, sensitive)
    wanted_live = {v for m, v in live.items() if m in by_id and v not in versions}
    if wanted_live:
        for version_id, model_id, number, created_at, names, sensitive in fetch_all(
            connection,
            select(
                ModelVersion.id,
                ModelVersion.model_id,
                ModelVersion.number,
                driver_time(connection, ModelVersion.created_at),
                features,
                ModelVersion.sensitive_attributes,
            ).where(ModelVersion.id.in_(wanted_live)),
        ):
            versions[version_id] = (model_id, number, created_at, names, sensitive)
    latest = {
        model_id: version_id
        for version_id, (model_id, *_) in versions.items()
        if version_id not in wanted_live
    }
    subjects = []
    for model_id in sorted(by_id):
        chosen = live.get(model_id) or latest.get(model_id)
        if chosen is None or chosen not in versions:
            continue
        _, name, team_id, materiality, criticality = by_id[model_id]
        _, number, created_at, names, sensitive = versions[chosen]
        subjects.append(
            Subject(
                model_id=model_id,
                model_name=name,
                team_id=team_id,
                materiality=materiality,
                criticality=criticality,
                version_id=chosen,
                version_number=number,
                registered_at=created_at,
                features=frozenset(str(f.get("name")) for f in names or ()),
                sensitive=sensitive,
            )
        )
    return subjects


def _newest_versions(
    connection: Connection, features: Any
) -> Select[int, int, int, datetime, Any, int]:
    """Each model's newest version that is not archived: ``model_id, id, number, created_at,
    features, sensitive_attributes``.

    On PostgreSQL one pass over ``ix_model_versions_newest_live`` (index-only, in index order);
    elsewhere the newest numbers joined back to their rows."""
    version = ModelVersion
    columns = (
        version.model_id,
        version.id,
        version.number,
        driver_time(connection, version.created_at),
        features,
        version.sensitive_attributes,
    )
    live = version.stage != Stage.ARCHIVED
    if connection.dialect.name == "postgresql":
        return (
            select(*columns)
            .where(live)
            .ext(distinct_on(version.model_id))
            .order_by(version.model_id.desc(), version.number.desc())
        )
    newest = (
        select(version.model_id, func.max(version.number).label("number"))
        .where(live)
        .group_by(version.model_id)
        .subquery()
    )
    return select(*columns).join(
        newest, (newest.c.model_id == version.model_id) & (newest.c.number == version.number)
    )


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
        if override.fact == "mri.score":
            problems.append(
                ErrorDetail(f"{where}.fact", "the MRI is computed; override the facts it reads")
            )
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
    for override in overrides:
        if override.fact in LEVEL_FACTS or not _concerns(override, subject):
            continue
        if not FACTS[override.fact].per_subject:
            facts = facts.with_value(override.fact, float(override.value), WHOLE)
        elif override.subject in subject.features:
            facts = facts.with_value(override.fact, float(override.value), override.subject)
    tier = _tier(subject, overrides)
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


def _outcome(
    subject: Subject, baseline: _Side, scenario: _Side, row: int, changed: bool
) -> ModelOutcome:
    blocking = scenario.verdict(row).blocking
    return ModelOutcome(
        model_id=subject.model_id,
        model_name=subject.model_name,
        team_id=subject.team_id,
        version=subject.version_number,
        current_outcome=str(baseline.outcome[row]),
        scenario_outcome=str(scenario.outcome[row]),
        current_mri=float(baseline.score[row]),
        scenario_mri=float(scenario.score[row]),
        current_band=str(baseline.band[row]),
        scenario_band=str(scenario.band[row]),
        current_policy=baseline.policy[row],
        scenario_policy=scenario.policy[row],
        scenario_blocking=[
            f"{rule}: {fact}{'[' + on + ']' if on else ''}" for rule, fact, on in blocking
        ],
        changed=changed,
    )


def _summary(baseline: _Side, scenario: _Side, changed: npt.NDArray[np.bool_]) -> SimulationSummary:
    def counts(values: npt.NDArray[np.str_]) -> dict[str, int]:
        names, numbers = np.unique(values, return_counts=True)
        return {str(n): int(c) for n, c in zip(names, numbers, strict=True)}

    before_blocked, after_blocked = baseline.outcome == "blocked", scenario.outcome == "blocked"
    return SimulationSummary(
        models=len(changed),
        changed=int(changed.sum()),
        newly_blocked=int((after_blocked & ~before_blocked).sum()),
        newly_allowed=int((before_blocked & ~after_blocked).sum()),
        band_changes=int((baseline.band != scenario.band).sum()),
        current_outcomes=counts(baseline.outcome),
        scenario_outcomes=counts(scenario.outcome),
        scenario_bands=counts(scenario.band),
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
            Facts(deployment.facts),
            candidates.scenario,
            subject,
            subject.tier,
            deployment.environment,
        )
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
        select(
            MonitoringRun.id,
            ModelVersion.model_id,
            ModelVersion.task_type,
            ModelVersion.training_metrics,
        )
        .join(ModelVersion, ModelVersion.id == MonitoringRun.version_id)
        .where(
            MonitoringRun.window_end >= since,
            MonitoringRun.status == "completed",
            ModelVersion.model_id.in_(list(models)),
            # A run whose reports were purged (report retention) has nothing to replay.
            exists().where(MonitoringReport.run_id == MonitoringRun.id),
        )
        .order_by(MonitoringRun.id.desc())
        .limit(MAX_REPLAY_RUNS + 1)
    ).all()
    truncated = len(runs) > MAX_REPLAY_RUNS
    runs = runs[:MAX_REPLAY_RUNS]
    reports: dict[int, dict[str, dict[str, Any]]] = {}
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
        stored = RunReports.from_payloads(reports.get(run_id, {}))
        facts = report_facts(stored, task_type=task_type.value, training=training)
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
