"""The web UI in a real headless Chromium against a real server on loopback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Page, expect

from support.browser import (
    HOSTILE,
    HOSTILE_COMMENT,
    HOSTILE_NOTE,
    LiveServer,
    screenshot,
    sign_in,
)
from support.identity import auth_headers
from support.monitoring import reference_rows

pytestmark = pytest.mark.xdist_group("browser")


def test_sign_in_and_see_the_overview(page: Page, server: LiveServer) -> None:
    page.goto(f"{server.url}/models")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmodels$"))
    page.get_by_label("Email").fill(server.portfolio.viewer)
    page.get_by_label("Password").fill("wrong password, certainly")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("email or password is incorrect")
    sign_in(page, server.url, server.portfolio.admin)
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    cards = page.locator("dl.cards")
    expect(cards.locator("div", has_text="Models").locator("dd").first).to_have_text("2")
    expect(
        page.locator("figure", has_text="Models by team and stage").locator("svg rect")
    ).not_to_have_count(0)
    expect(page.get_by_role("table").filter(has_text="Recent")).to_have_count(0)
    expect(
        page.locator("section", has_text="Recent monitoring runs").locator("tbody tr")
    ).to_have_count(3)
    screenshot(page, "overview")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "overview-phone")


def test_a_model_page_draws_its_charts(page: Page, server: LiveServer) -> None:
    sign_in(page, server.url, server.portfolio.engineer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    page.get_by_role("link", name=HOSTILE["model_name"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE["model_name"])
    drift = page.locator("figure", has_text="Drift (PSI) per feature")
    expect(drift.locator("svg[role=img]")).to_have_count(1)
    expect(drift.locator("polyline")).to_have_count(3)  # income, region, gender
    expect(drift.locator(".legend li")).to_have_text(["income", "region", "gender"])
    fairness = page.locator("figure", has_text="Selection rate by gender")
    expect(fairness.locator("rect")).to_have_count(2)
    performance = page.locator("figure", has_text="Performance over time")
    expect(performance.locator(".legend li").first).to_have_text("accuracy")
    screenshot(page, "model")


def test_an_engineer_acknowledges_an_alert(page: Page, server: LiveServer) -> None:
    sign_in(page, server.url, server.portfolio.engineer)
    page.goto(f"{server.url}/alerts?status=open")
    rows = page.locator("tbody tr")
    before = rows.count()
    assert before > 0
    first = rows.first
    alert_label = first.get_by_role("button", name=re.compile("Acknowledge")).get_attribute("name")
    assert alert_label is None  # buttons are named by their text, not a name attribute
    first.get_by_role("button", name=re.compile("Acknowledge")).click()
    expect(page).to_have_url(re.compile(r"/alerts\?status=open$"))
    expect(page.locator("tbody tr")).to_have_count(before - 1)
    page.goto(f"{server.url}/alerts?status=acknowledged")
    expect(page.locator("tbody tr").first.locator("td").nth(3)).to_have_text("acknowledged")
    screenshot(page, "alerts")


def test_two_approvers_approve_a_deployment(page: Page, server: LiveServer) -> None:
    review = server.review
    link = f'a[href="/deployments/{review.deployment_id}"]'
    for given, approver in enumerate(review.approvers):
        page.context.clear_cookies()
        sign_in(page, server.url, approver)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Approvals")
        request = page.locator("article", has=page.locator(link))
        expect(request).to_contain_text(f"{given} of 2 approvals")
        expect(request.get_by_role("table")).to_contain_text("reference_data")
        request.get_by_label(re.compile("^Comment")).fill(f"approver {given + 1} agrees")
        request.get_by_role("button", name=re.compile("^Approve")).click()
        expect(page).to_have_url(re.compile(r"/approvals$"))
        if given == 0:
            expect(request).to_contain_text("1 of 2 approvals")
            expect(request.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)
            screenshot(page, "approvals")
    expect(page.locator("article", has=page.locator(link))).to_have_count(0)
    page.goto(f"{server.url}/deployments/{review.deployment_id}")
    status = page.locator("dl.facts div", has_text="Status").locator("dd")
    expect(status).to_have_text("approved")
    expect(page.locator("ol.timeline li").last).to_contain_text("quorum reached")
    screenshot(page, "deployment")


def test_a_viewer_is_refused_an_action(page: Page, server: LiveServer) -> None:
    sign_in(page, server.url, server.portfolio.viewer)
    page.goto(f"{server.url}/alerts")
    expect(page.locator("tbody tr").first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Acknowledge|Resolve"))).to_have_count(0)
    token = page.locator("form.sign-out input[name=csrf_token]").get_attribute("value")
    assert token
    alert_id = server.http.get("/api/v1/alerts", headers=server.portfolio.engineer_headers).json()[
        "items"
    ][0]["id"]
    refused = page.request.post(
        f"{server.url}/alerts/{alert_id}/acknowledge", form={"csrf_token": token}
    )
    assert refused.status == 403
    assert "Not allowed" in refused.text()
    page.goto(f"{server.url}/approvals")
    expect(page.get_by_role("heading", level=1)).to_have_text("Approvals")
    expect(page.get_by_role("button", name=re.compile("Approve|Reject"))).to_have_count(0)
    forged = page.request.post(
        f"{server.url}/deployments/{server.review.deployment_id}/approve",
        form={"csrf_token": token, "comment": "me too"},
    )
    assert forged.status == 403
    assert "Not allowed" in forged.text()
    page.goto(f"{server.url}/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    screenshot(page, "refused")


def test_sign_out_ends_the_session(page: Page, server: LiveServer) -> None:
    sign_in(page, server.url, server.portfolio.viewer)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{server.url}/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))


def test_keyboard_users_can_skip_to_the_content(page: Page, server: LiveServer) -> None:
    sign_in(page, server.url, server.portfolio.viewer)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.goto(f"{server.url}/models")
    expect(page.get_by_label("Search")).to_be_visible()
    expect(page.get_by_role("search", name="Filter models")).to_be_visible()


def test_injected_scripts_are_inert_on_every_page(page: Page, server: LiveServer) -> None:
    portfolio = server.portfolio
    headers = portfolio.engineer_headers
    # Tags cannot carry markup at all: the API refuses them, naming the field.
    refused = server.http.patch(
        f"/api/v1/models/{portfolio.model_id}", json={"tags": ["<script>"]}, headers=headers
    )
    assert refused.status_code == 422
    assert "tags" in refused.text
    alert_id = server.http.get("/api/v1/alerts", headers=headers).json()["items"][-1]["id"]
    resolved = server.http.post(
        f"/api/v1/alerts/{alert_id}/resolve", json={"comment": HOSTILE_NOTE}, headers=headers
    )
    assert resolved.status_code == 200
    second = _second_request(server)

    problems: list[str] = []
    page.on("dialog", lambda dialog: _refuse(dialog, problems))
    page.on("console", lambda message: _watch(message, problems))
    pages = {
        "/": [HOSTILE["model_name"]],
        "/models": [HOSTILE["model_name"], HOSTILE["team_name"]],
        f"/models/{portfolio.model_id}": [
            HOSTILE["model_name"],
            HOSTILE["description"],
            HOSTILE["use_case"],
            HOSTILE["team_name"],
            HOSTILE["group"],
        ],
        "/alerts?status=resolved": [HOSTILE_NOTE, HOSTILE["model_name"]],
        "/alerts": [HOSTILE["model_name"]],
        f"/models?q={portfolio.model_id}": [],
        "/approvals": [HOSTILE["reason"], HOSTILE_COMMENT],
        f"/deployments/{second}": [HOSTILE["reason"], HOSTILE_COMMENT, HOSTILE["model_name"]],
        f"/deployments/{server.review.deployment_id}": [HOSTILE["reason"]],
        "/policies": [HOSTILE["policy_description"]],
        "/findings": [],
        f"/policies/{server.review.policy_id}": [
            HOSTILE["policy_description"],
            HOSTILE["policy_source"],
        ],
    }
    for email in (portfolio.engineer, portfolio.admin):
        page.context.clear_cookies()
        sign_in(page, server.url, email)
        visited = (
            {**pages, "/audit?action=model.create": [json.dumps(HOSTILE["model_name"])]}
            if email == portfolio.admin
            else pages
        )
        for path, texts in visited.items():
            page.goto(f"{server.url}{path}")
            body = page.locator("body").text_content() or ""
            for text in texts:
                assert text in body, f"{text!r} is not shown as text on {path}"
            assert page.evaluate("() => window.__xss") is None, f"a script ran on {path}"
            injected = page.locator("main script, main img, main iframe, main svg[onload]")
            assert injected.count() == 0, f"markup was injected on {path}"
        if email == portfolio.engineer:
            expect(page.locator("header .who")).to_have_text(HOSTILE["display_name"])
            screenshot(page, "injection")
    assert problems == []


def _second_request(server: LiveServer) -> int:
    """Version 1 to staging, with a hostile reason and one approval with a hostile comment."""
    headers = server.portfolio.engineer_headers
    url = f"/api/v1/models/{server.portfolio.model_id}/versions/1/reference"
    uploaded = server.http.put(url, json={"rows": reference_rows(50)}, headers=headers)
    assert uploaded.status_code == 200, uploaded.text
    body = {
        "model_id": server.portfolio.model_id,
        "version": 1,
        "environment": "staging",
        "reason": HOSTILE["reason"],
    }
    requested = server.http.post("/api/v1/deployments", json=body, headers=headers)
    assert requested.status_code == 201, requested.text
    deployment_id: int = requested.json()["id"]
    approver = auth_headers(server.http, server.review.approvers[0])
    approved = server.http.post(
        f"/api/v1/deployments/{deployment_id}/approve",
        json={"comment": HOSTILE_COMMENT},
        headers=approver,
    )
    assert approved.json()["status"] == "pending_approval", approved.text
    return deployment_id


def _refuse(dialog: Dialog, problems: list[str]) -> None:
    problems.append(f"dialog: {dialog.message}")
    dialog.dismiss()


def _watch(message: ConsoleMessage, problems: list[str]) -> None:
    # A blocked inline script means markup got through escaping, even if CSP then stopped it.
    if "Content Security Policy" in message.text or message.type == "error":
        problems.append(f"console: {message.text}")


def test_the_evidence_pack_opens_with_its_charts_and_fetches_nothing(
    page: Page, server: LiveServer
) -> None:
    sign_in(page, server.url, server.portfolio.engineer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    page.get_by_role("link", name=HOSTILE["model_name"]).click()
    with page.expect_download() as download:
        page.locator("p.evidence-pack").get_by_role("link", name="HTML").click()
    html = Path(download.value.path()).read_text(encoding="utf-8")
    fetched: list[str] = []
    page.goto("about:blank")  # out of the site, whose pages forbid inline styles (CSP)
    page.on("request", lambda request: fetched.append(request.url))
    page.set_content(html)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Evidence pack")
    # The inline style sheet applies: section headings carry its rule.
    border = page.locator("h2").first.evaluate("h => getComputedStyle(h).borderBottomStyle")
    assert border == "solid"
    drift = page.locator("figure", has_text="Drift (PSI) per feature")
    expect(drift.locator("polyline")).not_to_have_count(0)
    box = drift.locator("svg").bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 100
    expect(
        page.locator("figure", has_text="MRI contribution by component").locator("rect")
    ).not_to_have_count(0)
    assert fetched == []  # one self-contained file: no style sheet, font, image or script
    screenshot(page, "evidence-pack")
