"""The executive dashboard: what the caller may see, computed once per minute per scope."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from driftguard.dashboard import repository
from driftguard.dashboard.cache import DashboardCache
from driftguard.dashboard.governance import governance_section
from driftguard.dashboard.repository import Visible
from driftguard.dashboard.schemas import AlertCounts, ExecutiveDashboard, ModelCounts
from driftguard.db.base import utcnow
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.registry.orm import Stage

RECENT_RUNS = 10
FAIRNESS_FINDINGS = 20
SEVERITIES = ("critical", "warning")
STAGES = (Stage.PRODUCTION.value, Stage.STAGING.value, Stage.NONE.value)


def scope_key(visible: Visible) -> str:
    """The caller's visibility scope as part of a cache key: every team, or a set of teams."""
    if visible is None:
        return "all"
    teams = ",".join(str(t) for t in sorted(visible))
    return "teams-" + hashlib.sha256(teams.encode()).hexdigest()[:32]


def executive(
    session: Session, *, principal: Principal, cache: DashboardCache
) -> ExecutiveDashboard:
    """The executive dashboard for the caller's visible teams, from the cache when fresh."""
    visible = principal.teams_with(Permission.MODELS_READ)
    text = cache.fetch(
        f"executive:v3:{scope_key(visible)}",
        lambda: build_executive(session, visible=visible).model_dump_json(),
    )
    return ExecutiveDashboard.model_validate_json(text)


def build_executive(session: Session, *, visible: Visible) -> ExecutiveDashboard:
    """The executive dashboard computed from the database (no cache) for the given teams."""
    by_team = repository.models_by_team_and_stage(session, visible=visible)
    by_stage = dict.fromkeys(STAGES, 0)
    for row in by_team:
        by_stage[row.stage] += row.models
    alerts = repository.active_alert_counts(session, visible=visible)
    by_severity = dict.fromkeys(SEVERITIES, 0)
    by_status = {"open": 0, "acknowledged": 0}
    for severity, status, count in alerts:
        by_severity[severity] = by_severity.get(severity, 0) + count
        by_status[status] = by_status.get(status, 0) + count
    return ExecutiveDashboard(
        generated_at=utcnow(),
        models=ModelCounts(total=sum(by_stage.values()), by_stage=by_stage, by_team=by_team),
        open_alerts=AlertCounts(
            total=sum(by_status.values()), by_severity=by_severity, by_status=by_status
        ),
        fairness_findings=repository.fairness_findings(
            session, visible=visible, limit=FAIRNESS_FINDINGS
        ),
        recent_runs=list(repository.recent_runs(session, visible=visible, limit=RECENT_RUNS)),
        governance=governance_section(session, visible=visible, now=utcnow()),
    )
