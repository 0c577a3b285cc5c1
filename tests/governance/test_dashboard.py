"""The executive dashboard's governance sections follow requests and approvals."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from .conftest import Org, act, monitor, request


def governance(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/api/v1/dashboard/executive", headers=headers)
    assert response.status_code == 200, response.text
    section: dict[str, Any] = response.json()["governance"]
    return section


def test_the_approval_queue_and_deployments_reach_the_dashboard(
    client: TestClient, org: Org
) -> None:
    monitor(client, org)
    pending = request(client, org)
    section = governance(client, org.viewer)
    assert section["pending_approvals"] == 1
    (oldest,) = section["oldest_pending"]
    assert (oldest["deployment_id"], oldest["approvals"], oldest["required_approvals"]) == (
        pending["id"], 0, 2,
    )  # fmt: skip
    assert section["deployments_last_30_days"] == [
        {"environment": "production", "status": "pending_approval", "deployments": 1}
    ]
    # An approval is a write the cached dashboard must not hide.
    assert act(client, org.approvers[0], pending["id"], "approve").status_code == 200
    assert governance(client, org.viewer)["oldest_pending"][0]["approvals"] == 1
    for_stranger = governance(client, org.stranger)
    assert (for_stranger["pending_approvals"], for_stranger["riskiest"]) == (0, [])
