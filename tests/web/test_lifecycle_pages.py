"""The model-risk lifecycle in the web UI: the risk record on the model page, the findings and
reviews page, and the suspend form on a deployment's page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.governance.orm import Deployment
from driftguard.identity.permissions import Role
from driftguard.lifecycle.orm import Finding
from driftguard.settings import Settings
from support.config import make_settings
from support.identity import auth_headers, make_user
from support.registry import create_version
from support.reviews import go_live, user_id
from support.web import Portfolio, web_sign_in

Headers = dict[str, str]
EXTERNAL = re.compile(r"""(?:src|href)=["'](?:https?:)?//""")


@dataclass
class Record:
    validator: str
    approver: str
    deployment_id: int
    overdue_finding: int
    hidden_finding: str


def _finding(
    client: TestClient, headers: Headers, url: str, validation_id: int, owner_id: int, title: str
) -> int:
    body = {
        "title": title,
        "severity": "high",
        "owner_id": owner_id,
        "due_date": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
    }
    response = client.post(f"{url}/{validation_id}/findings", json=body, headers=headers)
    assert response.status_code == 201, response.text
    found: int = response.json()["id"]
    return found


def _validation(client: TestClient, headers: Headers, url: str) -> int:
    body = {"scope": "conceptual soundness", "method": "back-testing"}
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    opened: int = response.json()["id"]
    return opened


@pytest.fixture(name="settings")
def settings_fixture(engine: Engine) -> Settings:
    # More people sign in than the default login limit lets one address per minute.
    return make_settings(
        engine.url.render_as_string(hide_password=False), rate_limit_login="200/minute"
    )


