"""Which writes make the dashboard stale: any committed change to the rows it counts."""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain

from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction, sessionmaker

from driftguard.governance.orm import Alert, Deployment, DeploymentApproval, RiskScore
from driftguard.identity.orm import Team
from driftguard.lifecycle.orm import ModelReview
from driftguard.monitoring.orm import MonitoringRun
from driftguard.registry.orm import ModelTag, ModelVersion, RegisteredModel

WATCHED = (
    Team,
    RegisteredModel,
    ModelTag,
    ModelVersion,
    MonitoringRun,
    Alert,
    Deployment,
    DeploymentApproval,
    RiskScore,
    ModelReview,
)
_PENDING = "driftguard.dashboard_stale"


def invalidate_on_commit(factory: sessionmaker[Session], invalidate: Callable[[], None]) -> None:
    """Call ``invalidate`` after each commit of a session from ``factory`` that wrote a watched
    row (noted at flush, acted on only once the change is durable)."""

    @event.listens_for(factory, "after_flush")
    def _note(session: Session, _flush: UOWTransaction) -> None:
        if any(isinstance(o, WATCHED) for o in chain(session.new, session.dirty, session.deleted)):
            session.info[_PENDING] = True

    @event.listens_for(factory, "after_commit")
    def _invalidate(session: Session) -> None:
        if session.info.pop(_PENDING, False):
            invalidate()

    @event.listens_for(factory, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(_PENDING, None)
