"""What a delivery sends: the event as Standard Webhooks JSON, or as a Slack message."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """An event for a team's endpoints.

    ``data`` is the machine-readable payload; ``title`` and ``facts`` are its human summary
    (the Slack message).
    """

    type: str
    occurred_at: datetime
    data: Mapping[str, Any]
    title: str
    facts: Sequence[tuple[str, str]] = field(default_factory=tuple)
    alert_id: int | None = None


def standard_body(event: WebhookEvent) -> str:
    """``{"type", "timestamp", "data"}``, the payload shape Standard Webhooks recommends."""
    document = {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": to_jsonable_python(dict(event.data)),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(event: WebhookEvent) -> str:
    """An incoming-webhook message: ``text`` for notifications, ``blocks`` for the layout."""
    title = _escape(event.title)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}}
    ]
    if event.facts:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{_escape(name)}*\n{_escape(value)}"}
                    for name, value in list(event.facts)[:10]  # Slack allows ten fields
                ],
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"DriftGuard · {_escape(event.type)}"},
            ],
        }
    )
    return json.dumps({"text": title, "blocks": blocks}, separators=(",", ":"))


def render(event: WebhookEvent, webhook_format: str) -> str:
    """An event's body in the endpoint's format: Slack's message, or the standard JSON event."""
    return slack_body(event) if webhook_format == "slack" else standard_body(event)
