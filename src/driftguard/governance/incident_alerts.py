"""Serious incidents past their reporting deadline, announced once each: an alert of the
incident's version and an ``incident.late`` webhook event, in the transaction that marks the
incident announced (``lifecycle.incidents.mark_late``). Once the incident is reported (or
closed), its alert resolves (``alert.resolved``). Run by the ``incident_deadlines`` maintenance
job; any number of processes may run it at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from driftguard.governance.alert_events import RESOLVED, announce
from driftguard.governance.alerts import ACTIVE
from driftguard.governance.orm import Alert
from driftguard.lifecycle import incidents
from driftguard.lifecycle.orm import Incident
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.webhooks import service as webhooks
from driftguard.webhooks.payloads import WebhookEvent

LATE_EVENT = "incident.late"
LATE_RULE = "incident_reporting_deadline"
LATE_FACT = "incident.late"
_SUBJECT = "incident "  # the alert's subject: "incident {id}"


def announce_late(session: Session, now: datetime) -> list[int]:
    """Announce every serious incident not reported by its deadline and not announced yet;
    returns the ids announced by this call."""
    announced: list[int] = []
    for incident in incidents.late(session, now):
        if incident.late_notified_at is not None or not incidents.mark_late(session, incident, now):
            continue
        model = session.get(RegisteredModel, incident.model_id)
        version = session.get(ModelVersion, incident.version_id)
        assert model is not None  # incidents cascade with their model and version
        assert version is not None
        alert = _alert(session, incident, now)
        webhooks.enqueue_event(
            session,
            team_id=incident.team_id,
            event=_event(session, incident, alert, model, version, now),
        )
        announced.append(incident.id)
    return announced


def settle_reported(session: Session, now: datetime) -> list[int]:
    """Resolve the open late-incident alerts whose incident is now reported or closed; returns
    the ids of the alerts resolved."""
    active = session.scalars(
        select(Alert)
        .where(Alert.rule == LATE_RULE, Alert.status.in_(ACTIVE))
        .with_for_update(skip_locked=True)
    ).all()
    resolved: list[int] = []
    for alert in active:
        incident = session.get(Incident, int(alert.subject.removeprefix(_SUBJECT)))
        if incident is not None and incident.status == "open":
            continue
        alert.status, alert.resolved_at = "resolved", now
        when = incident.reported_at if incident is not None else None
        alert.resolution = (
            f"incident reported at {when.isoformat()}" if when else "incident no longer open"
        )
        session.flush()
        model = session.get(RegisteredModel, alert.model_id)
        version = session.get(ModelVersion, alert.version_id)
        assert model is not None
        assert version is not None
        announce(session, [(RESOLVED, alert)], model_name=model.name, version_number=version.number)
        resolved.append(alert.id)
    return resolved


def _alert(session: Session, incident: Incident, now: datetime) -> Alert:
    deadline = incident.reporting_deadline
    assert deadline is not None  # late() lists only incidents with a deadline
    hours = (now - deadline).total_seconds() / 3600
    alert = Alert(
        team_id=incident.team_id,
        model_id=incident.model_id,
        version_id=incident.version_id,
        rule=LATE_RULE,
        subject=f"{_SUBJECT}{incident.id}",
        fact=LATE_FACT,
        severity="critical",
        status="open",
        observed=hours,
        operator=">",
        threshold=0.0,
        message=(
            f"incident {incident.id}: serious incident ({incident.category}) not reported; "
            f"its deadline {deadline.isoformat()} passed {hours:.1f} h ago"
        ),
        run_id=None,
        window_end=deadline,
        opened_at=now,
        last_seen_at=now,
    )
    session.add(alert)
    session.flush()
    return alert


def _event(
    session: Session,
    incident: Incident,
    alert: Alert,
    model: RegisteredModel,
    version: ModelVersion,
    now: datetime,
) -> WebhookEvent:
    read = incidents.to_read(session, incident, now=now)
    where = f"{model.name} v{version.number}"
    deadline = read.reporting_deadline.isoformat() if read.reporting_deadline else ""
    return WebhookEvent(
        type=LATE_EVENT,
        occurred_at=now,
        data={
            "incident": read.model_dump(mode="json"),
            "model": {"id": model.id, "name": model.name},
            "version": {"id": version.id, "number": version.number},
            "alert_id": alert.id,
        },
        title=f"[critical] serious incident not reported in time: {where}: {incident.title}",
        facts=[
            ("Model", where),
            ("Incident", f"{incident.id}: {incident.title}"),
            ("Category", incident.category or ""),
            ("Deadline", deadline),
        ],
        alert_id=alert.id,
    )
