from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, StringConstraints

from driftguard.schemas import CreateSchema, ReadSchema, ShortText, UpdateSchema

WebhookFormat = Literal["standard", "slack"]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    try:
        _ = parts.port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    return value


WebhookUrl = Annotated[
    str,
    StringConstraints(min_length=8, max_length=2048, pattern=r"^[\x21-\x7e]+$"),
    AfterValidator(_http_url),
]


class WebhookCreate(CreateSchema):
    url: WebhookUrl
    format: WebhookFormat = "standard"
    description: ShortText = ""
    enabled: bool = True


class WebhookUpdate(UpdateSchema):
    url: WebhookUrl | None = None
    format: WebhookFormat | None = None
    description: ShortText | None = None
    enabled: bool | None = None


class WebhookRead(ReadSchema):
    id: int
    team_id: int
    url: str
    format: str
    description: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookRead):
    secret: str  # shown in this response only


class AttemptRead(ReadSchema):
    number: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    next_attempt_at: datetime | None


class DeliveryRead(ReadSchema):
    id: int
    endpoint_id: int
    message_id: str
    event_type: str
    alert_id: int | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[AttemptRead]
