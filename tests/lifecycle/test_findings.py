"""Findings: their input, transitions, history, the overdue list, counts and concurrency."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.orm import AuditRecord
from driftguard.db.session import unit_of_work
from driftguard.errors import ConflictError
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.lifecycle import findings
from driftguard.lifecycle.orm import Finding, FindingEvent
from support.identity import auth_headers, make_user
from support.registry import create_model, create_version

from .validation_setup import Org, open_validation, org_fixture, raise_finding, settings_fixture  # noqa: F401 - fixtures

THREADS = 20


def today() -> Any:
    return datetime.now(UTC).date()


def post(client: TestClient, headers: dict[str, str], url: str, note: str = "") -> Any:
    return client.post(url, json={"note": note}, headers=headers)


def make_overdue(factory: sessionmaker[Session], finding_id: int, days: int = 3) -> None:
    """Time passes: the finding's due date is now behind us."""
    with unit_of_work(factory) as session:
        session.execute(
            update(Finding)
            .where(Finding.id == finding_id)
            .values(due_date=today() - timedelta(days=days))
        )


def test_a_finding_needs_a_team_member_as_owner_and_a_due_date_ahead(
    client: TestClient, org: Org
) -> None:
    validation = open_validation(client, org)
    url = f"{org.url}/{validation['id']}/findings"
    body = {
        "title": "Unstable PSI on income",
        "severity": "critical",
        "owner_id": org.owner_id,
        "due_date": today().isoformat(),
    }
    created = client.post(url, json=body, headers=org.validator)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "open"
    assert created.json()["overdue"] is False
    response = client.post(url, json={**body, "owner_id": org.outsider_id}, headers=org.validator)
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["details"]] == ["owner_id"]
    yesterday = (today() - timedelta(days=1)).isoformat()
    response = client.post(url, json={**body, "due_date": yesterday}, headers=org.validator)
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["details"]] == ["due_date"]
    response = client.post(url, json={**body, "priority": 1}, headers=org.validator)
    assert response.status_code == 422
    assert "priority" in response.text
    response = client.post(url, json={**body, "severity": "severe"}, headers=org.validator)
    assert response.status_code == 422
    # Only a validator raises findings (an engineer of the team holds no findings:write).
    assert client.post(url, json=body, headers=org.owner).status_code == 403
    assert client.get(url, headers=org.viewer).json()["total"] == 1


def test_findings_are_raised_while_the_validation_is_open(client: TestClient, org: Org) -> None:
    validation = open_validation(client, org)
    client.post(
        f"{org.url}/{validation['id']}/outcome", json={"outcome": "rejected"}, headers=org.validator
    )
    body = {
        "title": "Late",
        "severity": "low",
        "owner_id": org.owner_id,
        "due_date": today().isoformat(),
    }
    response = client.post(
        f"{org.url}/{validation['id']}/findings", json=body, headers=org.validator
    )
    assert response.status_code == 409
    assert "rejected" in response.json()["message"]


def test_remediation_close_and_reopen_follow_the_workflow_and_leave_history(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    validation = open_validation(client, org)
    finding = raise_finding(client, org, validation["id"])
    url = f"{org.url}/{validation['id']}/findings/{finding['id']}"
    # Closing needs a submitted remediation first: 409 naming both states.
    response = post(client, org.validator, f"{url}/close", "fine")
    assert response.status_code == 409
    assert "is open" in response.json()["message"]
    assert "closed" in response.json()["message"]
    assert post(client, org.validator, f"{url}/reopen", "why").status_code == 409
    # A remediation needs a note, and the owner or a remediator to submit it.
    response = post(client, org.owner, f"{url}/remediation", "  ")
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["details"]] == ["note"]
    assert post(client, org.viewer, f"{url}/remediation", "done").status_code == 403
    response = post(client, org.owner, f"{url}/remediation", "recalibrated on 2025 data")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "remediation_submitted"
    assert response.json()["remediation_note"] == "recalibrated on 2025 data"
    again = post(client, org.owner, f"{url}/remediation", "again")
    assert again.status_code == 409
    assert "remediation_submitted" in again.json()["message"]
    # Only a validator closes or rejects: the owner cannot close their own finding.
    assert post(client, org.owner, f"{url}/close", "").status_code == 403
    assert post(client, org.validator, f"{url}/reopen", "").status_code == 422
    response = post(client, org.validator, f"{url}/reopen", "the decile still drifts")
    assert response.status_code == 200
    assert response.json()["status"] == "open"
    post(client, org.engineer, f"{url}/remediation", "monotone constraint added")  # a remediator
    response = post(client, org.validator, f"{url}/close", "verified on holdout")
    assert response.status_code == 200, response.text
    closed = response.json()
    assert closed["status"] == "closed"
    assert closed["closed_at"] is not None
    response = post(client, org.validator, f"{url}/close")
    assert response.status_code == 409
    assert "is closed" in response.json()["message"]

    history = client.get(f"{url}/history", headers=org.viewer).json()
    steps = [(e["action"], e["from_status"], e["to_status"], e["note"]) for e in history["items"]]
    assert steps == [
        ("create", None, "open", ""),
        ("submit_remediation", "open", "remediation_submitted", "recalibrated on 2025 data"),
        ("reject_remediation", "remediation_submitted", "open", "the decile still drifts"),
        ("submit_remediation", "open", "remediation_submitted", "monotone constraint added"),
        ("close", "remediation_submitted", "closed", "verified on holdout"),
    ]
    assert history["items"][1]["actor_user_id"] == org.owner_id
    assert history["items"][-1]["actor_user_id"] == org.validator_id
    with unit_of_work(session_factory) as session:
        actions = session.scalars(
            select(AuditRecord.action)
            .where(
                AuditRecord.object_type == "finding", AuditRecord.object_id == str(finding["id"])
            )
            .order_by(AuditRecord.seq)
        ).all()
    assert actions == [
        "finding.create",
        "finding.submit_remediation",
        "finding.reject_remediation",
        "finding.submit_remediation",
        "finding.close",
    ]


