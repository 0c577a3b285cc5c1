"""Policy pages: the list, versions shown as text, activation, the editor's errors beside the
source, and the simulation of a draft that writes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.governance.orm import Policy, PolicyVersion
from driftguard.settings import Settings
from support.config import make_settings
from support.web import FOUR_EYES_POLICY, Portfolio, web_sign_in

# Production without rules or approvals: what the default policy blocks would go through.
LENIENT = """\
schema_version: 1
priority: 50
scope:
  environments: [production]
approvals:
  - environments: [production]
    required: 0
"""


@pytest.fixture
def settings(engine: Engine) -> Settings:
    return make_settings(
        engine.url.render_as_string(hide_password=False), rate_limit_login="100/minute"
    )


def counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        policies = session.scalar(select(func.count()).select_from(Policy)) or 0
        versions = session.scalar(select(func.count()).select_from(PolicyVersion)) or 0
        return policies, versions


def test_an_admin_creates_activates_and_revises_a_policy(
    client: TestClient, session_factory: sessionmaker[Session], portfolio: Portfolio
) -> None:
    token = web_sign_in(client, portfolio.admin)
    assert "No stored policies yet." in client.get("/policies").text
    assert client.get("/policies/new").status_code == 200
    created = client.post(
        "/policies",
        data={
            "csrf_token": token,
            "name": "four-eyes",
            "description": "<b>two</b> people",
            "source": FOUR_EYES_POLICY,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    here = created.headers["location"]
    page = client.get(here)
    assert "<h1>Policy four-eyes</h1>" in page.text
    assert "&lt;b&gt;two&lt;/b&gt; people" in page.text
    assert "Active version: none." in page.text
    assert "description: staging needs two approvers" in page.text  # the source, as text
    activated = client.post(
        f"{here}/versions/1/activate", data={"csrf_token": token}, follow_redirects=False
    )
    assert activated.status_code == 303
    page = client.get(here)
    assert "Active version: 1." in page.text
    assert "Activate version 1" not in page.text
    revised = client.post(
        "/policies",
        data={
            "csrf_token": token,
            "policy_id": here.rsplit("/", 1)[1],
            "source": FOUR_EYES_POLICY.replace("required: 2", "required: 3"),
        },
        follow_redirects=False,
    )
    assert revised.headers["location"] == here
    assert "Activate version 2" in client.get(here).text
    listed = client.get("/policies").text
    assert 'href="/policies/' in listed
    assert counts(session_factory) == (1, 2)


def test_an_invalid_policy_names_each_problem_by_its_path(
    client: TestClient, session_factory: sessionmaker[Session], portfolio: Portfolio
) -> None:
    token = web_sign_in(client, portfolio.admin)
    broken = FOUR_EYES_POLICY.replace('operator: ">"', 'operator: "<script>"')
    page = client.post("/policies", data={"csrf_token": token, "name": "broken", "source": broken})
    assert page.status_code == 422
    assert 'id="source-error"' in page.text
    assert 'aria-describedby="source-error"' in page.text
    assert "<code>source.rules.0.operator</code>" in page.text
    assert "&lt;script&gt;" in page.text  # the draft is kept, escaped
    missing = client.post("/policies", data={"csrf_token": token, "source": FOUR_EYES_POLICY})
    assert missing.status_code == 422
    assert 'id="name-error"' in missing.text
    assert counts(session_factory) == (0, 0)


def test_a_draft_is_simulated_before_anything_is_saved(
    client: TestClient, session_factory: sessionmaker[Session], portfolio: Portfolio
) -> None:
    token = web_sign_in(client, portfolio.engineer)  # may simulate, may not write policies
    result = client.post(
        "/policies/simulate",
        data={"csrf_token": token, "source": LENIENT, "environment": "production"},
    )
    assert result.status_code == 200, result.text
    assert "Simulation in production" in result.text
    changed = result.text.split("<tbody>")[-1].split("</tbody>")[0]
    assert "credit-scorecard" in changed
    assert "<td>blocked</td><td>approved</td>" in changed
    assert "other-team-model" not in result.text  # only the caller's models
    assert "Create policy" not in result.text
    bad = client.post("/policies/simulate", data={"csrf_token": token, "source": "rules: 7"})
    assert bad.status_code == 422
    assert 'id="source-error"' in bad.text
    assert (
        client.post(
            "/policies", data={"csrf_token": token, "name": "x", "source": LENIENT}
        ).status_code
        == 403
    )
    assert counts(session_factory) == (0, 0)


def test_a_simulation_takes_a_team_and_a_hypothetical_fact(
    client: TestClient, portfolio: Portfolio
) -> None:
    token = web_sign_in(client, portfolio.admin)
    form = {"csrf_token": token, "source": LENIENT, "environment": "production"}

    def changed(**fields: str) -> str:
        result = client.post("/policies/simulate", data={**form, **fields})
        assert result.status_code == 200, result.text
        return result.text.split("<tbody>")[-1].split("</tbody>")[0]

    assert "other-team-model" not in changed(team_id=str(portfolio.team))
    assert "credit-scorecard" not in changed(team_id=str(portfolio.other_team))
    # Open alerts raise the scenario's MRI: the row differs only in that column.
    plain = changed(team_id=str(portfolio.team))
    alarmed = changed(team_id=str(portfolio.team), what_if_fact="alerts.open", what_if_value="50")
    plain_cells, alarmed_cells = plain.split("<td>"), alarmed.split("<td>")
    assert len(plain_cells) == len(alarmed_cells) == 8  # one model, seven columns
    assert [a == b for a, b in zip(plain_cells, alarmed_cells, strict=True)] == [
        True,
        True,
        True,
        True,
        True,
        True,
        False,
        True,
    ]
    for fields, field, text in [
        (
            {"what_if_fact": "drift.psi", "what_if_feature": "salary", "what_if_value": "1"},
            "what_if_feature",
            "no model in scope has a feature named",
        ),
        (
            {"what_if_fact": "alerts.open", "what_if_value": "many"},
            "what_if_value",
            "must be a number",
        ),
        ({"what_if_fact": "model.tier", "what_if_value": "nan"}, "what_if_value", "finite"),
        ({"what_if_fact": "mri.score", "what_if_value": "1"}, "what_if_fact", "computed"),
    ]:
        bad = client.post("/policies/simulate", data={**form, **fields})
        assert bad.status_code == 422, fields
        assert f'id="{field}-error"' in bad.text, fields
        assert text in bad.text.split(f'id="{field}-error"')[1][:300], fields


def test_readers_see_policies_but_no_write_controls(
    client: TestClient, portfolio: Portfolio
) -> None:
    admin = web_sign_in(client, portfolio.admin)
    client.post(
        "/policies",
        data={"csrf_token": admin, "name": "four-eyes", "source": FOUR_EYES_POLICY},
    )
    web_sign_in(client, portfolio.viewer)
    listed = client.get("/policies")
    assert "four-eyes" in listed.text
    assert "/policies/new" not in listed.text
    policy = listed.text.split('href="/policies/')[1].split('"')[0]
    page = client.get(f"/policies/{policy}")
    assert page.status_code == 200
    assert "Activate version" not in page.text
    assert 'action="/policies"' not in page.text  # viewers may not simulate either
    assert client.get("/policies/new").status_code == 403
    assert client.get("/policies/999999").status_code == 404


def test_the_fact_list_shows_the_codes_of_lifecycle_facts(
    client: TestClient, portfolio: Portfolio
) -> None:
    web_sign_in(client, portfolio.admin)
    page = client.get("/policies/new")
    assert page.status_code == 200
    assert (
        '<option value="validation.status">validation.status'
        " (2 approved, 1 approved_with_conditions, 0 rejected)</option>"
    ) in page.text
    assert "(0 development, 1 validation, 2 approved, 3 production, 4 retired)" in page.text
    assert '<option value="model.eu_high_risk">model.eu_high_risk</option>' in page.text
