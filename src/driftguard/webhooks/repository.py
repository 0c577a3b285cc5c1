"""Webhook queries. Endpoints are always looked up within their team (isolation in SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from driftguard.webhooks.orm import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def get_endpoint(session: Session, team_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    """A team's endpoint by id, or None (another team's endpoint is not found)."""
    return session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.team_id == team_id, WebhookEndpoint.id == endpoint_id
        )
    )


def list_endpoints(session: Session, team_id: int) -> Sequence[WebhookEndpoint]:
    """A team's endpoints, oldest first."""
    return session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.team_id == team_id)
        .order_by(WebhookEndpoint.id)
    ).all()


def all_endpoints(session: Session) -> Sequence[WebhookEndpoint]:
    """Every team's endpoints, locked: for re-encrypting their secrets (no caller's view)."""
    return session.scalars(
        select(WebhookEndpoint).order_by(WebhookEndpoint.id).with_for_update()
    ).all()


def enabled_endpoints(session: Session, team_id: int) -> Sequence[WebhookEndpoint]:
    """A team's enabled endpoints (the ones an event is queued for), oldest first."""
    return session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.team_id == team_id, WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookEndpoint.id)
    ).all()


def list_deliveries(
    session: Session, endpoint_id: int, *, limit: int, offset: int
) -> tuple[Sequence[WebhookDelivery], int]:
    """A page of an endpoint's deliveries, newest first, and how many there are."""
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total


def attempts_of(session: Session, delivery_ids: Sequence[int]) -> dict[int, list[WebhookAttempt]]:
    """The attempts of each delivery, in order (an empty list for one never attempted)."""
    found: dict[int, list[WebhookAttempt]] = {d: [] for d in delivery_ids}
    if delivery_ids:
        rows = session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
        )
        for attempt in rows:
            found[attempt.delivery_id].append(attempt)
    return found


def claim_due(
    session: Session, *, now: datetime, limit: int
) -> Sequence[tuple[WebhookDelivery, WebhookEndpoint]]:
    """Pending deliveries whose time has come, for enabled endpoints, locked for this process
    (rows another process holds are skipped; SQLite writers are serialised anyway)."""
    rows = session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    ).all()
    return [(r[0], r[1]) for r in rows]