@pytest.fixture
def record(
    client: TestClient,
    portfolio: Portfolio,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> Record:
    """Version 2 of the portfolio's model with a card, a validation with an overdue and an
    on-time finding, a late serious incident, and a production deployment live for four years
    (so its periodic review is overdue); a finding in the other team."""
    factory, team = session_factory, portfolio.team
    engineer = portfolio.engineer_headers
    engineer_id = user_id(factory, portfolio.engineer)
    model = portfolio.model_id
    card = {
        "owner_id": engineer_id,
        "business_use": "Retail credit decisions",
        "intended_use": "Scoring applicants for unsecured loans",
        "lifecycle_status": "validation",
        "ai_act_class": "high",
        "annex_iii_area": "essential_services",
    }
    response = client.put(f"/api/v1/models/{model}/card", json=card, headers=engineer)
    assert response.status_code == 200, response.text
    response = client.put(
        f"/api/v1/models/{model}/versions/2/card",
        json={"changes": "Income feature rescaled"},
        headers=engineer,
    )
    assert response.status_code == 200, response.text
    validator = make_user(factory, hasher, teams={team: Role.VALIDATOR})
    approver = make_user(factory, hasher, teams={team: Role.APPROVER})
    checks = auth_headers(client, validator)
    url = f"/api/v1/models/{model}/versions/2/validations"
    opened = _validation(client, checks, url)
    late = _finding(
        client, checks, url, opened, engineer_id, "Calibration drifts in the top decile"
    )
    _finding(client, checks, url, opened, engineer_id, "Reject inference undocumented")
    with unit_of_work(factory) as session:  # created in time, then the time passed
        session.execute(
            update(Finding)
            .where(Finding.id == late)
            .values(due_date=datetime.now(UTC).date() - timedelta(days=3))
        )
    aware = datetime.now(UTC) - timedelta(days=20)
    incident = {
        "model_id": model,
        "version": 2,
        "title": "Limits doubled for one branch",
        "severity": "high",
        "serious": True,
        "category": "other_serious",
        "occurred_at": (aware - timedelta(hours=2)).isoformat(),
        "became_aware_at": aware.isoformat(),
    }
    response = client.post("/api/v1/incidents", json=incident, headers=engineer)
    assert response.status_code == 201, response.text
    # Live in staging through the workflow (the default policy asks no approval there)...
    body = {"model_id": model, "version": 2, "environment": "staging"}
    requested = client.post("/api/v1/deployments", json=body, headers=engineer)
    assert requested.status_code == 201, requested.text
    staged = requested.json()
    assert staged["status"] == "approved", staged
    deployed = client.post(f"/api/v1/deployments/{staged['id']}/deploy", headers=engineer)
    assert deployed.json()["status"] == "deployed", deployed.text
    # ...and in production for four years, written directly with the same decision: the
    # review clock runs from the first production deployment.
    live = go_live(
        factory,
        team_id=team,
        model_id=model,
        version_id=staged["version_id"],
        at=datetime.now(UTC) - timedelta(days=4 * 366),
    )
    with unit_of_work(factory) as session:
        session.execute(
            update(Deployment).where(Deployment.id == live).values(decision=staged["decision"])
        )
    # The other team: a version, a validator and a finding nobody of the first team may see.
    outsider = auth_headers(client, portfolio.outsider)
    create_version(client, outsider, portfolio.other_model_id)
    foreign = auth_headers(
        client, make_user(factory, hasher, teams={portfolio.other_team: Role.VALIDATOR})
    )
    other_url = f"/api/v1/models/{portfolio.other_model_id}/versions/1/validations"
    other_validation = _validation(client, foreign, other_url)
    _finding(
        client,
        foreign,
        other_url,
        other_validation,
        user_id(factory, portfolio.outsider),
        "Hidden finding of the other team",
    )
    return Record(validator, approver, staged["id"], late, "Hidden finding of the other team")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_model_page_shows_the_versions_risk_record(
    client: TestClient, portfolio: Portfolio, record: Record
) -> None:
    web_sign_in(client, portfolio.viewer)
    page = client.get(f"/models/{portfolio.model_id}?version=2")
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert "Model risk record of version 2" in text
    assert "Lifecycle status validation" in text
    assert "Revision 1" in text
    assert "incomplete — missing" in text
    assert "known_limitations" in text
    assert "Annex III: essential services" in text
    assert "Income feature rescaled" in text
    assert re.search(r"Validation \d+: open — scope: conceptual soundness", text)
    # Both findings with their owner and due date; only the overdue one is labelled so.
    assert "Calibration drifts in the top decile" in text
    assert "Reject inference undocumented" in text
    overdue = re.search(r"Calibration drifts in the top decile.*?</tr>", page.text, re.S)
    on_time = re.search(r"Reject inference undocumented.*?</tr>", page.text, re.S)
    assert overdue is not None
    assert on_time is not None
    assert ">overdue<" in overdue.group(0)
    assert ">overdue<" not in on_time.group(0)
    # The review clock runs from the first production deployment, four years ago.
    assert "Next review due" in text
    assert re.search(r"Next review due \d{4}-\d\d-\d\d[^.]*overdue", text)
    # The serious incident reported nowhere, past its deadline.
    incident = re.search(r"Limits doubled for one branch.*?</tr>", page.text, re.S)
    assert incident is not None
    assert ">late<" in incident.group(0)
    assert EXTERNAL.search(page.text) is None
    assert "<script" not in page.text


def test_a_version_without_lifecycle_records_says_so(
    client: TestClient, portfolio: Portfolio
) -> None:
    web_sign_in(client, portfolio.viewer)
    text = _text(client.get(f"/models/{portfolio.model_id}?version=1").text)
    assert "No model card yet." in text
    assert "No validation of this version yet." in text
    assert "No review clock: the version is not in production." in text
    assert "No incidents." in text


def test_the_findings_page_lists_overdue_first_and_the_reviews_due(
    client: TestClient, portfolio: Portfolio, record: Record
) -> None:
    web_sign_in(client, portfolio.viewer)
    home = client.get("/").text
    assert 'href="/findings"' in home
    page = client.get("/findings")
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert "2 open findings, 1 overdue." in text
    first = text.index("Calibration drifts in the top decile")
    assert first < text.index("Reject inference undocumented")
    assert record.hidden_finding not in text
    assert "credit-scorecard" in text
    reviews = page.text.split('id="reviews-title"')[1]
    assert f'href="/models/{portfolio.model_id}?version=2"' in reviews
    assert ">overdue<" in reviews
    assert "other-team-model" not in page.text
    assert EXTERNAL.search(page.text) is None


def test_another_teams_model_is_the_404_page_and_its_finding_is_not_listed(
    client: TestClient, portfolio: Portfolio, record: Record
) -> None:
    web_sign_in(client, portfolio.viewer)
    hidden = client.get(f"/models/{portfolio.other_model_id}?version=1")
    assert hidden.status_code == 404
    assert record.hidden_finding not in hidden.text
    client.cookies.clear()
    web_sign_in(client, portfolio.outsider)
    theirs = _text(client.get("/findings").text)
    assert record.hidden_finding in theirs
    assert "Calibration drifts in the top decile" not in theirs


def test_signed_out_the_findings_page_sends_to_sign_in(client: TestClient) -> None:
    response = client.get("/findings", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login")


def _gate(client: TestClient, portfolio: Portfolio) -> dict[str, Any]:
    query = {"model": "credit-scorecard", "version": 2, "environment": "staging"}
    headers = auth_headers(client, portfolio.viewer)
    response = client.get("/api/v1/gate", params=query, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _status(client: TestClient, portfolio: Portfolio, deployment_id: int) -> str:
    headers = auth_headers(client, portfolio.viewer)
    found = client.get(f"/api/v1/deployments/{deployment_id}", headers=headers)
    assert found.status_code == 200, found.text
    status: str = found.json()["status"]
    return status


def test_an_approver_suspends_with_a_reason_and_a_confirmation(
    client: TestClient, portfolio: Portfolio, record: Record
) -> None:
    assert _gate(client, portfolio)["outcome"] == "allowed"
    token = web_sign_in(client, record.approver)
    here = f"/deployments/{record.deployment_id}"
    page = client.get(here).text
    assert f'action="{here}/suspend"' in page
    assert "I understand this stops the model in production" in page
    # Without the confirmation: refused beside the box, nothing written.
    unconfirmed = client.post(
        f"{here}/suspend", data={"csrf_token": token, "reason": "complaints about refusals"}
    )
    assert unconfirmed.status_code == 422
    assert 'id="suspend-confirm-error"' in unconfirmed.text
    assert "complaints about refusals" in unconfirmed.text  # the reason is kept for the retry
    # Without a reason: the workflow's 422, beside the reason.
    blank = client.post(
        f"{here}/suspend", data={"csrf_token": token, "reason": " ", "confirm": "yes"}
    )
    assert blank.status_code == 422
    assert 'id="suspend-reason-error"' in blank.text
    assert _status(client, portfolio, record.deployment_id) == "deployed"
    done = client.post(
        f"{here}/suspend",
        data={"csrf_token": token, "reason": "complaints about refusals", "confirm": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == here
    shown = client.get(here).text
    assert "complaints about refusals" in shown  # in the history
    assert f'action="{here}/suspend"' not in shown
    assert _status(client, portfolio, record.deployment_id) == "suspended"
    assert _gate(client, portfolio)["outcome"] == "blocked"
    # Suspending again: the 409 naming both states, on the page.
    again = client.post(
        f"{here}/suspend",
        data={"csrf_token": token, "reason": "second try", "confirm": "yes"},
    )
    assert again.status_code == 409
    assert "suspended" in _text(again.text)
    assert "deployed" in _text(again.text)


def test_a_viewer_gets_no_suspend_form_and_a_forged_one_is_refused(
    client: TestClient, portfolio: Portfolio, record: Record
) -> None:
    token = web_sign_in(client, portfolio.viewer)
    here = f"/deployments/{record.deployment_id}"
    page = client.get(here)
    assert page.status_code == 200
    assert "/suspend" not in page.text
    forged = client.post(
        f"{here}/suspend", data={"csrf_token": token, "reason": "forged", "confirm": "yes"}
    )
    assert forged.status_code == 403
    # An engineer of the team (may deploy, may not suspend) is refused too.
    client.cookies.clear()
    token = web_sign_in(client, portfolio.engineer)
    assert "/suspend" not in client.get(here).text
    refused = client.post(
        f"{here}/suspend", data={"csrf_token": token, "reason": "forged", "confirm": "yes"}
    )
    assert refused.status_code == 403
    assert _status(client, portfolio, record.deployment_id) == "deployed"


def test_a_suspend_without_the_csrf_token_or_of_another_team_changes_nothing(
    client: TestClient,
    portfolio: Portfolio,
    record: Record,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
) -> None:
    web_sign_in(client, record.approver)
    here = f"/deployments/{record.deployment_id}"
    missing = client.post(f"{here}/suspend", data={"reason": "no token", "confirm": "yes"})
    assert missing.status_code == 403
    client.cookies.clear()
    stranger = make_user(session_factory, hasher, teams={portfolio.other_team: Role.APPROVER})
    token = web_sign_in(client, stranger)
    assert client.get(here).status_code == 404
    hidden = client.post(
        f"{here}/suspend", data={"csrf_token": token, "reason": "not mine", "confirm": "yes"}
    )
    assert hidden.status_code == 404
    assert _status(client, portfolio, record.deployment_id) == "deployed"
