"""Alert changes reach the team's webhooks: queued with the change, sent afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from driftguard.governance.orm import Alert
from driftguard.settings import Settings
from driftguard.webhooks.delivery import deliver_due
from driftguard.webhooks.orm import WebhookDelivery
from support.config import make_settings
from support.monitoring import reference_rows
from support.versions import Setup
from support.webhooks import Receiver, loopback_receiver

from .test_alerts import active, log_day, run


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(
        engine.url.render_as_string(hide_password=False), webhook_allow_private_targets=True
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with loopback_receiver() as r:
        yield r


def events(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every delivery received since the last call, each verified against the secret."""
    found = []
    for got in receiver.received:
        document = Webhook(secret).verify(got.body, got.headers)
        found.append(document)
    receiver.received.clear()
    return found


def summary(documents: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    return {
        (
            d["type"],
            d["data"]["alert"]["rule"],
            d["data"]["alert"]["subject"],
            d["data"]["alert"]["status"],
        )
        for d in documents
    }


def test_alerts_are_announced_when_they_open_escalate_and_resolve(
    client: TestClient,
    setup: Setup,
    receiver: Receiver,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    team_id = client.get(f"/api/v1/models/{setup.model_id}", headers=setup.engineer).json()[
        "team_id"
    ]
    created = client.post(
        f"/api/v1/teams/{team_id}/webhooks", json={"url": receiver.url}, headers=setup.engineer
    ).json()
    secret = created["secret"]
    client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(2_000)}, headers=setup.engineer
    )
    log_day(client, setup, 0, drifted=True)
    log_day(client, setup, 1, drifted=False)
    with httpx2.Client(timeout=5, trust_env=False) as http:
        run(client, setup, 0)
        opened = active(client, setup)
        with session_factory() as s:  # queued in the run's transaction, one per alert
            assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == len(opened)
        deliver_due(session_factory, settings=settings, http=http)
        first = events(receiver, secret)
        assert summary(first) == {("alert.opened", r, s, "open") for r, s in opened}
        impact = next(d for d in first if d["data"]["alert"]["rule"] == "disparate_impact")
        assert impact["data"]["model"]["id"] == setup.model_id
        assert impact["data"]["version"]["number"] == 1

        run(client, setup, 0)  # the same findings: no news, nothing sent
        deliver_due(session_factory, settings=settings, http=http)
        assert events(receiver, secret) == []

        # A rule whose severity rose since the alert opened escalates it.
        with session_factory() as s, s.begin():
            s.execute(
                update(Alert).where(Alert.rule == "disparate_impact").values(severity="warning")
            )
        run(client, setup, 0)
        deliver_due(session_factory, settings=settings, http=http)
        escalated = events(receiver, secret)
        assert summary(escalated) == {("alert.escalated", "disparate_impact", "gender", "open")}
        assert escalated[0]["data"]["alert"]["severity"] == "critical"

        psi = opened[("psi", "income")]
        client.post(
            f"/api/v1/alerts/{psi['id']}/resolve",
            json={"comment": "retrained"},
            headers=setup.engineer,
        )
        deliver_due(session_factory, settings=settings, http=http)
        by_hand = events(receiver, secret)
        assert summary(by_hand) == {("alert.resolved", "psi", "income", "resolved")}
        assert by_hand[0]["data"]["alert"]["resolution"] == "retrained"

        run(client, setup, 1)  # a clean day resolves the rest
        deliver_due(session_factory, settings=settings, http=http)
        assert summary(events(receiver, secret)) == {
            ("alert.resolved", r, s, "resolved") for r, s in opened if (r, s) != ("psi", "income")
        }


def test_slack_endpoints_get_a_readable_message(
    client: TestClient,
    setup: Setup,
    receiver: Receiver,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    team_id = client.get(f"/api/v1/models/{setup.model_id}", headers=setup.engineer).json()[
        "team_id"
    ]
    client.post(
        f"/api/v1/teams/{team_id}/webhooks",
        json={"url": receiver.url, "format": "slack"},
        headers=setup.engineer,
    )
    client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(2_000)}, headers=setup.engineer
    )
    log_day(client, setup, 0, drifted=True)
    run(client, setup, 0)
    with httpx2.Client(timeout=5, trust_env=False) as http:
        deliver_due(session_factory, settings=settings, http=http)
    texts = [json.loads(got.body)["text"] for got in receiver.received]
    assert any(t.startswith("[critical] alert opened: ") and "gender" in t for t in texts)
    fields = json.loads(receiver.received[0].body)["blocks"][1]["fields"]
    assert fields[0]["text"].startswith("*Model*\n")
