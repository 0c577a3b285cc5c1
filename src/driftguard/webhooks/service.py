"""Team webhook endpoints and the outbox. Functions flush; callers commit."""

from __future__ import annotations

import base64
import secrets
import uuid
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from driftguard.audit import service as audit
from driftguard.audit.schemas import Actor
from driftguard.db.base import utcnow
from driftguard.encryption import SecretCipher
from driftguard.errors import ErrorDetail, InvalidError, NotFoundError
from driftguard.identity import repository as identity_repository
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.schemas import Page
from driftguard.webhooks import repository
from driftguard.webhooks.orm import WebhookDelivery, WebhookEndpoint
from driftguard.webhooks.payloads import WebhookEvent, render
from driftguard.webhooks.schemas import (
    AttemptRead,
    DeliveryRead,
    WebhookCreate,
    WebhookRead,
    WebhookUpdate,
)
from driftguard.webhooks.targets import literal_problem

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
TEST_EVENT = "webhook.test"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _team(session: Session, principal: Principal, team_id: int) -> None:
    visible = principal.teams_with(Permission.TEAMS_READ)
    if identity_repository.get_team(session, team_id, visible=visible) is None:
        raise NotFoundError(f"team {team_id} not found")


def _manager(session: Session, principal: Principal, team_id: int) -> None:
    _team(session, principal, team_id)
    principal.require_in_team(Permission.WEBHOOKS_MANAGE, team_id)


def _endpoint(session: Session, team_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = repository.get_endpoint(session, team_id, endpoint_id)
    if endpoint is None:
        raise NotFoundError(f"webhook {endpoint_id} not found")
    return endpoint


def masked_url(url: str) -> str:
    """Scheme, host and port only: the path of many webhook URLs is itself a credential."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def _read(endpoint: WebhookEndpoint, principal: Principal) -> WebhookRead:
    read = WebhookRead.model_validate(endpoint)
    if not principal.can_in_team(Permission.WEBHOOKS_MANAGE, endpoint.team_id):
        read.url = masked_url(endpoint.url)
    return read


def _check_target(url: str, *, allow_private: bool) -> None:
    problem = None if allow_private else literal_problem(url)
    if problem is not None:
        raise InvalidError(
            f"url: {problem}",
            code="webhook_target_refused",
            details=[ErrorDetail(loc="url", msg=problem)],
        )


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, object]:
    return {
        "team_id": endpoint.team_id,
        "url": masked_url(endpoint.url),
        "format": endpoint.format,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
    }


def create_endpoint(
    session: Session,
    *,
    principal: Principal,
    team_id: int,
    data: WebhookCreate,
    allow_private: bool,
    cipher: SecretCipher,
) -> tuple[WebhookRead, str]:
    """Create an endpoint; its signing secret is returned here once, and stored encrypted."""
    _manager(session, principal, team_id)
    _check_target(data.url, allow_private=allow_private)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        team_id=team_id,
        url=data.url,
        format=data.format,
        description=data.description,
        enabled=data.enabled,
        secret_encrypted=cipher.encrypt(secret),
        created_by_id=principal.user_id,
    )
    session.add(endpoint)
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="webhook.create",
        object_type="webhook",
        object_id=endpoint.id,
        after=_snapshot(endpoint),
    )
    return WebhookRead.model_validate(endpoint), secret


def list_endpoints(session: Session, *, principal: Principal, team_id: int) -> list[WebhookRead]:
    """The webhook endpoints of a team the principal can see."""
    _team(session, principal, team_id)
    return [_read(e, principal) for e in repository.list_endpoints(session, team_id)]


def get_endpoint(
    session: Session, *, principal: Principal, team_id: int, endpoint_id: int
) -> WebhookRead:
    """One endpoint of a team the principal can see; another team's is not found."""
    _team(session, principal, team_id)
    return _read(_endpoint(session, team_id, endpoint_id), principal)


def update_endpoint(
    session: Session,
    *,
    principal: Principal,
    team_id: int,
    endpoint_id: int,
    data: WebhookUpdate,
    allow_private: bool,
) -> WebhookRead:
    """Change an endpoint's URL, format, description or enabled flag (a new URL is checked as on
    creation), audited."""
    _manager(session, principal, team_id)
    endpoint = _endpoint(session, team_id, endpoint_id)
    before = _snapshot(endpoint)
    if data.url is not None:
        _check_target(data.url, allow_private=allow_private)
        endpoint.url = data.url
    if data.format is not None:
        endpoint.format = data.format
    if data.description is not None:
        endpoint.description = data.description
    if data.enabled is not None:
        endpoint.enabled = data.enabled
    endpoint.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="webhook.update",
        object_type="webhook",
        object_id=endpoint.id,
        before=before,
        after=_snapshot(endpoint),
    )
    return WebhookRead.model_validate(endpoint)


