"""Human oversight: a live deployment is suspended at once and resumed only with four eyes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from driftguard.audit.orm import AuditRecord
from driftguard.cli import gate as gate_command
from driftguard.cli.main import app
from driftguard.client import Client
from driftguard.db.session import unit_of_work
from driftguard.governance import oversight
from driftguard.governance.orm import Deployment, DeploymentEvent
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.webhooks.orm import WebhookDelivery

from .conftest import Org, act, monitor, request
from .test_concurrency import THREADS, race
from .test_gate import ask


def live(client: TestClient, org: Org, environment: str = "production") -> dict[str, Any]:
    """Version 1 deployed to ``environment`` through the usual workflow."""
    pending = request(client, org, environment)
    if pending["status"] == "pending_approval":
        for approver in org.approvers[:2]:
            assert act(client, approver, pending["id"], "approve").status_code == 200
    deployed = act(client, org.engineer, pending["id"], "deploy")
    assert deployed.json()["status"] == "deployed", deployed.text
    return deployed.json()  # type: ignore[no-any-return]


def suspend(
    client: TestClient, headers: dict[str, str], deployment_id: int, body: Any = None
) -> Any:
    body = {"reason": "complaints about unfair refusals"} if body is None else body
    return client.post(f"/api/v1/deployments/{deployment_id}/suspend", json=body, headers=headers)


def resume(client: TestClient, headers: dict[str, str], deployment_id: int) -> Any:
    body = {"reason": "retrained on corrected data"}
    return client.post(f"/api/v1/deployments/{deployment_id}/resume", json=body, headers=headers)


def history(client: TestClient, org: Org, deployment_id: int) -> list[tuple[str, Any, str]]:
    page = client.get(f"/api/v1/deployments/{deployment_id}/history", headers=org.viewer).json()
    return [(e["action"], e["from_status"], e["to_status"]) for e in page["items"]]


def test_a_suspension_stops_the_version_at_once_and_is_announced_and_audited(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    hook = client.post(
        f"/api/v1/teams/{org.team}/webhooks",
        json={"url": "https://hooks.example.com/driftguard"},
        headers=org.engineer,
    )
    assert hook.status_code == 201, hook.text
    monitor(client, org)
    deployed = live(client, org)
    assert ask(client, org)["outcome"] == "allowed"

    response = suspend(client, org.approvers[2], deployed["id"])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "suspended"
    # The registry stops calling it the production version, as after a rollback.
    assert client.get(org.url, headers=org.viewer).json()["stage"] == "none"
    assert history(client, org, deployed["id"])[-1] == ("suspend", "deployed", "suspended")
    gate = ask(client, org)
    assert (gate["outcome"], gate["exit_code"], gate["deployment_id"]) == (
        "blocked",
        1,
        deployed["id"],
    )
    assert gate["suspension"]["reason"] == "complaints about unfair refusals"
    assert gate["suspension"]["deployment_id"] == deployed["id"]
    # Every block rule still passes: the suspension alone blocks.
    assert all(r["passed"] for r in gate["decision"]["rules"] if r["severity"] == "block")

    with unit_of_work(session_factory) as session:
        deliveries = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.event_type == "deployment.suspended")
        ).all()
        records = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "deployment.suspend")
        ).all()
    assert len(deliveries) == 1
    event = json.loads(deliveries[0].body)
    assert event["type"] == "deployment.suspended"
    data = event["data"]
    assert data["deployment"]["id"] == deployed["id"]
    assert data["deployment"]["status"] == "suspended"
    assert data["deployment"]["environment"] == "production"
    assert data["model"]["id"] == org.model_id
    assert data["version"] == {"id": deployed["version_id"], "number": 1}
    assert data["reason"] == "complaints about unfair refusals"
    assert data["suspended_by"]["user_id"] is not None
    assert data["suspended_by"]["user_id"] == records[0].actor_user_id
    assert len(records) == 1
    assert records[0].object_id == str(deployed["id"])
    assert records[0].before == {"status": "deployed", "revision": deployed["revision"]}
    assert records[0].after is not None
    assert records[0].after["status"] == "suspended"
    assert records[0].after["reason"] == "complaints about unfair refusals"

    # The version cannot go back live through a plain request.
    again = client.post(
        "/api/v1/deployments",
        json={"model_id": org.model_id, "version": 1, "environment": "production"},
        headers=org.engineer,
    )
    assert (again.status_code, again.json()["error"]) == (409, "deployment_suspended")


def test_suspend_refuses_bad_input_wrong_roles_other_teams_and_other_states(
    client: TestClient, org: Org
) -> None:
    monitor(client, org)
    pending = request(client, org)
    refused = suspend(client, org.approvers[0], pending["id"])
    assert refused.status_code == 409
    assert refused.json()["error"] == "invalid_transition"
    assert "is pending_approval" in refused.json()["message"]
    assert "only when deployed" in refused.json()["message"]
    for approver in org.approvers[:2]:
        act(client, approver, pending["id"], "approve")
    deployed = act(client, org.engineer, pending["id"], "deploy").json()

    missing = suspend(client, org.approvers[0], deployed["id"], body={})
    assert missing.status_code == 422
    assert missing.json()["details"][0]["loc"].endswith("reason")
    blank = suspend(client, org.approvers[0], deployed["id"], body={"reason": "   "})
    assert blank.status_code == 422
    assert blank.json()["details"][0]["loc"].endswith("reason")
    unknown = suspend(client, org.approvers[0], deployed["id"], body={"reason": "x", "now": 1})
    assert unknown.status_code == 422
    assert "now" in unknown.text
    assert suspend(client, org.engineer, deployed["id"]).status_code == 403
    assert suspend(client, org.viewer, deployed["id"]).status_code == 403
    assert suspend(client, org.outsider, deployed["id"]).status_code == 404
    # An engineer of another team may suspend nothing anywhere: refused before any lookup.
    assert suspend(client, org.stranger, deployed["id"]).status_code == 403
    assert suspend(client, org.admin, 999_999).status_code == 404
    # Nothing above changed it.
    assert history(client, org, deployed["id"])[-1] == ("deploy", "approved", "deployed")

    assert suspend(client, org.admin, deployed["id"]).json()["status"] == "suspended"
    twice = suspend(client, org.approvers[0], deployed["id"])
    assert twice.status_code == 409
    assert "is suspended" in twice.json()["message"]
    assert "only when deployed" in twice.json()["message"]
    # Neither rollback nor a second deploy applies to a suspended deployment.
    assert act(client, org.engineer, deployed["id"], "rollback", "x").status_code == 409
    assert act(client, org.engineer, deployed["id"], "deploy").status_code == 409


def test_a_suspension_cancels_open_requests_of_the_version_there(
    client: TestClient, org: Org
) -> None:
    monitor(client, org)
    deployed = live(client, org, "staging")
    redeploy = request(client, org, "staging")  # approved at once in staging
    assert redeploy["status"] == "approved"
    assert suspend(client, org.approvers[0], deployed["id"]).status_code == 200
    cancelled = client.get(f"/api/v1/deployments/{redeploy['id']}", headers=org.viewer).json()
    assert cancelled["status"] == "cancelled"
    assert act(client, org.engineer, redeploy["id"], "deploy").status_code == 409
    assert ask(client, org, "staging")["outcome"] == "blocked"


def test_resuming_needs_two_approvals_even_where_the_policy_needs_none(
    client: TestClient, org: Org
) -> None:
    monitor(client, org)
    deployed = live(client, org, "staging")  # the default policy wants no approval in staging
    suspend(client, org.approvers[0], deployed["id"])

    assert resume(client, org.approvers[0], deployed["id"]).status_code == 403  # cannot request
    assert resume(client, org.stranger, deployed["id"]).status_code == 404
    opened = resume(client, org.engineer, deployed["id"])
    assert opened.status_code == 201, opened.text
    request_ = opened.json()
    assert (request_["status"], request_["resumes_id"]) == ("pending_approval", deployed["id"])
    assert request_["decision"]["required_approvals"] == 2
    assert request_["reason"] == "retrained on corrected data"
    duplicate = resume(client, org.engineer, deployed["id"])
    assert (duplicate.status_code, duplicate.json()["error"]) == (409, "deployment_open")
    not_suspended = resume(client, org.engineer, request_["id"])
    assert not_suspended.status_code == 409
    assert "only when suspended" in not_suspended.json()["message"]

    assert act(client, org.engineer, request_["id"], "approve").status_code == 403  # requester
    assert act(client, org.engineer, request_["id"], "deploy").status_code == 409  # not approved
    first = act(client, org.approvers[1], request_["id"], "approve")
    assert first.json()["status"] == "pending_approval"
    assert ask(client, org, "staging")["outcome"] == "blocked"  # one approval is not enough
    second = act(client, org.approvers[2], request_["id"], "approve")
    assert second.json()["status"] == "approved"
    cleared = ask(client, org, "staging")
    assert (cleared["outcome"], cleared["deployment_id"], cleared["suspension"]) == (
        "allowed",
        request_["id"],
        None,
    )

    resumed = act(client, org.engineer, request_["id"], "deploy")
    assert resumed.json()["status"] == "deployed", resumed.text
    old = client.get(f"/api/v1/deployments/{deployed['id']}", headers=org.viewer).json()
    assert old["status"] == "superseded"
    assert history(client, org, deployed["id"])[-3:] == [
        ("suspend", "deployed", "suspended"),
        ("resume_request", "suspended", "suspended"),
        ("resume", "suspended", "superseded"),
    ]
    assert client.get(org.url, headers=org.viewer).json()["stage"] == "staging"
    assert ask(client, org, "staging")["outcome"] == "allowed"


def test_twenty_concurrent_suspends_take_effect_once(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    monitor(client, org)
    deployed = live(client, org, "staging")
    approver = Principal(user_id=None, team_roles={org.team: Role.APPROVER}, api_key_id=None)

    call: Callable[[Session], object] = lambda s: oversight.suspend(  # noqa: E731
        s, principal=approver, deployment_id=deployed["id"], reason="stop"
    )
    outcomes = race(session_factory, [call] * THREADS)
    # ``race`` catches conflicts only (409): any other error fails the test.
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) <= {"ok", "invalid_transition", "concurrent_change"}
    with unit_of_work(session_factory) as session:
        suspends = session.scalar(
            select(func.count()).where(
                DeploymentEvent.deployment_id == deployed["id"], DeploymentEvent.action == "suspend"
            )
        )
        status = session.scalar(select(Deployment.status).where(Deployment.id == deployed["id"]))
        audited = session.scalar(
            select(func.count()).where(AuditRecord.action == "deployment.suspend")
        )
    assert (suspends, status, audited) == (1, "suspended", 1)


def test_the_gate_command_exits_blocked_for_a_suspended_version(
    client: TestClient, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = client.post(
        f"/api/v1/teams/{org.team}/api-keys", json={"name": "ci"}, headers=org.engineer
    )
    sdk = Client(api_key=key.json()["key"], http=client, backoff_seconds=0)
    monkeypatch.setattr(sdk, "close", lambda: None)
    monkeypatch.setattr(gate_command, "make_client", lambda url, api_key: sdk)
    name = client.get(f"/api/v1/models/{org.model_id}", headers=org.viewer).json()["name"]
    args = ["gate", "check", "--model", name, "--version", "1", "--env", "staging"]
    monitor(client, org)
    deployed = live(client, org, "staging")
    assert CliRunner().invoke(app, args).exit_code == 0
    suspend(client, org.approvers[0], deployed["id"])
    blocked = CliRunner().invoke(app, args)
    assert blocked.exit_code == 1, blocked.output
    assert blocked.output.startswith(f"BLOCKED: model {org.model_id} version 1 → staging")
    assert f"SUSPENDED: deployment {deployed['id']}" in blocked.output
    assert "complaints about unfair refusals" in blocked.output


def test_a_resumed_deployment_can_still_be_rolled_back_to_what_the_suspended_one_replaced(
    client: TestClient, org: Org
) -> None:
    monitor(client, org)
    first = live(client, org, "staging")
    second = live(client, org, "staging")
    assert second["previous_id"] == first["id"]
    suspend(client, org.approvers[0], second["id"])
    opened = resume(client, org.engineer, second["id"]).json()
    for approver in org.approvers[1:]:
        assert act(client, approver, opened["id"], "approve").status_code == 200
    resumed = act(client, org.engineer, opened["id"], "deploy").json()
    assert (resumed["status"], resumed["previous_id"]) == ("deployed", first["id"])
    rolled = act(client, org.engineer, opened["id"], "rollback", "still wrong")
    assert rolled.json()["status"] == "rolled_back", rolled.text
    restored = client.get(f"/api/v1/deployments/{first['id']}", headers=org.viewer).json()
    assert restored["status"] == "deployed"
