"""Deliveries connect to the address that was checked: one lookup, no DNS-rebinding window."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from driftguard.settings import Settings
from driftguard.webhooks.delivery import build_http_client, deliver_due
from driftguard.webhooks.pinning import PinnedBackend
from support.config import make_settings
from support.webhooks import Receiver

from .conftest import Team
from .test_delivery import add_webhook, deliveries

PUBLIC = "1.1.1.1"  # never dialled: the fakes below refuse it before any packet leaves


class RecordingDialler(httpcore2.NetworkBackend):
    """Dials loopback for real; refuses (and records) any other address."""

    def __init__(self) -> None:
        self.dialled: list[str] = []
        self._real = httpcore2.SyncBackend()

    def connect_tcp(self, host: str, port: int, **options: Any) -> httpcore2.NetworkStream:
        self.dialled.append(host)
        if host != "127.0.0.1":
            raise httpcore2.ConnectError(f"test dialler: {host} refused")
        return self._real.connect_tcp(host, port, **options)


def test_a_name_is_sent_to_its_checked_address_with_its_own_host_header(
    client: TestClient,
    team: Team,
    receiver: Receiver,
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    port = urlsplit(receiver.url).port
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    hook, _ = add_webhook(client, team, f"http://hooks.internal.test:{port}/hook")
    client.post(f"{hook}/test", headers=team.engineer)
    backend = PinnedBackend(allow_private=True, resolve=resolve)
    with build_http_client(settings, backend=backend) as http:
        assert deliver_due(session_factory, settings=settings, http=http) == 1
    [got] = receiver.received
    assert got.headers["host"] == f"hooks.internal.test:{port}"
    assert asked == ["hooks.internal.test"]


def test_a_name_with_one_private_address_is_refused_before_dialling(
    engine: Engine,
    client: TestClient,
    team: Team,
    receiver: Receiver,
    session_factory: sessionmaker[Session],
) -> None:
    hook, _ = add_webhook(client, team, "https://hooks.example.com/hook")
    client.post(f"{hook}/test", headers=team.engineer)
    strict = make_settings(engine.url.render_as_string(hide_password=False))
    dialler = RecordingDialler()
    backend = PinnedBackend(
        allow_private=False, resolve=lambda host, port: [PUBLIC, "127.0.0.1"], dial=dialler
    )
    with build_http_client(strict, backend=backend) as http:
        assert deliver_due(session_factory, settings=strict, http=http) == 1
    assert dialler.dialled == []
    [logged] = deliveries(client, team, hook)
    error = logged["log"][0]["error"]  # type: ignore[index]
    assert error == "refused: the host resolves to a non-public address (127.0.0.1)"


def test_a_dns_answer_that_changes_after_the_check_is_not_followed(
    engine: Engine,
    client: TestClient,
    team: Team,
    receiver: Receiver,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The system resolver itself is faked here (not an injected one), so that any second
    # lookup, by whatever code, gets the rebound answer: loopback, where the receiver listens.
    port = urlsplit(receiver.url).port
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.create_connection
    lookups: list[str] = []
    dialled: list[str] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.example.com":
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        answer = PUBLIC if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        dialled.append(address[0])
        if address[0] not in ("127.0.0.1", "rebind.example.com"):
            raise ConnectionRefusedError("test: only loopback is dialled")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    hook, _ = add_webhook(client, team, f"http://rebind.example.com:{port}/hook")
    client.post(f"{hook}/test", headers=team.engineer)
    strict = make_settings(engine.url.render_as_string(hide_password=False))
    with build_http_client(strict) as http:
        assert deliver_due(session_factory, settings=strict, http=http) == 1
    assert receiver.received == []
    assert (lookups, dialled) == (["rebind.example.com"], [PUBLIC])
    [logged] = deliveries(client, team, hook)
    assert "ConnectError" in logged["log"][0]["error"]  # type: ignore[index]