def delete_endpoint(
    session: Session, *, principal: Principal, team_id: int, endpoint_id: int
) -> None:
    """Delete an endpoint with its pending deliveries and their log."""
    _manager(session, principal, team_id)
    endpoint = _endpoint(session, team_id, endpoint_id)
    before = _snapshot(endpoint)
    session.delete(endpoint)
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="webhook.delete",
        object_type="webhook",
        object_id=endpoint_id,
        before=before,
    )


def rotate_secrets(session: Session, *, cipher: SecretCipher, actor: Actor) -> int:
    """Re-encrypt every stored signing secret under the cipher's first key (audited); returns
    how many were rewritten. All or nothing: one secret no key opens fails the whole run."""
    endpoints = repository.all_endpoints(session)
    for endpoint in endpoints:
        endpoint.secret_encrypted = cipher.rotate(endpoint.secret_encrypted)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="secrets.rotate",
        object_type="webhook",
        after={"webhooks": len(endpoints)},
    )
    return len(endpoints)


def _queue(session: Session, endpoint: WebhookEndpoint, event: WebhookEvent) -> WebhookDelivery:
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        message_id=f"msg_{uuid.uuid4().hex}",
        event_type=event.type,
        alert_id=event.alert_id,
        body=render(event, endpoint.format),
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )
    session.add(delivery)
    return delivery


def enqueue_event(session: Session, *, team_id: int, event: WebhookEvent) -> int:
    """Queue ``event`` for each enabled endpoint of the team, in the caller's transaction;
    returns how many deliveries were queued."""
    endpoints = repository.enabled_endpoints(session, team_id)
    for endpoint in endpoints:
        _queue(session, endpoint, event)
    session.flush()
    return len(endpoints)


def send_test(
    session: Session, *, principal: Principal, team_id: int, endpoint_id: int
) -> DeliveryRead:
    """Queue a ``webhook.test`` event for one endpoint (enabled or not: it tests the target)."""
    _manager(session, principal, team_id)
    endpoint = _endpoint(session, team_id, endpoint_id)
    now = utcnow()
    event = WebhookEvent(
        type=TEST_EVENT,
        occurred_at=now,
        data={"team_id": team_id, "webhook_id": endpoint.id, "message": "a test event"},
        title="DriftGuard test event: this webhook works",
        facts=[("Team", str(team_id)), ("Webhook", str(endpoint.id))],
    )
    delivery = _queue(session, endpoint, event)
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="webhook.test",
        object_type="webhook",
        object_id=endpoint.id,
        after={"message_id": delivery.message_id},
    )
    return DeliveryRead.model_validate({**_delivery_fields(delivery), "log": []})


def _delivery_fields(delivery: WebhookDelivery) -> dict[str, object]:
    return {name: getattr(delivery, name) for name in DeliveryRead.model_fields if name != "log"}


def list_deliveries(
    session: Session,
    *,
    principal: Principal,
    team_id: int,
    endpoint_id: int,
    limit: int,
    offset: int,
) -> Page[DeliveryRead]:
    """The endpoint's deliveries, newest first, each with its attempts (the delivery log)."""
    _team(session, principal, team_id)
    _endpoint(session, team_id, endpoint_id)
    rows, total = repository.list_deliveries(session, endpoint_id, limit=limit, offset=offset)
    attempts = repository.attempts_of(session, [d.id for d in rows])
    items = [
        DeliveryRead.model_validate(
            {
                **_delivery_fields(d),
                "log": [AttemptRead.model_validate(a) for a in attempts[d.id]],
            }
        )
        for d in rows
    ]
    return Page(items=items, total=total, limit=limit, offset=offset)
