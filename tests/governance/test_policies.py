from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.orm import AuditRecord
from driftguard.db.session import unit_of_work
from driftguard.governance.orm import PolicyActivation
from driftguard.rules import DEFAULT_POLICY_YAML

from .conftest import Org, monitor, request

STRICT = """
description: production needs three approvals and tier-1 models a low MRI
priority: 10
scope: {environments: [production]}
rules:
  - {name: risk_index, fact: mri.score, operator: "<", threshold: 30, severity: block}
approvals:
  - {required: 3, roles: [approver]}
"""


def create(client: TestClient, org: Org, source: str, name: str = "strict") -> dict[str, Any]:
    response = client.post(
        "/api/v1/policies", json={"name": name, "source": source}, headers=org.admin
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_policy_versions_are_immutable_hashed_and_activation_is_recorded(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    first = create(client, org, STRICT)
    assert (first["number"], first["is_active"], len(first["content_hash"])) == (1, False, 64)
    assert first["source"] == STRICT
    policy_url = f"/api/v1/policies/{first['policy_id']}"
    same = client.post(f"{policy_url}/versions", json={"source": STRICT}, headers=org.admin)
    assert (same.status_code, same.json()["error"]) == (409, "same_content")
    second = client.post(
        f"{policy_url}/versions", json={"source": STRICT.replace("30", "40")}, headers=org.admin
    ).json()
    assert second["number"] == 2
    assert client.put(f"{policy_url}/versions/1", json={}, headers=org.admin).status_code == 405
    activated = client.post(f"{policy_url}/versions/1/activate", headers=org.admin)
    assert activated.json()["is_active"] is True
    switched = client.post(f"{policy_url}/versions/2/activate", headers=org.admin).json()
    assert switched["is_active"] is True
    assert client.get(f"{policy_url}/versions/1", headers=org.viewer).json()["is_active"] is False
    assert client.get(policy_url, headers=org.viewer).json()["active_version"] == 2
    withdrawn = client.post(f"{policy_url}/deactivate", headers=org.admin).json()
    assert withdrawn["active_version"] is None
    with unit_of_work(session_factory) as session:
        activations = session.scalars(
            select(PolicyActivation.version_id).order_by(PolicyActivation.id)
        ).all()
        audited = session.scalars(
            select(AuditRecord.action).where(AuditRecord.action.like("policy.%"))
        ).all()
    assert activations == [first["id"], second["id"], None]
    assert sorted(audited) == sorted(
        [
            "policy.create",
            "policy.version.create",
            "policy.version.create",
            "policy.activate",
            "policy.activate",
            "policy.deactivate",
        ]
    )


def test_only_admins_write_policies_and_everyone_reads_them(client: TestClient, org: Org) -> None:
    body = {"name": "p", "source": STRICT}
    for headers in (org.engineer, org.approvers[0], org.viewer):
        assert client.post("/api/v1/policies", json=body, headers=headers).status_code == 403
    created = create(client, org, STRICT)
    assert client.get("/api/v1/policies", headers=org.viewer).json()["total"] == 1
    url = f"/api/v1/policies/{created['policy_id']}/versions/1/activate"
    assert client.post(url, headers=org.approvers[0]).status_code == 403


def test_validation_points_at_the_offending_path_and_writes_nothing(
    client: TestClient, org: Org
) -> None:
    bad = STRICT.replace('operator: "<"', 'operator: "=<"').replace("[production]", "[prod]")
    response = client.post("/api/v1/policies/validate", json={"source": bad}, headers=org.viewer)
    assert response.status_code == 422
    locs = {d["loc"] for d in response.json()["details"]}
    assert locs == {"source.rules.0.operator"}
    unknown_env = client.post(
        "/api/v1/policies/validate",
        json={"source": STRICT.replace("[production]", "[prod]")},
        headers=org.viewer,
    )
    assert [d["loc"] for d in unknown_env.json()["details"]] == ["source.scope.environments.0"]
    assert "known: production, staging" in unknown_env.json()["details"][0]["msg"]
    created = client.post("/api/v1/policies", json={"name": "x", "source": bad}, headers=org.admin)
    assert created.status_code == 422
    assert client.get("/api/v1/policies", headers=org.admin).json()["total"] == 0
    ok = client.post("/api/v1/policies/validate", json={"source": STRICT}, headers=org.viewer)
    assert (ok.status_code, ok.json()["valid"]) == (200, True)


def test_the_default_and_the_schema_are_published(client: TestClient, org: Org) -> None:
    default = client.get("/api/v1/policies/default", headers=org.viewer).json()
    assert (default["name"], default["source"]) == ("driftguard-default", DEFAULT_POLICY_YAML)
    schema = client.get("/api/v1/policies/schema", headers=org.viewer).json()
    assert "drift.psi" in schema["x-facts"]
    assert "mri.score" in schema["$defs"]["Rule"]["properties"]["fact"]["enum"]


def test_the_active_policy_with_the_highest_priority_decides(client: TestClient, org: Org) -> None:
    monitor(client, org)
    created = create(client, org, STRICT)
    url = f"/api/v1/policies/{created['policy_id']}/versions/1/activate"
    assert client.post(url, headers=org.admin).status_code == 200
    decided = request(client, org)
    policy = decided["decision"]["policy"]
    assert (policy["name"], policy["version"]) == ("strict", 1)
    assert policy["content_hash"] == created["content_hash"]
    assert [r["rule"] for r in decided["decision"]["rules"]] == ["risk_index"]
    risk_index = decided["decision"]["rules"][0]
    assert risk_index["observed"] == decided["decision"]["mri"]
    expected = "pending_approval" if risk_index["observed"] < 30 else "blocked"
    assert decided["status"] == expected
    assert decided["decision"]["required_approvals"] == 3
    # Staging is outside the strict policy's scope: the default applies there.
    staging = request(client, org, "staging")
    assert staging["decision"]["policy"]["name"] == "driftguard-default"
    # A team scope that excludes the model's team does not apply.
    other = create(
        client,
        org,
        STRICT.replace("{environments: [production]}", "{teams: [999]}").replace(
            "priority: 10", "priority: 20"
        ),
        "elsewhere",
    )
    client.post(f"/api/v1/policies/{other['policy_id']}/versions/1/activate", headers=org.admin)
    client.post(f"/api/v1/deployments/{decided['id']}/cancel", json={}, headers=org.engineer)
    again = request(client, org)
    assert again["decision"]["policy"]["name"] == "strict"


def test_monitoring_thresholds_come_from_the_policy_in_force(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    lenient = DEFAULT_POLICY_YAML.replace("priority: 0", "priority: 5").replace(
        "      threshold: 0.25\n      severity: warning",
        "      threshold: 5.0\n      severity: warning",
    )
    created = create(client, org, lenient, "lenient")
    client.post(f"/api/v1/policies/{created['policy_id']}/versions/1/activate", headers=org.admin)
    monitor(client, org, drifted=True)
    alerts = client.get("/api/v1/alerts", headers=org.viewer).json()["items"]
    assert "psi" not in {a["rule"] for a in alerts}  # PSI 5.0 is never reached
    assert "distribution_test" in {a["rule"] for a in alerts}
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(PolicyActivation)) == 1


def test_precondition_problems_are_422_naming_their_paths_and_write_nothing(
    client: TestClient, org: Org
) -> None:
    guarded = STRICT.replace(
        "severity: block}",
        "severity: block, applies_if: [{fact: model.teir, operator: '==', threshold: 1},"
        " {fact: model.eu_high_risk, operator: '=<', threshold: 1}]}",
    )
    for path, body in (
        ("/api/v1/policies/validate", {"source": guarded}),
        ("/api/v1/policies", {"name": "g", "source": guarded}),
    ):
        response = client.post(path, json=body, headers=org.admin)
        assert response.status_code == 422, response.text
        details = {d["loc"]: d["msg"] for d in response.json()["details"]}
        assert set(details) == {
            "source.rules.0.applies_if.0.fact",
            "source.rules.0.applies_if.1.operator",
        }
        assert "unknown fact 'model.teir'" in details["source.rules.0.applies_if.0.fact"]
    assert client.get("/api/v1/policies", headers=org.admin).json()["total"] == 0
    fixed = guarded.replace("model.teir", "model.tier").replace("'=<'", "'=='")
    assert create(client, org, fixed)["document"]["rules"][0]["applies_if"] == [
        {"fact": "model.tier", "operator": "==", "threshold": 1},
        {"fact": "model.eu_high_risk", "operator": "==", "threshold": 1},
    ]


def test_the_schema_gives_the_codes_of_lifecycle_facts(client: TestClient, org: Org) -> None:
    facts = client.get("/api/v1/policies/schema", headers=org.viewer).json()["x-facts"]
    assert facts["validation.status"]["codes"] == {
        "approved": 2,
        "approved_with_conditions": 1,
        "rejected": 0,
    }
    assert facts["model.lifecycle"]["codes"]["retired"] == 4
    assert "2 approved" in facts["validation.status"]["description"]
    assert "codes" not in facts["model.eu_high_risk"]
    default = client.get("/api/v1/policies/default", headers=org.viewer).json()
    guarded = [r for r in default["document"]["rules"] if "applies_if" in r]
    assert [r["name"] for r in guarded] == [
        "independent_validation",
        "critical_findings",
        "model_card",
    ]
