"""Alert state changes as webhook events (queued in the transaction that makes the change)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from driftguard.db.base import utcnow
from driftguard.governance.orm import Alert
from driftguard.governance.schemas import AlertRead
from driftguard.webhooks import service as webhooks
from driftguard.webhooks.payloads import WebhookEvent

OPENED, ESCALATED, RESOLVED = "alert.opened", "alert.escalated", "alert.resolved"
SEVERITY_RANK = {"warning": 1, "critical": 2}
_VERBS = {OPENED: "opened", ESCALATED: "escalated", RESOLVED: "resolved"}


def escalated(before: str, after: str) -> bool:
    return SEVERITY_RANK.get(after, 0) > SEVERITY_RANK.get(before, 0)


def alert_event(kind: str, alert: Alert, *, model_name: str, version_number: int) -> WebhookEvent:
    read = AlertRead.model_validate(alert)
    where = f"{model_name} v{version_number}"
    facts = [
        ("Model", where),
        ("Rule", f"{alert.rule} on {alert.subject}"),
        ("Severity", alert.severity),
        ("Observed", f"{alert.observed:.4g} ({alert.operator} {alert.threshold:g} fires)"),
    ]
    if kind == RESOLVED and alert.resolution:
        facts.append(("Resolution", alert.resolution))
    return WebhookEvent(
        type=kind,
        occurred_at=utcnow(),
        data={
            "alert": read.model_dump(mode="json"),
            "model": {"id": alert.model_id, "name": model_name},
            "version": {"id": alert.version_id, "number": version_number},
        },
        title=f"[{alert.severity}] alert {_VERBS[kind]}: {where}: {alert.message}",
        facts=facts,
        alert_id=alert.id,
    )


def announce(
    session: Session, changes: list[tuple[str, Alert]], *, model_name: str, version_number: int
) -> None:
    """Queue a delivery per change for each enabled endpoint of the alert's team."""
    for kind, alert in changes:
        webhooks.enqueue_event(
            session,
            team_id=alert.team_id,
            event=alert_event(kind, alert, model_name=model_name, version_number=version_number),
        )
