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
        pending["id"],
        0,
        2,
    )
    assert section["deployments_last_30_days"] == [
        {"environment": "production", "status": "pending_approval", "deployments": 1}
    ]
    # An approval is a write the cached dashboard must not hide.
    assert act(client, org.approvers[0], pending["id"], "approve").status_code == 200
    assert governance(client, org.viewer)["oldest_pending"][0]["approvals"] == 1
    for_stranger = governance(client, org.stranger)
    assert (for_stranger["pending_approvals"], for_stranger["riskiest"]) == (0, [])


def test_riskiest_bands_and_trend_follow_the_last_stored_score(
    client: TestClient, org: Org
) -> None:
    monitor(client, org)  # the run stores a first score
    scores = [client.post(f"{org.url}/risk", headers=org.engineer).json() for _ in range(2)]
    section = governance(client, org.viewer)
    (riskiest,) = section["riskiest"]
    assert riskiest["score"] == scores[-1]["score"]
    top = max(scores[-1]["components"], key=lambda c: c["contribution"])["name"]
    assert riskiest["main_driver"] == top
    assert sum(section["models_by_band"].values()) == 1
    assert section["models_by_band"][scores[-1]["band"]] == 1
    (today,) = section["risk_trend"]
    assert today["scores"] == 3  # every stored score counts in its day, not only the current
    archiving = client.post(f"/api/v1/models/{org.model_id}/archive", headers=org.engineer)
    assert archiving.status_code == 200, archiving.text
    archived = governance(client, org.viewer)
    assert (archived["riskiest"], sum(archived["models_by_band"].values())) == ([], 0)