def test_the_versions_author_cannot_close_its_findings(client: TestClient, org: Org) -> None:
    validation = open_validation(client, org)
    finding = raise_finding(client, org, validation["id"])
    url = f"{org.url}/{validation['id']}/findings/{finding['id']}"
    post(client, org.owner, f"{url}/remediation", "done")
    create_version(client, org.admin, org.model_id)
    # The admin requested a deployment of version 1: no exemption for findings either.
    request = {"model_id": org.model_id, "version": 1, "environment": "staging"}
    assert client.post("/api/v1/deployments", json=request, headers=org.admin).status_code == 201
    response = post(client, org.admin, f"{url}/close", "ok")
    assert response.status_code == 403
    assert "independence" in response.json()["message"]


def test_the_overdue_list_is_scoped_to_the_callers_teams(
    client: TestClient,
    org: Org,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    validation = open_validation(client, org)
    late = raise_finding(client, org, validation["id"], title="late", severity="critical")
    on_time = raise_finding(client, org, validation["id"], title="on time", severity="low")
    closed_late = raise_finding(client, org, validation["id"], title="closed")
    url = f"{org.url}/{validation['id']}/findings/{closed_late['id']}"
    post(client, org.owner, f"{url}/remediation", "done")
    post(client, org.validator, f"{url}/close", "ok")
    # Another team's overdue finding.
    stranger = auth_headers(
        client, make_user(session_factory, hasher, teams={org.other_team: Role.ML_ENGINEER})
    )
    theirs = create_model(client, stranger, org.other_team)
    create_version(client, stranger, theirs["id"])
    their_url = f"/api/v1/models/{theirs['id']}/versions/1/validations"
    their_validation = client.post(
        their_url, json={"scope": "s", "method": "m"}, headers=org.outsider
    ).json()
    body = {
        "title": "theirs",
        "severity": "high",
        "owner_id": org.outsider_id,
        "due_date": today().isoformat(),
    }
    their_finding = client.post(
        f"{their_url}/{their_validation['id']}/findings", json=body, headers=org.outsider
    )
    assert their_finding.status_code == 201, their_finding.text
    for finding_id in (late["id"], closed_late["id"], their_finding.json()["id"]):
        make_overdue(session_factory, finding_id)

    overdue = client.get(
        "/api/v1/findings", params={"status": "open", "overdue": "true"}, headers=org.viewer
    ).json()
    assert [f["id"] for f in overdue["items"]] == [late["id"]]
    assert overdue["items"][0]["overdue"] is True
    everything = client.get("/api/v1/findings", headers=org.viewer).json()
    assert {f["id"] for f in everything["items"]} == {late["id"], on_time["id"], closed_late["id"]}
    by_severity = client.get(
        "/api/v1/findings", params={"severity": ["low", "high"]}, headers=org.viewer
    ).json()
    # Earliest due first: the closed one was due days ago.
    assert [f["id"] for f in by_severity["items"]] == [closed_late["id"], on_time["id"]]
    page = client.get("/api/v1/findings", params={"limit": 1, "offset": 1}, headers=org.viewer)
    assert page.json()["total"] == 3
    assert len(page.json()["items"]) == 1
    mine = client.get(
        "/api/v1/findings", params={"overdue": "true", "model_id": theirs["id"]}, headers=org.viewer
    ).json()
    assert mine["items"] == []
    outsiders = client.get("/api/v1/findings", params={"overdue": "true"}, headers=org.outsider)
    assert [f["id"] for f in outsiders.json()["items"]] == [their_finding.json()["id"]]
    admin = client.get("/api/v1/findings", params={"overdue": "true"}, headers=org.admin).json()
    assert admin["total"] == 2
    # Another team's finding, addressed directly, is not found.
    url = f"{org.url}/{validation['id']}/findings/{late['id']}"
    assert client.get(url, headers=org.outsider).status_code == 404
    assert post(client, org.outsider, f"{url}/close", "x").status_code == 404
    response = client.get("/api/v1/findings", params={"status": "pending"}, headers=org.viewer)
    assert response.status_code == 422


def test_counts_by_version_count_open_findings_by_severity_and_the_overdue(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    validation = open_validation(client, org)
    critical = raise_finding(client, org, validation["id"], severity="critical")
    raise_finding(client, org, validation["id"], severity="critical")
    raise_finding(client, org, validation["id"], severity="high")
    submitted = raise_finding(client, org, validation["id"], severity="low")
    closed = raise_finding(client, org, validation["id"], severity="high")
    base = f"{org.url}/{validation['id']}/findings"
    post(client, org.owner, f"{base}/{submitted['id']}/remediation", "done")
    post(client, org.owner, f"{base}/{closed['id']}/remediation", "done")
    post(client, org.validator, f"{base}/{closed['id']}/close", "ok")
    make_overdue(session_factory, critical["id"])
    make_overdue(session_factory, submitted["id"])
    make_overdue(session_factory, closed["id"])
    create_version(client, org.engineer, org.model_id)
    with unit_of_work(session_factory) as session:
        version_ids = session.scalars(
            select(Finding.version_id).where(Finding.id == critical["id"])
        ).all()
        counts = findings.counts_by_version(session, [*version_ids, 987654])
        assert findings.counts_by_version(session, []) == {}
    assert counts == {
        version_ids[0]: findings.FindingCounts(
            open_low=1, open_medium=0, open_high=1, open_critical=2, overdue=2
        )
    }


def test_twenty_concurrent_closes_close_once(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    validation = open_validation(client, org)
    finding = raise_finding(client, org, validation["id"])
    url = f"{org.url}/{validation['id']}/findings/{finding['id']}"
    post(client, org.owner, f"{url}/remediation", "done")
    validator = Principal(user_id=org.validator_id, team_roles={org.team: Role.VALIDATOR})

    def close(session: Session) -> object:
        return findings.close(
            session,
            principal=validator,
            ref=findings.FindingRef(org.model_id, 1, validation["id"], finding["id"]),
            note="verified",
        )

    def attempt(call: Callable[[Session], object]) -> str:
        try:
            with unit_of_work(session_factory) as session:
                call(session)
            return "ok"
        except ConflictError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(attempt, [close] * THREADS))
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) <= {"ok", "invalid_transition", "concurrent_change"}
    with unit_of_work(session_factory) as session:
        closes = session.scalars(
            select(FindingEvent.id).where(
                FindingEvent.finding_id == finding["id"], FindingEvent.action == "close"
            )
        ).all()
        status = session.scalar(select(Finding.status).where(Finding.id == finding["id"]))
    assert len(closes) == 1
    assert status == "closed"
    # Through the API as well: once closed, every further close is 409.
    assert post(client, org.validator, f"{url}/close").status_code == 409


def test_a_validator_corrects_an_open_finding_and_the_change_is_history(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    validation = open_validation(client, org)
    finding = raise_finding(client, org, validation["id"], severity="medium")
    url = f"{org.url}/{validation['id']}/findings/{finding['id']}"
    later = (today() + timedelta(days=90)).isoformat()
    response = client.patch(
        url, json={"severity": "critical", "due_date": later}, headers=org.validator
    )
    assert response.status_code == 200, response.text
    assert (response.json()["severity"], response.json()["due_date"]) == ("critical", later)
    assert response.json()["revision"] == finding["revision"] + 1
    # The same checks as on creation, each naming its field; nothing is written.
    yesterday = (today() - timedelta(days=1)).isoformat()
    response = client.patch(
        url, json={"owner_id": org.outsider_id, "due_date": yesterday}, headers=org.validator
    )
    assert response.status_code == 422
    assert {d["loc"] for d in response.json()["details"]} == {"owner_id", "due_date"}
    assert client.patch(url, json={"severity": None}, headers=org.validator).status_code == 422
    assert client.patch(url, json={"status": "closed"}, headers=org.validator).status_code == 422
    assert client.patch(url, json={"title": "x"}, headers=org.owner).status_code == 403
    assert client.patch(url, json={"title": "x"}, headers=org.outsider).status_code == 404
    # A no-op changes nothing and records nothing.
    same = client.patch(url, json={"severity": "critical"}, headers=org.validator)
    assert same.json()["revision"] == finding["revision"] + 1
    history = client.get(f"{url}/history", headers=org.viewer).json()["items"]
    assert [(e["action"], e["note"]) for e in history] == [
        ("create", ""),
        ("update", f"severity: medium → critical; due_date: {finding['due_date']} → {later}"),
    ]
    post(client, org.owner, f"{url}/remediation", "done")
    post(client, org.validator, f"{url}/close", "ok")
    response = client.patch(url, json={"title": "late edit"}, headers=org.validator)
    assert response.status_code == 409
    assert "closed" in response.json()["message"]
    with unit_of_work(session_factory) as session:
        actions = session.scalars(
            select(AuditRecord.action).where(
                AuditRecord.object_type == "finding",
                AuditRecord.object_id == str(finding["id"]),
                AuditRecord.action == "finding.update",
            )
        ).all()
    assert actions == ["finding.update"]
