from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from driftguard.app import create_app
from driftguard.db.base import utcnow
from driftguard.settings import Settings
from driftguard.webhooks.delivery import (
    CLAIM_BATCH,
    backoff,
    build_http_client,
    deliver_all_due,
    deliver_due,
)
from driftguard.webhooks.orm import WebhookDelivery
from support.config import make_settings
from support.webhooks import Receiver

from .conftest import Team


def add_webhook(client: TestClient, team: Team, url: str, **body: object) -> tuple[str, str]:
    response = client.post(team.url, json={"url": url, **body}, headers=team.engineer)
    assert response.status_code == 201, response.text
    return f"{team.url}/{response.json()['id']}", response.json()["secret"]


def deliveries(client: TestClient, team: Team, hook: str) -> list[dict[str, object]]:
    page = client.get(f"{hook}/deliveries", headers=team.viewer).json()
    items: list[dict[str, object]] = page["items"]
    return items


def test_a_test_event_arrives_signed(
    client: TestClient,
    team: Team,
    receiver: Receiver,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    hook, secret = add_webhook(client, team, receiver.url)
    queued = client.post(f"{hook}/test", headers=team.engineer)
    assert queued.status_code == 202
    assert queued.json()["status"] == "pending"
    assert receiver.received == []  # queued, not sent in the request

    assert deliver_due(session_factory, settings=settings, http=http) == 1
    [got] = receiver.received
    assert got.path == "/hook"
    assert got.headers["webhook-id"] == queued.json()["message_id"]
    # The reference implementation accepts it ...
    document = Webhook(secret).verify(got.body, got.headers)
    assert document["type"] == "webhook.test"
    assert document["data"]["webhook_id"] == int(hook.rsplit("/", 1)[1])
    # ... and so does the spec computed by hand: v1,base64(HMAC-SHA256(key, id.ts.body)).
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode() + got.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert got.headers["webhook-signature"] == f"v1,{expected}"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    # A wrong secret does not verify.
    with pytest.raises(Exception, match="signature"):
        Webhook(base64.b64encode(b"x" * 32).decode()).verify(got.body, got.headers)

    [logged] = deliveries(client, team, hook)
    assert (logged["status"], logged["attempts"]) == ("delivered", 1)
    [attempt] = logged["log"]  # type: ignore[misc]
    assert (attempt["status_code"], attempt["error"], attempt["next_attempt_at"]) == (
        200,
        None,
        None,
    )
    assert attempt["duration_ms"] > 0
    assert deliver_due(session_factory, settings=settings, http=http) == 0  # nothing left


def test_deliver_all_due_drains_batch_after_batch(
    client: TestClient,
    team: Team,
    receiver: Receiver,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    """What the embedded loop's tick and the worker's task both run: one call sends every due
    delivery, more than one claimed batch of them."""
    hook, _ = add_webhook(client, team, receiver.url)
    for _ in range(CLAIM_BATCH + 1):
        assert client.post(f"{hook}/test", headers=team.engineer).status_code == 202
    assert deliver_all_due(session_factory, settings=settings, http=http) == CLAIM_BATCH + 1
    assert len(receiver.received) == CLAIM_BATCH + 1
    assert deliver_all_due(session_factory, settings=settings, http=http) == 0


def test_a_500_is_retried_with_the_same_message_id(
    client: TestClient,
    team: Team,
    receiver: Receiver,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    hook, secret = add_webhook(client, team, receiver.url)
    client.post(f"{hook}/test", headers=team.engineer)
    receiver.script.extend([500])
    assert deliver_due(session_factory, settings=settings, http=http) == 1
    [logged] = deliveries(client, team, hook)
    assert (logged["status"], logged["attempts"]) == ("pending", 1)
    first = logged["log"][0]  # type: ignore[index]
    assert (first["status_code"], first["error"]) == (500, "the target answered 500")
    assert first["next_attempt_at"] is not None

    assert deliver_due(session_factory, settings=settings, http=http) == 1  # backoff 0 here
    [logged] = deliveries(client, team, hook)
    assert (logged["status"], logged["attempts"]) == ("delivered", 2)
    assert [a["status_code"] for a in logged["log"]] == [500, 200]  # type: ignore[attr-defined]
    one, two = receiver.received
    assert one.headers["webhook-id"] == two.headers["webhook-id"]
    assert one.body == two.body
    Webhook(secret).verify(two.body, two.headers)


def test_it_gives_up_after_the_maximum_attempts(
    client: TestClient,
    team: Team,
    receiver: Receiver,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    assert settings.webhook_max_attempts == 3
    hook, _ = add_webhook(client, team, receiver.url)
    client.post(f"{hook}/test", headers=team.engineer)
    receiver.script.extend([500, 503, 502, 200])
    for _ in range(5):
        deliver_due(session_factory, settings=settings, http=http)
    assert len(receiver.received) == 3
    [logged] = deliveries(client, team, hook)
    assert (logged["status"], logged["attempts"], logged["next_attempt_at"]) == ("failed", 3, None)
    assert [a["status_code"] for a in logged["log"]] == [500, 503, 502]  # type: ignore[attr-defined]
    assert logged["log"][-1]["next_attempt_at"] is None  # type: ignore[index]


def test_an_unreachable_target_is_logged_and_retried_later(
    engine: Engine,
    client: TestClient,
    team: Team,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
) -> None:
    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        webhook_allow_private_targets=True,
        webhook_backoff_seconds=60,
        webhook_timeout_seconds=1,
    )
    # A port nothing listens on (the receiver's, after it has stopped).
    from support.webhooks import loopback_receiver

    with loopback_receiver() as gone:
        dead_url = gone.url
    hook, _ = add_webhook(client, team, dead_url)
    client.post(f"{hook}/test", headers=team.engineer)
    assert deliver_due(session_factory, settings=settings, http=http) == 1
    [logged] = deliveries(client, team, hook)
    attempt = logged["log"][0]  # type: ignore[index]
    assert attempt["status_code"] is None
    assert "ConnectError" in attempt["error"]
    assert deliver_due(session_factory, settings=settings, http=http) == 0  # backing off
    later = utcnow() + timedelta(seconds=61)
    assert deliver_due(session_factory, settings=settings, http=http, now=later) == 1


def test_backoff_doubles_up_to_the_cap() -> None:
    settings = make_settings(
        "sqlite://", webhook_backoff_seconds=10, webhook_backoff_max_seconds=60
    )
    waits = [backoff(settings, n).total_seconds() for n in range(1, 6)]
    assert waits == [10, 20, 40, 60, 60]


def test_slack_format(
    client: TestClient,
    team: Team,
    receiver: Receiver,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    hook, secret = add_webhook(client, team, receiver.url, format="slack")
    client.post(f"{hook}/test", headers=team.engineer)
    deliver_due(session_factory, settings=settings, http=http)
    [got] = receiver.received
    message = json.loads(got.body)
    assert set(message) == {"text", "blocks"}
    assert "test event" in message["text"]
    assert message["blocks"][0]["type"] == "section"
    assert all(block["type"] in {"section", "context"} for block in message["blocks"])
    Webhook(secret).verify(got.body, got.headers)


def test_disabled_endpoints_wait_and_deleted_ones_are_dropped(
    client: TestClient,
    team: Team,
    receiver: Receiver,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    hook, _ = add_webhook(client, team, receiver.url)
    client.post(f"{hook}/test", headers=team.engineer)
    client.patch(hook, json={"enabled": False}, headers=team.engineer)
    assert deliver_due(session_factory, settings=settings, http=http) == 0
    client.patch(hook, json={"enabled": True}, headers=team.engineer)
    assert deliver_due(session_factory, settings=settings, http=http) == 1
    client.post(f"{hook}/test", headers=team.engineer)
    client.delete(hook, headers=team.engineer)
    assert deliver_due(session_factory, settings=settings, http=http) == 0
    assert len(receiver.received) == 1


def test_the_server_delivers_in_the_background(
    engine: Engine,
    team: Team,
    receiver: Receiver,
) -> None:
    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        webhook_allow_private_targets=True,
        webhook_delivery_enabled=True,
        webhook_tick_seconds=0.05,
    )
    with TestClient(create_app(settings, engine=engine)) as server:
        hook, secret = add_webhook(server, team, receiver.url)
        server.post(f"{hook}/test", headers=team.engineer)
        deadline = time.monotonic() + 10
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
    [got] = receiver.received
    Webhook(secret).verify(got.body, got.headers)


def test_shutdown_waits_for_a_delivery_under_way(
    engine: Engine, team: Team, receiver: Receiver
) -> None:
    """Stopping the server lets the background tick that is sending finish (and record its
    attempt) before the app disposes of what it uses, rather than leaving its thread behind."""
    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        webhook_allow_private_targets=True,
        webhook_delivery_enabled=True,
        webhook_tick_seconds=0.05,
        webhook_timeout_seconds=60,
    )
    receiver.hold = threading.Event()
    server = TestClient(create_app(settings, engine=engine))
    stopping = threading.Thread(target=server.__exit__, args=(None, None, None))
    server.__enter__()
    try:
        hook, _ = add_webhook(server, team, receiver.url)
        server.post(f"{hook}/test", headers=team.engineer)
        assert receiver.arrived.wait(timeout=60), "no delivery reached the receiver"
        stopping.start()
        # The receiver holds its answer: shutdown must still be waiting for the send.
        stopping.join(timeout=3)
        waited = stopping.is_alive()
    finally:
        receiver.hold.set()
        if stopping.ident is None:  # failed before shutting down: shut down here
            stopping.start()
        stopping.join(timeout=60)
    assert not stopping.is_alive(), "shutdown did not finish once the send had"
    assert waited, "shutdown returned while a delivery was still being sent"
    with Session(engine) as session:
        statuses = session.scalars(select(WebhookDelivery.status)).all()
    assert statuses == ["delivered"]


def test_delivery_refuses_private_targets_when_not_allowed(
    engine: Engine,
    client: TestClient,
    team: Team,
    receiver: Receiver,
    http: httpx2.Client,
    session_factory: sessionmaker[Session],
) -> None:
    hook, _ = add_webhook(client, team, receiver.url)  # saved while allowed
    client.post(f"{hook}/test", headers=team.engineer)
    strict = make_settings(engine.url.render_as_string(hide_password=False))
    with build_http_client(strict) as strict_http:
        assert deliver_due(session_factory, settings=strict, http=strict_http) == 1
    assert receiver.received == []
    [logged] = deliveries(client, team, hook)
    assert logged["log"][0]["error"].startswith("refused: ")  # type: ignore[index]
