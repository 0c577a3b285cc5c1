"""The pages: what each shows, who may see it, and that every error is a page."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.orm import AuditRecord
from driftguard.audit.schemas import SYSTEM
from driftguard.db.session import unit_of_work
from driftguard.governance.orm import Alert
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.ingest import storage_maintenance
from driftguard.monitoring import runs
from driftguard.monitoring.purged import FAIRNESS_UNAVAILABLE, PERFORMANCE_UNAVAILABLE
from driftguard.web.templating import CONTENT_SECURITY_POLICY
from support.monitoring import BASE_TIME
from support.web import Portfolio, web_sign_in


def test_overview_shows_the_callers_portfolio(client: TestClient, portfolio: Portfolio) -> None:
    web_sign_in(client, portfolio.viewer)
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-store"
    assert "<h1>Overview</h1>" in page.text
    assert re.search(r"<dt>Models</dt><dd>1</dd>", page.text)  # only their own team's model
    assert "Models by team and stage" in page.text
    assert "<svg" in page.text
    assert "credit-scorecard" in page.text  # in recent runs
    assert "other-team-model" not in page.text
    assert "disparate_impact" in page.text or "fairness.disparate_impact_ratio" in page.text


def test_inventory_searches_filters_sorts_and_paginates(
    client: TestClient, portfolio: Portfolio
) -> None:
    web_sign_in(client, portfolio.admin)
    everything = client.get("/models")
    assert "credit-scorecard" in everything.text
    assert "other-team-model" in everything.text
    found = client.get("/models", params={"q": "SCORE"})
    assert "credit-scorecard" in found.text
    assert "other-team-model" not in found.text
    by_team = client.get("/models", params={"team": portfolio.other_team})
    assert "other-team-model" in by_team.text
    assert "credit-scorecard" not in by_team.text
    staged = client.get("/models", params={"stage": "staging"})
    assert "credit-scorecard" in staged.text
    assert "other-team-model" not in staged.text
    tagged = client.get("/models", params={"tag": "EU"})
    assert "credit-scorecard" in tagged.text
    assert "other-team-model" not in tagged.text
    sorted_desc = client.get("/models", params={"sort": "-name"}).text
    assert sorted_desc.index("other-team-model") < sorted_desc.index("credit-scorecard")
    assert client.get("/models", params={"page": 2}).text.count('href="/models/') == 0


def test_inventory_names_a_bad_filter_beside_its_field(
    client: TestClient, portfolio: Portfolio
) -> None:
    web_sign_in(client, portfolio.admin)
    page = client.get("/models", params={"tag": "<bad tag>", "q": "score", "sort": "shoe"})
    assert page.status_code == 422
    assert 'id="tag-error"' in page.text
    assert 'id="sort-error"' in page.text
    assert 'aria-describedby="tag-error"' in page.text
    assert "credit-scorecard" in page.text  # the valid filter still applies
    assert "&lt;bad tag&gt;" in page.text
    assert "<bad tag>" not in page.text


def test_model_page_has_versions_charts_and_alerts(
    client: TestClient, portfolio: Portfolio
) -> None:
    web_sign_in(client, portfolio.viewer)
    page = client.get(f"/models/{portfolio.model_id}")
    assert page.status_code == 200
    text = page.text
    assert "Monitoring of version 2" in text
    assert "Drift (PSI) per feature" in text
    assert "<polyline" in text
    assert "Selection rate by gender" in text
    assert "<rect" in text
    assert "Performance over time" in text
    assert "<dt>accuracy</dt>" in text
    assert "income" in text  # a drifting feature, and an alert on it
    # A viewer sees the alerts but no buttons to change them.
    assert "Active alerts" in text
    assert "/acknowledge" not in text
    first = client.get(f"/models/{portfolio.model_id}", params={"version": 1})
    assert "No drift reports yet." in first.text


def test_another_teams_model_and_a_missing_one_are_the_same_404_page(
    client: TestClient, portfolio: Portfolio
) -> None:
    web_sign_in(client, portfolio.viewer)
    hidden = client.get(f"/models/{portfolio.other_model_id}")
    missing = client.get("/models/987654")
    assert hidden.status_code == missing.status_code == 404
    assert "text/html" in hidden.headers["content-type"]
    assert "other-team-model" not in hidden.text
    assert client.get("/models/not-a-number").status_code == 404
    assert client.get(f"/models/{portfolio.model_id}", params={"version": 99}).status_code == 404


def _alert_ids(session_factory: sessionmaker[Session], status: str) -> list[int]:
    with unit_of_work(session_factory) as session:
        return list(session.scalars(select(Alert.id).where(Alert.status == status)))


def test_an_engineer_acknowledges_and_resolves_from_the_alert_list(
    client: TestClient, portfolio: Portfolio, session_factory: sessionmaker[Session]
) -> None:
    token = web_sign_in(client, portfolio.engineer)
    alert_id = _alert_ids(session_factory, "open")[0]
    listing = client.get("/alerts")
    assert f"/alerts/{alert_id}/acknowledge" in listing.text
    done = client.post(
        f"/alerts/{alert_id}/acknowledge",
        data={"csrf_token": token, "next": "/alerts?status=acknowledged"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/alerts?status=acknowledged"
    assert alert_id in _alert_ids(session_factory, "acknowledged")
    again = client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": token})
    assert again.status_code == 409  # a page saying why, not a crash

    resolved = client.post(
        f"/alerts/{alert_id}/resolve",
        data={"csrf_token": token, "comment": "retrained on fresh data"},
        follow_redirects=False,
    )
    assert resolved.status_code == 303
    assert alert_id in _alert_ids(session_factory, "resolved")
    page = client.get("/alerts", params={"status": "resolved"})
    assert "retrained on fresh data" in page.text
    with unit_of_work(session_factory) as session:
        actions = set(session.scalars(select(AuditRecord.action)))
    assert {"alert.acknowledge", "alert.resolve"} <= actions


def test_a_too_long_resolution_note_is_named_and_nothing_changes(
    client: TestClient, portfolio: Portfolio, session_factory: sessionmaker[Session]
) -> None:
    token = web_sign_in(client, portfolio.engineer)
    alert_id = _alert_ids(session_factory, "open")[0]
    response = client.post(
        f"/alerts/{alert_id}/resolve", data={"csrf_token": token, "comment": "x" * 2001}
    )
    assert response.status_code == 422
    assert f'id="comment-{alert_id}-error"' in response.text
    assert alert_id in _alert_ids(session_factory, "open")


def test_a_viewer_is_refused_and_a_forged_form_is_refused(
    client: TestClient, portfolio: Portfolio, session_factory: sessionmaker[Session]
) -> None:
    open_before = _alert_ids(session_factory, "open")
    token = web_sign_in(client, portfolio.viewer)
    refused = client.post(f"/alerts/{open_before[0]}/acknowledge", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]

    client.cookies.clear()
    engineer_token = web_sign_in(client, portfolio.engineer)
    for token_sent in ("", "forged", token):  # the viewer's token is not the engineer's
        forged = client.post(
            f"/alerts/{open_before[0]}/acknowledge", data={"csrf_token": token_sent}
        )
        assert forged.status_code == 403
    assert engineer_token != token
    assert _alert_ids(session_factory, "open") == open_before


def test_another_teams_alert_is_not_found(
    client: TestClient, portfolio: Portfolio, session_factory: sessionmaker[Session]
) -> None:
    alert_id = _alert_ids(session_factory, "open")[0]
    token = web_sign_in(client, portfolio.outsider)
    response = client.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": token})
    assert response.status_code == 404
    assert "credit-scorecard" not in client.get("/alerts").text


def test_audit_log_is_for_auditors_with_filters_and_pages(
    client: TestClient, portfolio: Portfolio
) -> None:
    web_sign_in(client, portfolio.engineer)
    assert client.get("/audit").status_code == 403
    assert 'href="/audit"' not in client.get("/").text  # not offered in the navigation
    client.cookies.clear()
    web_sign_in(client, portfolio.auditor)
    page = client.get("/audit", params={"action": "model.create"})
    assert page.status_code == 200
    assert page.text.count("<td>model.create</td>") == 2
    assert "<td>alert.acknowledge</td>" not in page.text
    bad = client.get("/audit", params={"since": "yesterday", "action": "a b"})
    assert bad.status_code == 422
    assert 'id="since-error"' in bad.text
    assert 'id="action-error"' in bad.text
    for _ in range(5):  # each page view is a request record too
        client.get("/models")
    first = client.get("/audit")
    total = int(re.search(r"(\d+) records", first.text).group(1))  # type: ignore[union-attr]
    assert total > 50
    assert 'rel="next" href="/audit?page=2"' in first.text
    second = client.get("/audit", params={"page": 2})
    assert 'rel="prev" href="/audit?page=1"' in second.text
    # The first page's own view was recorded since: one more row on the second page.
    assert second.text.count("<tr>") == min(50, total + 1 - 50) + 1  # rows and the header


def test_the_stylesheet_is_served_by_driftguard_with_validators(client: TestClient) -> None:
    page = client.get("/login")
    href = re.search(r'href="(/static/app\.css\?v=\w+)"', page.text)
    assert href is not None
    css = client.get(href.group(1))
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    again = client.get("/static/app.css", headers={"If-None-Match": css.headers["etag"]})
    assert again.status_code == 304
    assert client.get("/static/nothing.js").status_code == 404
    # Every page references only our own origin: no CDN, no external script.
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "<script" not in page.text


def test_an_unknown_page_is_a_page_for_browsers_and_json_for_the_api(client: TestClient) -> None:
    page = client.get("/no-such-page", headers={"Accept": "text/html,*/*"})
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "there is no such page" in page.text
    api = client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.json()["error"] == "not_found"
    assert client.get("/no-such-page").json()["error"] == "not_found"


def test_recent_reports_are_the_newest_windows_oldest_first(
    portfolio: Portfolio, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        reports = runs.recent_reports(
            session,
            principal=Principal(user_id=None, platform_role=Role.ADMIN),
            model_id=portfolio.model_id,
            number=2,
            limits={"drift": 2, "fairness": 1},
        )
    drift = [r.window_start for r in reports["drift"]]
    assert drift == sorted(drift)
    assert drift[-1] == BASE_TIME + timedelta(days=2)  # the third and last window
    assert len(drift) == 2
    assert [r.window_start for r in reports["fairness"]] == [drift[-1]]


def test_model_page_says_why_a_purged_window_has_no_fairness_or_performance(
    client: TestClient, portfolio: Portfolio, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        storage_maintenance.purge(session, before=BASE_TIME + timedelta(days=3), actor=SYSTEM)
    window = {
        "start": (BASE_TIME + timedelta(days=2)).isoformat(),
        "end": (BASE_TIME + timedelta(days=3)).isoformat(),
    }
    url = f"/api/v1/models/{portfolio.model_id}/versions/2/monitoring/runs"
    rerun = client.post(url, json=window, headers=portfolio.engineer_headers)
    assert rerun.status_code == 201, rerun.text
    web_sign_in(client, portfolio.viewer)
    text = client.get(f"/models/{portfolio.model_id}").text
    assert str(escape(FAIRNESS_UNAVAILABLE)) in text
    assert str(escape(PERFORMANCE_UNAVAILABLE)) in text
    assert "No fairness reports yet." not in text
    assert "Drift (PSI) per feature" in text  # drift still comes from the kept counts
