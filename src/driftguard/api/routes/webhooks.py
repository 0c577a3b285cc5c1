"""Team webhook endpoints: alert notifications signed with Standard Webhooks headers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from driftguard.api.deps import require
from driftguard.encryption import secret_cipher
from driftguard.http.deps import DbSession, SettingsDep
from driftguard.http.params import LimitQuery, ObjectId, OffsetQuery
from driftguard.identity.permissions import Permission
from driftguard.identity.principal import Principal
from driftguard.schemas import Page
from driftguard.webhooks import service
from driftguard.webhooks.schemas import (
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WebhookUpdate,
)

router = APIRouter(prefix="/teams/{team_id}/webhooks", tags=["webhooks"])
TeamId = ObjectId
WebhookId = ObjectId
Manager = Annotated[Principal, require(Permission.WEBHOOKS_MANAGE)]
Member = Annotated[Principal, require(Permission.TEAMS_READ)]


@router.post("", status_code=201)
def create_webhook(
    team_id: TeamId,
    body: WebhookCreate,
    session: DbSession,
    settings: SettingsDep,
    principal: Manager,
) -> WebhookCreated:
    """Add an endpoint. Its signing secret (``whsec_…``) is in this response only."""
    read, secret = service.create_endpoint(
        session,
        principal=principal,
        team_id=team_id,
        data=body,
        allow_private=settings.webhook_allow_private_targets,
        cipher=secret_cipher(settings),
    )
    return WebhookCreated(**read.model_dump(), secret=secret)


@router.get("")
def list_webhooks(team_id: TeamId, session: DbSession, principal: Member) -> list[WebhookRead]:
    """The team's endpoints (URLs are shown in full to those who may manage them)."""
    return service.list_endpoints(session, principal=principal, team_id=team_id)


@router.get("/{webhook_id}")
def get_webhook(
    team_id: TeamId, webhook_id: WebhookId, session: DbSession, principal: Member
) -> WebhookRead:
    """One of the team's webhook endpoints (never its signing secret)."""
    return service.get_endpoint(
        session, principal=principal, team_id=team_id, endpoint_id=webhook_id
    )


@router.patch("/{webhook_id}")
def update_webhook(
    team_id: TeamId,
    webhook_id: WebhookId,
    body: WebhookUpdate,
    session: DbSession,
    settings: SettingsDep,
    principal: Manager,
) -> WebhookRead:
    """Change an endpoint's URL, format, description or enabled flag; a new URL is checked as on
    creation."""
    return service.update_endpoint(
        session,
        principal=principal,
        team_id=team_id,
        endpoint_id=webhook_id,
        data=body,
        allow_private=settings.webhook_allow_private_targets,
    )


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(
    team_id: TeamId, webhook_id: WebhookId, session: DbSession, principal: Manager
) -> Response:
    """Delete an endpoint with its pending deliveries and their log."""
    service.delete_endpoint(session, principal=principal, team_id=team_id, endpoint_id=webhook_id)
    return Response(status_code=204)


@router.post("/{webhook_id}/test", status_code=202)
def send_test_event(
    team_id: TeamId, webhook_id: WebhookId, session: DbSession, principal: Manager
) -> DeliveryRead:
    """Queue a ``webhook.test`` event for this endpoint; follow it in the delivery log."""
    return service.send_test(session, principal=principal, team_id=team_id, endpoint_id=webhook_id)


@router.get("/{webhook_id}/deliveries")
def list_deliveries(
    team_id: TeamId,
    webhook_id: WebhookId,
    session: DbSession,
    principal: Member,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[DeliveryRead]:
    """Deliveries newest first, each with its log of attempts (status, error, duration, next)."""
    return service.list_deliveries(
        session,
        principal=principal,
        team_id=team_id,
        endpoint_id=webhook_id,
        limit=limit,
        offset=offset,
    )
