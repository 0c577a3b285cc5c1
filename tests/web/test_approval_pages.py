"""The approval queue: who sees which forms, four-eyes through the pages, refusals as messages."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.governance.orm import DeploymentApproval
from driftguard.settings import Settings
from support.config import make_settings
from support.identity import auth_headers
from support.monitoring import reference_rows
from support.web import PendingReview, Portfolio, seed_pending_review, web_sign_in


@pytest.fixture
def settings(engine: Engine) -> Settings:
    # Four-eyes signs in more people than the default login limit lets one address per minute.
    return make_settings(
        engine.url.render_as_string(hide_password=False), rate_limit_login="100/minute"
    )


@pytest.fixture
def review(
    client: TestClient,
    session_factory: sessionmaker[Session],
    hasher: PasswordHasher,
    portfolio: Portfolio,
) -> PendingReview:
    return seed_pending_review(client, session_factory, hasher, portfolio)


def approvals_of(factory: sessionmaker[Session], deployment_id: int) -> int:
    with factory() as session:
        query = select(func.count()).where(DeploymentApproval.deployment_id == deployment_id)
        return session.scalar(query) or 0


def test_the_queue_shows_the_request_its_rules_and_the_forms_to_approvers(
    client: TestClient, portfolio: Portfolio, review: PendingReview
) -> None:
    web_sign_in(client, review.approvers[0])
    page = client.get("/approvals")
    assert page.status_code == 200
    assert "1 request waiting" in page.text
    assert f'href="/deployments/{review.deployment_id}"' in page.text
    assert "credit-scorecard version 2 to staging" in page.text
    assert "quarterly refresh" in page.text
    assert "<td>reference_data</td>" in page.text
    assert "four-eyes-staging v1" in page.text
    assert "0 of 2 approvals" in page.text
    assert f'action="/deployments/{review.deployment_id}/approve"' in page.text
    assert f'formaction="/deployments/{review.deployment_id}/reject"' in page.text


@pytest.mark.parametrize("who", ["viewer", "engineer", "outsider", "admin"])
def test_no_review_forms_for_viewers_the_requester_other_teams_or_roles_not_asked(
    client: TestClient, portfolio: Portfolio, review: PendingReview, who: str
) -> None:
    web_sign_in(client, getattr(portfolio, who))
    page = client.get("/approvals")
    assert page.status_code == 200
    assert "/approve" not in page.text
    if who == "outsider":
        assert "0 requests waiting" in page.text
        assert "credit-scorecard" not in page.text
    else:
        assert "credit-scorecard version 2 to staging" in page.text


def test_two_approvers_approve_through_the_pages(
    client: TestClient,
    session_factory: sessionmaker[Session],
    portfolio: Portfolio,
    review: PendingReview,
) -> None:
    url = f"/deployments/{review.deployment_id}/approve"
    token = web_sign_in(client, review.approvers[0])
    first = client.post(
        url,
        data={"csrf_token": token, "comment": "fine by me", "next": "/approvals"},
        follow_redirects=False,
    )
    assert first.status_code == 303
    assert first.headers["location"] == "/approvals"
    queue = client.get("/approvals").text
    assert "1 of 2 approvals" in queue
    assert "fine by me" in queue
    assert "/approve" not in queue  # one verdict each
    again = client.post(url, data={"csrf_token": token, "comment": "twice"})
    assert again.status_code == 409
    assert "you already gave your verdict" in again.text
    assert approvals_of(session_factory, review.deployment_id) == 1

    token = web_sign_in(client, review.approvers[1])
    second = client.post(url, data={"csrf_token": token}, follow_redirects=False)
    assert second.status_code == 303
    assert "0 requests waiting" in client.get("/approvals").text
    status = client.get(
        f"/api/v1/deployments/{review.deployment_id}", headers=portfolio.engineer_headers
    ).json()["status"]
    assert status == "approved"


def test_a_rejection_needs_a_comment_named_beside_the_field(
    client: TestClient,
    session_factory: sessionmaker[Session],
    portfolio: Portfolio,
    review: PendingReview,
) -> None:
    token = web_sign_in(client, review.approvers[0])
    url = f"/deployments/{review.deployment_id}/reject"
    refused = client.post(url, data={"csrf_token": token, "comment": "  "})
    assert refused.status_code == 422
    assert f'id="comment-{review.deployment_id}-error"' in refused.text
    assert f'aria-describedby="comment-{review.deployment_id}-error"' in refused.text
    assert approvals_of(session_factory, review.deployment_id) == 0
    done = client.post(
        url, data={"csrf_token": token, "comment": "not yet"}, follow_redirects=False
    )
    assert done.status_code == 303
    assert "0 requests waiting" in client.get("/approvals").text


def test_the_requester_is_refused_with_a_message_and_nothing_changes(
    client: TestClient,
    session_factory: sessionmaker[Session],
    portfolio: Portfolio,
    review: PendingReview,
) -> None:
    token = web_sign_in(client, portfolio.admin)  # an admin, but this policy wants approvers
    url = f"/deployments/{review.deployment_id}/approve"
    refused = client.post(url, data={"csrf_token": token})
    assert refused.status_code == 403
    assert "<h1>Approvals</h1>" in refused.text
    assert "this policy wants approvals from: approver" in refused.text
    assert approvals_of(session_factory, review.deployment_id) == 0


def test_forged_and_foreign_reviews_are_refused(
    client: TestClient,
    session_factory: sessionmaker[Session],
    portfolio: Portfolio,
    review: PendingReview,
) -> None:
    url = f"/deployments/{review.deployment_id}/approve"
    token = web_sign_in(client, portfolio.viewer)
    assert client.post(url, data={"csrf_token": token}).status_code == 403  # no such permission
    token = web_sign_in(client, review.approvers[0])
    assert client.post(url, data={"csrf_token": "forged"}).status_code == 403  # CSRF
    assert client.post(url, data={}).status_code == 403
    assert client.post("/deployments/999999/approve", data={"csrf_token": token}).status_code == 404
    assert approvals_of(session_factory, review.deployment_id) == 0


def test_the_overview_shows_risk_bands_the_riskiest_models_and_the_queue(
    client: TestClient, portfolio: Portfolio, review: PendingReview
) -> None:
    web_sign_in(client, portfolio.viewer)
    page = client.get("/")
    assert page.status_code == 200
    assert '<a href="/approvals">1 deployment request waiting for approval</a>' in page.text
    assert "Models by Model Risk Index band" in page.text
    assert "Mean MRI per day" in page.text  # the request scored the version today
    riskiest = page.text.split("<caption>Riskiest models</caption>")[1].split("</table>")[0]
    assert f'href="/models/{portfolio.model_id}?version=2"' in riskiest
    assert "other-team-model" not in page.text
    drivers = r"<td>(drift|fairness|performance|data_quality|staleness|alerts)</td>"
    assert re.search(drivers, riskiest)


def test_the_deployment_page_shows_the_decision_and_takes_it_to_production(
    client: TestClient, portfolio: Portfolio, review: PendingReview
) -> None:
    here = f"/deployments/{review.deployment_id}"
    token = web_sign_in(client, review.approvers[0])
    page = client.get(here)
    assert page.status_code == 200
    assert "<td>reference_data</td>" in page.text
    assert "Reason: quarterly refresh" in page.text
    assert "<strong>request</strong>" in page.text  # the history's first event
    assert ">Deploy</button>" not in page.text
    approved = client.post(
        f"{here}/approve",
        data={"csrf_token": token, "comment": "ok", "next": here},
        follow_redirects=False,
    )
    assert approved.headers["location"] == here
    again = client.post(f"{here}/approve", data={"csrf_token": token, "next": here})
    assert again.status_code == 409
    assert f"<h1>Deployment {review.deployment_id}:" in again.text  # the page, with the message
    assert "you already gave your verdict" in again.text

    token = web_sign_in(client, review.approvers[1])
    client.post(f"{here}/approve", data={"csrf_token": token, "next": here})
    token = web_sign_in(client, portfolio.engineer)
    page = client.get(here)
    assert "2 of 2 approvals" in page.text
    assert ">Deploy</button>" in page.text
    deployed = client.post(f"{here}/deploy", data={"csrf_token": token}, follow_redirects=False)
    assert deployed.status_code == 303
    page = client.get(here)
    assert "<strong>deploy</strong> (approved → deployed)" in page.text
    assert ">Deploy</button>" not in page.text


def test_the_requester_cancels_with_a_reason_kept_in_the_history(
    client: TestClient, portfolio: Portfolio, review: PendingReview
) -> None:
    here = f"/deployments/{review.deployment_id}"
    token = web_sign_in(client, portfolio.engineer)
    page = client.get(here)
    assert ">Cancel request</button>" in page.text
    assert "Approve</button>" not in page.text  # never one's own request
    bad = client.post(f"{here}/cancel", data={"csrf_token": token, "reason": "a\x00b"})
    assert bad.status_code == 422
    assert 'id="reason-error"' in bad.text
    done = client.post(
        f"{here}/cancel",
        data={"csrf_token": token, "reason": "wrong version"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get(here)
    assert "(pending approval → cancelled)" in page.text
    assert "wrong version" in page.text
    assert ">Cancel request</button>" not in page.text


def test_another_teams_deployment_is_a_404_page(
    client: TestClient, portfolio: Portfolio, review: PendingReview
) -> None:
    token = web_sign_in(client, portfolio.outsider)
    here = f"/deployments/{review.deployment_id}"
    for response in (
        client.get(here),
        client.post(f"{here}/cancel", data={"csrf_token": token, "reason": "x"}),
        client.get("/deployments/not-a-number"),
    ):
        assert response.status_code == 404
        assert "Not found" in response.text


def test_the_model_page_shows_the_mri_its_breakdown_history_and_deployments(
    client: TestClient, portfolio: Portfolio, review: PendingReview
) -> None:
    web_sign_in(client, portfolio.viewer)
    page = client.get(f"/models/{portfolio.model_id}?version=2")
    assert page.status_code == 200
    assert "Model Risk Index of version 2" in page.text
    assert "MRI contribution by component" in page.text
    breakdown = page.text.split("<caption>MRI breakdown</caption>")[1].split("</table>")[0]
    for component in ("drift", "fairness", "performance", "alerts"):
        assert f"<td>{component}</td>" in breakdown
    assert "MRI over time" in page.text  # monitoring runs and the request stored scores
    assert f'href="/deployments/{review.deployment_id}"' in page.text
    assert "0 of 2" in page.text
    unscored = client.get(f"/models/{portfolio.model_id}?version=1")
    assert "(now; not stored yet)" in unscored.text


def test_a_deployer_rolls_back_from_the_page_with_a_reason(
    client: TestClient, portfolio: Portfolio, review: PendingReview
) -> None:
    engineer = portfolio.engineer_headers
    approvers = [auth_headers(client, email) for email in review.approvers]
    url = f"/api/v1/models/{portfolio.model_id}/versions/1/reference"
    assert client.put(url, json={"rows": reference_rows(50)}, headers=engineer).status_code == 200
    body = {"model_id": portfolio.model_id, "version": 1, "environment": "staging"}
    newer = client.post("/api/v1/deployments", json=body, headers=engineer).json()["id"]
    for deployment_id in (review.deployment_id, newer):
        for headers in approvers:
            approved = client.post(
                f"/api/v1/deployments/{deployment_id}/approve", json={}, headers=headers
            )
            assert approved.status_code == 200, approved.text
        deployed = client.post(f"/api/v1/deployments/{deployment_id}/deploy", headers=engineer)
        assert deployed.json()["status"] == "deployed", deployed.text
    token = web_sign_in(client, portfolio.engineer)
    here = f"/deployments/{newer}"
    page = client.get(here)
    assert ">Roll back</button>" in page.text
    assert f'href="/deployments/{review.deployment_id}"' in page.text  # the one it replaced
    done = client.post(
        f"{here}/rollback",
        data={"csrf_token": token, "reason": "latency regression"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get(here)
    assert "(deployed → rolled back)" in page.text
    assert "latency regression" in page.text
    restored = client.get(f"/deployments/{review.deployment_id}").text
    assert "(superseded → deployed)" in restored


def test_rules_whose_preconditions_do_not_hold_show_as_not_applicable(
    client: TestClient, portfolio: Portfolio
) -> None:
    # The default policy in production: its lifecycle rules apply to tier-1 or EU high-risk
    # versions only, and the portfolio's model is tier 2 without a card.
    body = {"model_id": portfolio.model_id, "version": 1, "environment": "production"}
    created = client.post("/api/v1/deployments", json=body, headers=portfolio.engineer_headers)
    assert created.status_code == 201, created.text
    web_sign_in(client, portfolio.viewer)
    page = client.get(f"/deployments/{created.json()['id']}")
    assert page.status_code == 200
    row = page.text.split("<td>independent_validation</td>")[1].split("</tr>")[0]
    assert "not applicable" in row
    assert "validation.status" in row
    drift = page.text.split("<td>reference_data</td>")[1].split("</tr>")[0]
    assert "not applicable" not in drift
