from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import Org, act, monitor, request


def rules(deployment: dict[str, object]) -> dict[str, dict[str, object]]:
    decision = deployment["decision"]
    assert isinstance(decision, dict)
    return {r["rule"]: r for r in decision["rules"]}


def test_without_evidence_production_is_blocked_with_reasons(client: TestClient, org: Org) -> None:
    blocked = request(client, org)
    assert blocked["status"] == "blocked"
    verdicts = rules(blocked)
    assert verdicts["reference_data"]["passed"] is False
    assert verdicts["reference_data"]["missing"] is True
    assert verdicts["feature_drift"] == {
        "rule": "feature_drift",
        "fact": "drift.psi",
        "subject": "",
        "observed": None,
        "operator": "<",
        "threshold": 0.25,
        "severity": "block",
        "passed": False,
        "missing": True,
        "message": "every feature's population stability index must stay below 0.25",
        "applicable": True,
    }
    # A tier-2 model without an EU high-risk card: the lifecycle rules do not apply to it.
    for name in ("independent_validation", "critical_findings", "model_card"):
        assert verdicts[name]["applicable"] is False
        assert verdicts[name]["passed"] is True
    assert blocked["decision"]["policy"]["name"] == "driftguard-default"
    assert len(blocked["decision"]["policy"]["content_hash"]) == 64
    # A blocked request is final: nothing can approve or deploy it.
    assert act(client, org.approvers[0], blocked["id"], "approve").status_code == 409
    assert act(client, org.engineer, blocked["id"], "deploy").status_code == 409


def test_four_eyes_approval_then_deploy_and_rollback(client: TestClient, org: Org) -> None:
    monitor(client, org)
    pending = request(client, org, reason="quarterly refresh")
    assert pending["status"] == "pending_approval", rules(pending)
    assert pending["decision"]["required_approvals"] == 2
    assert all(r["passed"] for r in pending["decision"]["rules"] if r["severity"] == "block")
    deployment_id = pending["id"]
    # The requester may never approve; viewers and other teams may not either.
    assert act(client, org.engineer, deployment_id, "approve").status_code == 403
    assert act(client, org.viewer, deployment_id, "approve").status_code == 403
    assert act(client, org.outsider, deployment_id, "approve").status_code == 404
    assert act(client, org.engineer, deployment_id, "deploy").status_code == 409  # not approved
    first = act(client, org.approvers[0], deployment_id, "approve", "looks fine")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "pending_approval"
    again = act(client, org.approvers[0], deployment_id, "approve")
    assert (again.status_code, again.json()["error"]) == (409, "already_reviewed")
    second = act(client, org.approvers[1], deployment_id, "approve")
    assert second.json()["status"] == "approved"
    assert [a["verdict"] for a in second.json()["approvals"]] == ["approve", "approve"]
    late = act(client, org.approvers[2], deployment_id, "approve")
    assert late.status_code == 409  # the request is closed to approvals
    deployed = act(client, org.engineer, deployment_id, "deploy")
    assert deployed.json()["status"] == "deployed", deployed.text
    version = client.get(org.url, headers=org.viewer).json()
    assert version["stage"] == "production"

    # Version 2 goes through the same path and supersedes version 1.
    response = client.post(
        f"/api/v1/models/{org.model_id}/versions",
        json={
            "task_type": "binary_classification",
            "target": "default",
            "features": [{"name": "income", "type": "numeric"}],
        },
        headers=org.engineer,
    )
    assert response.status_code == 201
    second_request = client.post(
        "/api/v1/deployments",
        json={"model_id": org.model_id, "version": 2, "environment": "staging"},
        headers=org.engineer,
    ).json()
    assert second_request["status"] == "blocked"  # version 2 has no reference data yet
    assert rules(second_request)["reference_data"]["passed"] is False

    history = client.get(f"/api/v1/deployments/{deployment_id}/history", headers=org.viewer)
    steps = [(e["action"], e["from_status"], e["to_status"]) for e in history.json()["items"]]
    assert steps == [
        ("request", None, "pending_approval"),
        ("approve", "pending_approval", "pending_approval"),
        ("approve", "pending_approval", "pending_approval"),
        ("quorum", "pending_approval", "approved"),
        ("deploy", "approved", "deployed"),
    ]


