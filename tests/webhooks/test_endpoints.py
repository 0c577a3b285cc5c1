from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import create_app
from driftguard.audit.orm import AuditRecord
from driftguard.webhooks.orm import WebhookEndpoint
from support.config import make_settings

from .conftest import Team

HOOK = "https://hooks.example.com/services/T0/B0/secret-part"


def create(client: TestClient, team: Team, **body: object) -> dict[str, object]:
    response = client.post(team.url, json={"url": HOOK, **body}, headers=team.engineer)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


def test_the_secret_is_shown_once_and_never_logged(
    client: TestClient, team: Team, session_factory: sessionmaker[Session]
) -> None:
    created = create(client, team, format="slack", description="#ml-alerts")
    secret = str(created["secret"])
    assert secret.startswith("whsec_")
    assert len(secret) == len("whsec_") + 44  # 32 bytes in base64
    assert (created["format"], created["enabled"], created["url"]) == ("slack", True, HOOK)
    listed = client.get(team.url, headers=team.engineer).json()
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    one = client.get(f"{team.url}/{created['id']}", headers=team.engineer).json()
    assert "secret" not in one
    with session_factory() as s:
        audit = s.scalars(select(AuditRecord).where(AuditRecord.action == "webhook.create")).one()
    assert secret not in str(audit.after)
    assert "secret-part" not in str(audit.after)  # the URL path may be a credential too


def test_members_read_with_the_url_masked_and_only_managers_change(
    client: TestClient, team: Team
) -> None:
    created = create(client, team)
    url = f"{team.url}/{created['id']}"
    seen = client.get(url, headers=team.viewer)
    assert seen.status_code == 200
    assert seen.json()["url"] == "https://hooks.example.com/…"
    for role in (team.viewer, team.approver):
        assert client.post(team.url, json={"url": HOOK}, headers=role).status_code == 403
        assert client.patch(url, json={"enabled": False}, headers=role).status_code == 403
        assert client.delete(url, headers=role).status_code == 403
        assert client.post(f"{url}/test", headers=role).status_code == 403
    assert client.get(f"{url}/deliveries", headers=team.viewer).status_code == 200


def test_another_teams_webhooks_are_not_found(client: TestClient, team: Team) -> None:
    created = create(client, team)
    url = f"{team.url}/{created['id']}"
    assert client.get(team.url, headers=team.outsider).status_code == 404
    assert client.get(url, headers=team.outsider).status_code == 404
    assert client.patch(url, json={"enabled": False}, headers=team.outsider).status_code == 404
    assert client.delete(url, headers=team.outsider).status_code == 404
    assert client.get(f"{url}/deliveries", headers=team.outsider).status_code == 404
    assert client.post(team.url, json={"url": HOOK}, headers=team.outsider).status_code == 404


def test_update_and_delete(client: TestClient, team: Team) -> None:
    created = create(client, team)
    url = f"{team.url}/{created['id']}"
    changed = client.patch(
        url,
        json={"enabled": False, "format": "slack", "url": "https://a.example.org/x"},
        headers=team.engineer,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["enabled"], changed.json()["format"]) == (False, "slack")
    assert changed.json()["url"] == "https://a.example.org/x"
    assert client.delete(url, headers=team.engineer).status_code == 204
    assert client.get(url, headers=team.engineer).status_code == 404
    assert client.delete(url, headers=team.engineer).status_code == 404


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"url": "ftp://files.example.com/x"}, "body.url"),
        ({"url": "javascript:alert(1)"}, "body.url"),
        ({"url": "https://"}, "body.url"),
        ({"url": "https://user:pw@example.com/x"}, "body.url"),
        ({"url": "https://example.com/a b"}, "body.url"),
        ({"url": "https://example.com:99999/x"}, "body.url"),
        ({"url": HOOK, "format": "teams"}, "body.format"),
        ({"url": HOOK, "secret": "whsec_mine"}, "body.secret"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, team: Team, body: dict[str, object], loc: str
) -> None:
    response = client.post(team.url, json=body, headers=team.engineer)
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["loc"] == loc


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:8000/api/v1/teams",
        "http://localhost/x",
        "http://[::1]/x",
        "http://10.0.0.7/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/x",
        # Legacy IPv4 forms the system resolver reads as loopback, wildcard or link-local.
        "http://2130706433/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://0/",
        "http://0xa9fea9fe/latest/meta-data",
        "http://[::7f00:1]/x",
    ],
)
def test_private_targets_are_refused_by_default(
    engine: Engine, team: Team, session_factory: sessionmaker[Session], target: str
) -> None:
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    assert settings.webhook_allow_private_targets is False
    with TestClient(create_app(settings, engine=engine)) as strict:
        response = strict.post(team.url, json={"url": target}, headers=team.engineer)
    assert response.status_code == 422, response.text
    assert response.json()["details"] == [
        {"loc": "url", "msg": response.json()["details"][0]["msg"]}
    ]
    assert "address" in response.json()["message"] or "localhost" in response.json()["message"]
    with session_factory() as s:
        assert s.scalars(select(WebhookEndpoint)).all() == []


@pytest.mark.parametrize("host", ["%31%32%37.0.0.1", "127.0.0.1%09", "a!b.example.com"])
def test_a_host_that_is_neither_a_name_nor_an_address_is_refused(
    client: TestClient, team: Team, host: str
) -> None:
    response = client.post(team.url, json={"url": f"http://{host}/x"}, headers=team.engineer)
    assert response.status_code == 422, response.text
    [detail] = response.json()["details"]
    assert detail["loc"] == "body.url"
    assert "must name a host by DNS name or IP address" in detail["msg"]
