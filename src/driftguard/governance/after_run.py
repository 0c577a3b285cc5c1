"""What follows every monitoring run, owned here because policies decide it: the findings of the
policy in force move the version's alerts, the window's facts become the version's snapshot, the
run is audited and, when it completed, the version's risk index is scored again.

:func:`after_run` is the one function for this, called by whoever ran the window: the API request
through :func:`request_run`, and the scheduled runs (the embedded scheduler tick and the worker's
task) in ``jobs.scheduler.run_window``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.audit.schemas import Actor
from driftguard.governance import alerts, risk
from driftguard.governance import policies as policies_service
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.monitoring.facts import report_facts, store_snapshot
from driftguard.monitoring.runs import RunOutcome, execute_run, run_read
from driftguard.monitoring.schemas import RunRead, RunRequest
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion, RegisteredModel


def request_run(
    session: Session,
    *,
    principal: Principal,
    model_id: int,
    number: int,
    window: RunRequest,
    rescore: bool = True,
) -> RunRead:
    """Compute and store the reports of one window now, then :func:`after_run`."""
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    principal.require_in_team(Permission.MONITORING_RUN, model.team_id)
    outcome = execute_run(
        session,
        version=version,
        start=window.start,
        end=window.end,
        trigger="manual",
        method=window.method,
        actor_id=principal.user_id,
    )
    return after_run(
        session, outcome, model=model, version=version, actor=principal, rescore=rescore
    )


def after_run(
    session: Session,
    outcome: RunOutcome,
    *,
    model: RegisteredModel,
    version: ModelVersion,
    actor: Actor,
    rescore: bool = True,
) -> RunRead:
    """The run as read back, after its findings have moved the version's alerts and its facts
    became the version's snapshot (when it is the latest window), audited; a completed run then
    re-scores the version's risk index. ``rescore=False`` is for the demo seed only, which
    replays a fortnight of windows in one go and scores each version once at the end. The
    facts come from the run's report models as computed, not re-read from storage."""
    run = outcome.run
    read = run_read(session, run)
    if run.status == "completed" and alerts.is_latest_window(session, run):
        facts = report_facts(
            outcome.reports,
            task_type=version.task_type.value,
            training=version.training_metrics,
        )
        policy = policies_service.monitoring_policy_for(session, model)
        alerts.apply_findings(
            session, model=model, version=version, run=run, facts=facts, policy=policy
        )
        store_snapshot(session, version=version, run=run, facts=facts)
    audit.record(
        session,
        actor=actor,
        action="monitoring.run",
        object_type="monitoring_run",
        object_id=run.id,
        after=read.model_dump(exclude={"reports"}),
    )
    if rescore and run.status == "completed":
        risk.refresh(session, model=model, version=version, trigger="monitoring_run")
    return read