def test_rollback_restores_the_deployment_it_replaced(client: TestClient, org: Org) -> None:
    monitor(client, org)
    first = request(client, org, "staging")
    assert first["status"] == "approved"  # staging needs no approval under the default policy
    assert act(client, org.engineer, first["id"], "deploy").json()["status"] == "deployed"
    second = request(client, org, "staging")
    replaced = act(client, org.engineer, second["id"], "deploy").json()
    assert (replaced["status"], replaced["previous_id"]) == ("deployed", first["id"])
    previous = client.get(f"/api/v1/deployments/{first['id']}", headers=org.viewer).json()
    assert previous["status"] == "superseded"
    rolled = act(client, org.engineer, second["id"], "rollback", "latency regression")
    assert rolled.json()["status"] == "rolled_back", rolled.text
    restored = client.get(f"/api/v1/deployments/{first['id']}", headers=org.viewer).json()
    assert restored["status"] == "deployed"
    assert (
        act(client, org.engineer, first["id"], "rollback").json()["error"] == "nothing_to_roll_back"
    )


def test_reject_cancel_and_closed_requests(client: TestClient, org: Org) -> None:
    monitor(client, org)
    pending = request(client, org)
    no_reason = act(client, org.approvers[0], pending["id"], "reject")
    assert no_reason.status_code == 422
    assert no_reason.json()["details"][0]["loc"] == "comment"
    rejected = act(client, org.approvers[0], pending["id"], "reject", "no validation report")
    assert rejected.json()["status"] == "rejected"
    assert act(client, org.approvers[1], pending["id"], "approve").status_code == 409
    again = request(client, org)  # a rejected request does not keep the slot
    duplicate = client.post(
        "/api/v1/deployments",
        json={"model_id": org.model_id, "version": 1, "environment": "production"},
        headers=org.engineer,
    )
    assert (duplicate.status_code, duplicate.json()["error"]) == (409, "deployment_open")
    assert act(client, org.viewer, again["id"], "cancel").status_code == 403
    assert (
        act(client, org.engineer, again["id"], "cancel", "wrong build").json()["status"]
        == "cancelled"
    )
    assert act(client, org.engineer, again["id"], "cancel").status_code == 409


def test_bad_requests_change_nothing(client: TestClient, org: Org) -> None:
    def post(body: dict[str, object], headers: dict[str, str] | None = None) -> tuple[int, str]:
        r = client.post("/api/v1/deployments", json=body, headers=headers or org.engineer)
        return r.status_code, r.json().get("error", "")

    base = {"model_id": org.model_id, "version": 1, "environment": "production"}
    assert post({**base, "environment": "moon"})[0] == 422
    assert post({**base, "version": 9}) == (404, "not_found")
    assert post({**base, "model_id": 999_999}) == (404, "not_found")
    assert post(base, org.stranger) == (404, "not_found")
    assert post(base, org.outsider) == (403, "forbidden")  # approvers do not request
    assert post(base, org.viewer)[0] == 403
    assert post({**base, "extra": 1})[0] == 422
    assert client.post(f"{org.url}/archive", headers=org.engineer).status_code == 200
    assert post(base) == (409, "archived")
    listed = client.get("/api/v1/deployments", headers=org.admin).json()
    assert listed["total"] == 0


def test_approval_re_evaluates_when_the_facts_changed(client: TestClient, org: Org) -> None:
    monitor(client, org)
    pending = request(client, org)
    assert act(client, org.approvers[0], pending["id"], "approve").status_code == 200
    monitor(client, org, drifted=True, day=1)  # new drift since the decision
    refused = act(client, org.approvers[1], pending["id"], "approve")
    assert (refused.status_code, refused.json()["error"]) == (409, "deployment_blocked")
    assert "feature_drift" in refused.json()["message"]
    now = client.get(f"/api/v1/deployments/{pending['id']}", headers=org.viewer).json()
    assert now["status"] == "blocked"
    assert rules(now)["feature_drift"]["observed"] > 0.25
    history = client.get(f"/api/v1/deployments/{pending['id']}/history", headers=org.viewer)
    actions = [e["action"] for e in history.json()["items"]]
    assert actions == ["request", "approve", "reevaluate", "block"]


def test_the_approval_queue_and_visibility(client: TestClient, org: Org) -> None:
    monitor(client, org)
    pending = request(client, org)
    queue = client.get("/api/v1/deployments?status=pending_approval", headers=org.approvers[0])
    assert [d["id"] for d in queue.json()["items"]] == [pending["id"]]
    assert client.get("/api/v1/deployments", headers=org.outsider).json()["total"] == 0
    assert (
        client.get(f"/api/v1/deployments/{pending['id']}", headers=org.outsider).status_code == 404
    )
