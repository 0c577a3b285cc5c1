from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from driftguard.cli import gate as gate_command
from driftguard.cli.entry import USAGE_ERROR, main
from driftguard.cli.main import app
from driftguard.client import Client

from .conftest import Org, act, monitor, request


def ask(client: TestClient, org: Org, environment: str = "production", **params: object) -> dict:  # type: ignore[type-arg]
    model = client.get(f"/api/v1/models/{org.model_id}", headers=org.viewer).json()["name"]
    query = {"model": model, "version": 1, "environment": environment, **params}
    response = client.get("/api/v1/gate", params=query, headers=org.viewer)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_gate_answers_blocked_pending_then_allowed(client: TestClient, org: Org) -> None:
    blocked = ask(client, org)
    assert (blocked["outcome"], blocked["exit_code"]) == ("blocked", 1)
    assert any(not r["passed"] for r in blocked["decision"]["rules"])
    monitor(client, org)
    waiting = ask(client, org)
    assert (waiting["outcome"], waiting["exit_code"], waiting["deployment_id"]) == (
        "pending",
        2,
        None,
    )
    pending = request(client, org)
    assert ask(client, org)["deployment_id"] == pending["id"]
    for approver in org.approvers[:2]:
        assert act(client, approver, pending["id"], "approve").status_code == 200
    allowed = ask(client, org)
    assert (allowed["outcome"], allowed["exit_code"]) == ("allowed", 0)
    assert ask(client, org, "staging")["exit_code"] == 0  # staging needs no approval
    # The gate only reads: no request was created by asking.
    assert client.get("/api/v1/deployments", headers=org.viewer).json()["total"] == 1
    # Deployed, then asked for again: the live deployment still clears the gate.
    assert act(client, org.engineer, pending["id"], "deploy").json()["status"] == "deployed"
    request(client, org)
    live = ask(client, org)
    assert (live["outcome"], live["deployment_id"]) == ("allowed", pending["id"])


def test_the_gate_refuses_bad_questions(client: TestClient, org: Org) -> None:
    def status(headers: dict[str, str] = org.viewer, **params: object) -> int:
        query = {"model": "nope", "version": 1, "environment": "production", **params}
        return client.get("/api/v1/gate", params=query, headers=headers).status_code

    name = client.get(f"/api/v1/models/{org.model_id}", headers=org.viewer).json()["name"]
    assert status() == 404
    assert status(model=name, environment="moon") == 422
    assert status(model=name, version=7) == 404
    assert status(org.outsider, model=name) == 404
    assert status(model=name, version=0) == 422


def test_the_gate_command_exits_with_the_answer(
    client: TestClient, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = client.post(
        f"/api/v1/teams/{org.team}/api-keys", json={"name": "ci"}, headers=org.engineer
    )
    sdk = Client(api_key=key.json()["key"], http=client, backoff_seconds=0)
    monkeypatch.setattr(sdk, "close", lambda: None)  # the test client outlives each command
    monkeypatch.setattr(gate_command, "make_client", lambda url, api_key: sdk)
    name = client.get(f"/api/v1/models/{org.model_id}", headers=org.viewer).json()["name"]
    args = ["gate", "check", "--model", name, "--version", "1", "--env", "production"]
    blocked = CliRunner().invoke(app, args)
    assert blocked.exit_code == 1, blocked.output
    assert blocked.output.startswith(f"BLOCKED: model {org.model_id} version 1 → production")
    assert "reference_data" in blocked.output
    assert "FAIL" in blocked.output
    monitor(client, org)
    pending = CliRunner().invoke(app, args)
    assert pending.exit_code == 2, pending.output
    assert "no deployment requested yet" in pending.output
    unknown = CliRunner().invoke(app, [*args[:3], "nope", *args[4:]])
    assert unknown.exit_code == 3
    assert "cannot answer" in unknown.output
    # The installed command's fast path (entry.main) gives the same answer.
    monkeypatch.setattr(sys, "argv", ["driftguard", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2


@pytest.mark.parametrize(
    "argv", [["gate", "check", "--model", "m"], ["gate"], ["db", "upgrade", "a", "b"], ["nope"]]
)
def test_usage_errors_never_look_like_pending(
    monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["driftguard", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == USAGE_ERROR


def test_the_gate_loads_neither_the_server_nor_the_database() -> None:
    code = (
        "import sys; from driftguard.cli import entry, gate; "
        "heavy = [m for m in ('sqlalchemy', 'fastapi', 'pyarrow', 'numpy', 'driftguard.cli.main') "
        "if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
