"""Independent validation: evidence, outcome, independence, team isolation."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.orm import AuditRecord
from driftguard.db.session import unit_of_work
from driftguard.errors import ConflictError, ForbiddenError
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.lifecycle import validations
from driftguard.lifecycle.schemas_validation import ValidationCreate, ValidationOutcome
from driftguard.registry.orm import ModelVersion
from support.registry import create_version

from .validation_setup import Org, add_report, open_validation, org_fixture, settings_fixture  # noqa: F401 - fixtures


def test_a_validator_opens_a_validation_citing_reports_of_the_version(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    report = add_report(session_factory, org.model_id, 1)
    created = open_validation(client, org, report_ids=[report])
    assert created["status"] == "open"
    assert created["opened_by_id"] == org.validator_id
    assert [(r["report_id"], r["kind"], r["available"]) for r in created["reports"]] == [
        (report, "drift", True)
    ]
    listed = client.get(org.url, headers=org.viewer).json()
    assert [v["id"] for v in listed["items"]] == [created["id"]]
    read = client.get(f"{org.url}/{created['id']}", headers=org.viewer).json()
    assert read == created
    with unit_of_work(session_factory) as session:
        actions = session.scalars(
            select(AuditRecord.action).where(
                AuditRecord.object_type == "validation",
                AuditRecord.object_id == str(created["id"]),
            )
        ).all()
    assert actions == ["validation.open"]


def test_a_report_of_another_version_or_none_at_all_is_422(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    create_version(client, org.engineer, org.model_id)
    elsewhere = add_report(session_factory, org.model_id, 2)
    body = {"scope": "s", "method": "m", "report_ids": [elsewhere, 987654]}
    response = client.post(org.url, json=body, headers=org.validator)
    assert response.status_code == 422, response.text
    assert {d["loc"] for d in response.json()["details"]} == {"report_ids.0", "report_ids.1"}
    assert client.get(org.url, headers=org.validator).json()["total"] == 0  # nothing written


def test_unknown_fields_are_422_naming_them(client: TestClient, org: Org) -> None:
    response = client.post(
        org.url, json={"scope": "s", "method": "m", "verdict": "ok"}, headers=org.validator
    )
    assert response.status_code == 422
    assert "verdict" in response.text
    created = open_validation(client, org)
    response = client.post(
        f"{org.url}/{created['id']}/outcome",
        json={"outcome": "approved", "signed": True},
        headers=org.validator,
    )
    assert response.status_code == 422
    assert "signed" in response.text


def test_the_versions_author_cannot_validate_it_not_even_an_admin(
    client: TestClient, org: Org
) -> None:
    create_version(client, org.admin, org.model_id)  # version 2, written by the admin
    url = f"/api/v1/models/{org.model_id}/versions/2/validations"
    response = client.post(url, json={"scope": "s", "method": "m"}, headers=org.admin)
    assert response.status_code == 403, response.text
    assert "independence" in response.json()["message"]
    assert "created this version" in response.json()["message"]
    # Another validator opens it; the author still cannot record the outcome.
    opened = client.post(url, json={"scope": "s", "method": "m"}, headers=org.validator)
    assert opened.status_code == 201, opened.text
    response = client.post(
        f"{url}/{opened.json()['id']}/outcome", json={"outcome": "approved"}, headers=org.admin
    )
    assert response.status_code == 403
    assert "created this version" in response.json()["message"]
    assert client.get(f"{url}/{opened.json()['id']}", headers=org.admin).json()["status"] == "open"


def test_whoever_requested_a_deployment_of_the_version_cannot_validate_it(
    client: TestClient, org: Org
) -> None:
    opened = open_validation(client, org)
    request = {"model_id": org.model_id, "version": 1, "environment": "staging"}
    response = client.post("/api/v1/deployments", json=request, headers=org.admin)
    assert response.status_code == 201, response.text
    response = client.post(org.url, json={"scope": "s", "method": "m"}, headers=org.admin)
    assert response.status_code == 403
    assert "independence" in response.json()["message"]
    assert "requested a deployment of this version" in response.json()["message"]
    response = client.post(
        f"{org.url}/{opened['id']}/outcome", json={"outcome": "rejected"}, headers=org.admin
    )
    assert response.status_code == 403
    assert "requested a deployment" in response.json()["message"]


def test_an_outcome_is_final_and_a_second_one_is_409_naming_both_states(
    client: TestClient, org: Org
) -> None:
    opened = open_validation(client, org)
    outcome = f"{org.url}/{opened['id']}/outcome"
    response = client.post(outcome, json={"outcome": "approved"}, headers=org.viewer)
    assert response.status_code == 403  # a viewer holds no validations:write
    response = client.post(
        outcome, json={"outcome": "approved_with_conditions"}, headers=org.validator
    )
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["details"]] == ["conditions"]
    response = client.post(
        outcome,
        json={"outcome": "approved_with_conditions", "conditions": "monitor calibration monthly"},
        headers=org.validator,
    )
    assert response.status_code == 200, response.text
    decided = response.json()
    assert decided["status"] == "approved_with_conditions"
    assert decided["conditions"] == "monitor calibration monthly"
    assert decided["decided_by_id"] == org.validator_id
    assert decided["decided_at"] is not None
    response = client.post(outcome, json={"outcome": "rejected"}, headers=org.validator)
    assert response.status_code == 409
    message = response.json()["message"]
    assert "approved_with_conditions" in message
    assert "rejected" in message
    response = client.post(outcome, json={"outcome": "maybe"}, headers=org.validator)
    assert response.status_code == 422


def test_another_teams_validations_are_not_found(client: TestClient, org: Org) -> None:
    opened = open_validation(client, org)
    assert client.get(org.url, headers=org.outsider).status_code == 404
    assert client.get(f"{org.url}/{opened['id']}", headers=org.outsider).status_code == 404
    response = client.post(org.url, json={"scope": "s", "method": "m"}, headers=org.outsider)
    assert response.status_code == 404
    response = client.post(
        f"{org.url}/{opened['id']}/outcome", json={"outcome": "approved"}, headers=org.outsider
    )
    assert response.status_code == 404
    # A validation id under the wrong version is not found either.
    response = client.get(
        f"/api/v1/models/{org.model_id}/versions/2/validations/{opened['id']}",
        headers=org.validator,
    )
    assert response.status_code == 404


def test_documents_are_stored_whole_with_their_sha256(client: TestClient, org: Org) -> None:
    opened = open_validation(client, org)
    documents = f"{org.url}/{opened['id']}/documents"
    text = b"Back-test of the 2025 vintage: Gini 0.61, stable.\n"
    response = client.post(
        documents,
        params={"filename": "backtest.txt"},
        content=text,
        headers={**org.validator, "Content-Type": "text/plain"},
    )
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["sha256"] == hashlib.sha256(text).hexdigest()
    assert (stored["filename"], stored["content_type"], stored["size"]) == (
        "backtest.txt",
        "text/plain",
        len(text),
    )
    pdf = b"%PDF-1.4 minimal"
    response = client.post(
        documents,
        files={"file": ("report.pdf", pdf, "application/pdf")},
        headers=org.validator,
    )
    assert response.status_code == 201, response.text
    read = client.get(f"{org.url}/{opened['id']}", headers=org.viewer).json()
    assert [d["filename"] for d in read["documents"]] == ["backtest.txt", "report.pdf"]
    download = client.get(f"{documents}/{stored['id']}", headers=org.viewer)
    assert download.status_code == 200
    assert download.content == text
    assert download.headers["x-content-sha256"] == stored["sha256"]
    assert client.get(f"{documents}/{stored['id']}", headers=org.outsider).status_code == 404


def test_documents_of_a_bad_type_too_large_or_late_are_refused(
    client: TestClient, org: Org
) -> None:
    opened = open_validation(client, org)
    documents = f"{org.url}/{opened['id']}/documents"
    headers = {**org.validator, "Content-Type": "application/x-msdownload"}
    response = client.post(documents, params={"filename": "a.exe"}, content=b"MZ", headers=headers)
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["details"]] == ["content_type"]
    headers = {**org.validator, "Content-Type": "text/plain"}
    response = client.post(documents, content=b"no name", headers=headers)
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["details"]] == ["filename"]
    big = b"x" * (validations.MAX_DOCUMENT_BYTES + 1)
    response = client.post(documents, params={"filename": "big.txt"}, content=big, headers=headers)
    assert response.status_code == 413
    client.post(
        f"{org.url}/{opened['id']}/outcome", json={"outcome": "rejected"}, headers=org.validator
    )
    response = client.post(
        documents, params={"filename": "late.txt"}, content=b"x", headers=headers
    )
    assert response.status_code == 409
    read = client.get(f"{org.url}/{opened['id']}", headers=org.viewer).json()
    assert read["documents"] == []


def test_status_by_version_is_the_latest_validation_of_each(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    create_version(client, org.engineer, org.model_id)
    first = open_validation(client, org)
    client.post(
        f"{org.url}/{first['id']}/outcome", json={"outcome": "rejected"}, headers=org.validator
    )
    open_validation(client, org)
    v2 = f"/api/v1/models/{org.model_id}/versions/2/validations"
    opened = client.post(v2, json={"scope": "s", "method": "m"}, headers=org.validator).json()
    client.post(f"{v2}/{opened['id']}/outcome", json={"outcome": "approved"}, headers=org.validator)
    create_version(client, org.engineer, org.model_id)  # version 3: never validated
    with unit_of_work(session_factory) as session:
        ids = dict(
            session.execute(
                select(ModelVersion.number, ModelVersion.id).where(
                    ModelVersion.model_id == org.model_id
                )
            ).all()
        )
        statuses = validations.status_by_version(session, list(ids.values()))
        assert validations.status_by_version(session, []) == {}
    assert statuses == {ids[1]: "open", ids[2]: "approved"}


def test_api_keys_cannot_validate(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    key = Principal(user_id=None, team_roles={org.team: Role.VALIDATOR}, api_key_id=1)
    refused = pytest.raises(ForbiddenError, match=r"independence: .*API keys cannot validate")
    with refused, unit_of_work(session_factory) as session:
        validations.open_validation(
            session,
            principal=key,
            model_id=org.model_id,
            number=1,
            data=ValidationCreate(scope="s", method="m"),
        )
    assert client.get(org.url, headers=org.validator).json()["total"] == 0


def test_twenty_concurrent_outcomes_take_effect_once(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    opened = open_validation(client, org)
    validator = Principal(user_id=org.validator_id, team_roles={org.team: Role.VALIDATOR})
    verdicts = ["approved", "rejected"] * 10

    def attempt(outcome: str) -> str:
        try:
            with unit_of_work(session_factory) as session:
                validations.record_outcome(
                    session,
                    principal=validator,
                    model_id=org.model_id,
                    number=1,
                    validation_id=opened["id"],
                    data=ValidationOutcome.model_validate({"outcome": outcome}),
                )
            return outcome
        except ConflictError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=len(verdicts)) as pool:
        outcomes = list(pool.map(attempt, verdicts))
    winners = [o for o in outcomes if o in ("approved", "rejected")]
    assert len(winners) == 1, outcomes
    assert set(outcomes) - set(winners) <= {"invalid_transition", "concurrent_change"}
    final = client.get(f"{org.url}/{opened['id']}", headers=org.viewer).json()
    assert final["status"] == winners[0]
    assert final["revision"] == opened["revision"] + 1
