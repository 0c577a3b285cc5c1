"""The default policy's lifecycle rules: a tier-1 or EU high-risk version goes to production only
with an approved validation, no open critical finding and complete cards."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from driftguard.identity.permissions import Role
from support.lifecycle import make_deployable, member, validate, write_cards
from support.registry import create_model, create_version

from .conftest import Org, act, monitor, request

LIFECYCLE_RULES = ("independent_validation", "critical_findings", "model_card")


def _model(client: TestClient, org: Org, materiality: str, criticality: str) -> Org:
    """``org`` with a new model (and its version 1) of the given levels in its place."""
    model = create_model(
        client, org.engineer, org.team, materiality=materiality, criticality=criticality
    )
    create_version(client, org.engineer, model["id"])
    return dataclasses.replace(
        org, model_id=model["id"], url=f"/api/v1/models/{model['id']}/versions/1"
    )


def _lifecycle(client: TestClient, org: Org) -> dict[str, tuple[bool, bool]]:
    """The gate's verdict on each lifecycle rule for production: ``(applicable, passed)``."""
    name = client.get(f"/api/v1/models/{org.model_id}", headers=org.viewer).json()["name"]
    query = {"model": name, "version": 1, "environment": "production"}
    response = client.get("/api/v1/gate", params=query, headers=org.viewer)
    assert response.status_code == 200, response.text
    rules = {r["rule"]: r for r in response.json()["decision"]["rules"]}
    return {n: (rules[n]["applicable"], rules[n]["passed"]) for n in LIFECYCLE_RULES}


def _all(applicable: bool, passed: bool) -> dict[str, tuple[bool, bool]]:
    return dict.fromkeys(LIFECYCLE_RULES, (applicable, passed))


def test_tier_one_without_validation_or_card_is_blocked(client: TestClient, org: Org) -> None:
    tier_one = _model(client, org, "high", "high")
    assert _lifecycle(client, tier_one) == {
        "independent_validation": (True, False),
        "critical_findings": (True, True),
        "model_card": (True, False),
    }
    monitor(client, tier_one)  # every other rule of the default policy passes now
    blocked = request(client, tier_one)
    assert blocked["status"] == "blocked"
    failing = {r["rule"] for r in blocked["decision"]["rules"] if not r["passed"]}
    assert failing == {"independent_validation", "model_card"}


def test_tier_two_not_high_risk_is_unaffected(client: TestClient, org: Org) -> None:
    assert _lifecycle(client, org) == _all(applicable=False, passed=True)
    monitor(client, org)
    assert request(client, org)["status"] == "pending_approval"


def test_an_eu_high_risk_tier_three_version_is_blocked(
    client: TestClient, org: Org, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    tier_three = _model(client, org, "low", "low")
    assert _lifecycle(client, tier_three) == _all(applicable=False, passed=True)
    _, owner = member(client, session_factory, hasher, org.team, Role.ML_ENGINEER)
    write_cards(
        client,
        org.engineer,
        model_id=tier_three.model_id,
        version=1,
        owner_id=owner,
        ai_act_class="high",
    )
    assert _lifecycle(client, tier_three) == {
        "independent_validation": (True, False),
        "critical_findings": (True, True),
        "model_card": (True, True),
    }


def test_validated_tier_one_with_complete_cards_goes_ahead_with_four_eyes(
    client: TestClient, org: Org, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    tier_one = _model(client, org, "high", "medium")
    make_deployable(
        client,
        session_factory,
        hasher,
        org.engineer,
        team_id=org.team,
        model_id=tier_one.model_id,
    )
    assert _lifecycle(client, tier_one) == _all(applicable=True, passed=True)
    monitor(client, tier_one)
    pending = request(client, tier_one)
    assert pending["status"] == "pending_approval"
    for approver in org.approvers[:2]:
        assert act(client, approver, pending["id"], "approve").status_code == 200
    assert act(client, org.engineer, pending["id"], "deploy").status_code == 200


def test_approved_with_conditions_passes_and_rejected_blocks(
    client: TestClient, org: Org, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    tier_one = _model(client, org, "high", "high")
    validator, _ = member(client, session_factory, hasher, org.team, Role.VALIDATOR)
    where = {"model_id": tier_one.model_id, "version": 1}
    validate(client, validator, outcome="approved_with_conditions", **where)
    assert _lifecycle(client, tier_one)["independent_validation"] == (True, True)
    # A later rejection is the version's latest decided validation.
    validate(client, validator, outcome="rejected", **where)
    assert _lifecycle(client, tier_one)["independent_validation"] == (True, False)


def test_an_open_critical_finding_blocks_until_closed(
    client: TestClient, org: Org, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    tier_one = _model(client, org, "high", "high")
    validator, _ = member(client, session_factory, hasher, org.team, Role.VALIDATOR)
    owner_headers, owner = member(client, session_factory, hasher, org.team, Role.ML_ENGINEER)
    write_cards(client, org.engineer, model_id=tier_one.model_id, version=1, owner_id=owner)
    # Findings are raised while the validation is open; it is approved with them.
    validations = f"{tier_one.url}/validations"
    opened = client.post(
        validations, json={"scope": "outcomes", "method": "back-testing"}, headers=validator
    )
    assert opened.status_code == 201, opened.text
    findings = f"{validations}/{opened.json()['id']}/findings"
    due = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()

    def finding(severity: str) -> dict[str, Any]:
        body = {
            "title": f"{severity} gap",
            "severity": severity,
            "owner_id": owner,
            "due_date": due,
        }
        response = client.post(findings, json=body, headers=validator)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    finding("high")  # a high finding alone does not block
    critical = finding("critical")
    decided = client.post(
        f"{validations}/{opened.json()['id']}/outcome",
        json={"outcome": "approved"},
        headers=validator,
    )
    assert decided.status_code == 200, decided.text
    assert _lifecycle(client, tier_one) == {
        "independent_validation": (True, True),
        "critical_findings": (True, False),
        "model_card": (True, True),
    }
    url = f"{findings}/{critical['id']}"
    submitted = client.post(
        f"{url}/remediation", json={"note": "fixed the binning"}, headers=owner_headers
    )
    assert submitted.status_code == 200, submitted.text
    # Remediation submitted is not yet closed: the finding still counts.
    assert _lifecycle(client, tier_one)["critical_findings"] == (True, False)
    closed = client.post(f"{url}/close", json={"note": "verified"}, headers=validator)
    assert closed.status_code == 200, closed.text
    assert _lifecycle(client, tier_one) == _all(applicable=True, passed=True)


def test_an_incomplete_card_blocks(
    client: TestClient, org: Org, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> None:
    tier_one = _model(client, org, "high", "high")
    make_deployable(
        client,
        session_factory,
        hasher,
        org.engineer,
        team_id=org.team,
        model_id=tier_one.model_id,
    )
    assert _lifecycle(client, tier_one)["model_card"] == (True, True)
    card_url = f"/api/v1/models/{tier_one.model_id}/card"
    card = client.get(card_url, headers=org.viewer).json()
    keep = {
        k: card[k]
        for k in (
            "owner_id",
            "business_use",
            "intended_use",
            "data_sources",
            "out_of_scope_uses",
            "ai_act_class",
        )
    }
    blanked = client.put(card_url, json={**keep, "known_limitations": ""}, headers=org.engineer)
    assert blanked.status_code == 200, blanked.text
    assert blanked.json()["missing"] == ["known_limitations"]
    assert _lifecycle(client, tier_one)["model_card"] == (True, False)
