from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, StringConstraints

from driftguard.schemas import CreateSchema, ReadSchema, ShortText, UpdateSchema

WebhookFormat = Literal["standard", "slack"]
# A DNS name (letters, digits, '-', '_', dot-separated) or an IPv6 address (from "[...]");
# anything else ('%'-escapes, '!', '$', ...) is a name no resolver should be asked about.
_HOST = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?|[0-9a-f]*:[0-9a-f:.]+(%25[a-z0-9._~-]+)?")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if not _HOST.fullmatch(parts.hostname):
        raise ValueError("must name a host by DNS name or IP address")
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
