"""What follows a monitoring run, owned here because policies decide it: the findings of the
policy in force move the version's alerts, the window's facts become the version's snapshot, and
the run is audited. :func:`request_run` is a run requested now (a request or a command);
scheduled runs call :func:`finish_run` themselves (``jobs.scheduler``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.audit.schemas import Actor
from driftguard.governance import alerts
from driftguard.governance import policies as policies_service
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.monitoring.facts import report_facts, store_snapshot
from driftguard.monitoring.orm import MonitoringRun
from driftguard.monitoring.report_models import RunReports
from driftguard.monitoring.runs import execute_run, run_read
from driftguard.monitoring.schemas import RunRead, RunRequest
from driftguard.registry import service as registry_service
from driftguard.registry.orm import ModelVersion, RegisteredModel


def request_run(
    session: Session, *, principal: Principal, model_id: int, number: int, window: RunRequest
) -> RunRead:
    """Compute and store the reports of one window now, and update the version's alerts."""
    model, version = registry_service.resolve_version(
        session, principal=principal, model_id=model_id, number=number
    )
    principal.require_in_team(Permission.MONITORING_RUN, model.team_id)
    run = execute_run(
        session, version=version, start=window.start, end=window.end, trigger="manual",
        method=window.method, actor_id=principal.user_id,
    )  # fmt: skip
    return finish_run(session, model=model, version=version, run=run, actor=principal)


def finish_run(
    session: Session,
    *,
    model: RegisteredModel,
    version: ModelVersion,
    run: MonitoringRun,
    actor: Actor,
) -> RunRead:
    """The run as read back, after its findings have moved the version's alerts (audited)."""
    read = run_read(session, run)
    if run.status == "completed" and alerts.is_latest_window(session, run):
        facts = report_facts(
            RunReports.from_payloads(read.reports),
            task_type=version.task_type.value,
            training=version.training_metrics,
        )
        policy = policies_service.monitoring_policy_for(session, model)
        alerts.apply_findings(
            session, model=model, version=version, run=run, facts=facts, policy=policy
        )
        store_snapshot(session, version=version, run=run, facts=facts)
    audit.record(
        session, actor=actor, action="monitoring.run", object_type="monitoring_run",
        object_id=run.id, after=read.model_dump(exclude={"reports"}),
    )  # fmt: skip
    return read
