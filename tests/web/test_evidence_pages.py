"""The evidence pack downloaded from the model page, by a signed-in user."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from driftguard.evidence.manifest import mismatches
from support.web import Portfolio, web_sign_in

# The pages answer a path that names nothing with their 404 page (as for /models/not-a-number).
BAD_FORMAT = 404


def test_the_model_page_offers_the_pack_in_three_forms(
    client: TestClient, portfolio: Portfolio
) -> None:
    web_sign_in(client, portfolio.viewer)
    page = client.get(f"/models/{portfolio.model_id}").text
    base = f"/models/{portfolio.model_id}/versions/2/evidence."
    for fmt in ("pdf", "html", "json"):
        assert f'href="{base}{fmt}"' in page
    pdf = client.get(base + "pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].endswith(
        "-v2-" + pdf.headers["content-disposition"].split("-v2-")[1]
    )
    assert pdf.content.startswith(b"%PDF-")
    html = client.get(base + "html")
    assert "Drift (PSI) per feature" in html.text
    assert "https://" not in html.text
    pack = json.loads(client.get(base + "json").content)
    assert mismatches(pack) == []
    # A viewer holds no audit:read.
    assert [w["name"] for w in pack["manifest"]["withheld"]] == ["audit"]


def test_another_teams_pack_is_the_404_page_and_a_bad_format_is_refused(
    client: TestClient, portfolio: Portfolio
) -> None:
    web_sign_in(client, portfolio.viewer)
    hidden = client.get(f"/models/{portfolio.other_model_id}/versions/1/evidence.pdf")
    assert hidden.status_code == 404
    assert "text/html" in hidden.headers["content-type"]
    bad = client.get(f"/models/{portfolio.model_id}/versions/2/evidence.docx")
    assert bad.status_code == BAD_FORMAT, bad.text[:300]
    client.cookies.clear()
    signed_out = client.get(
        f"/models/{portfolio.model_id}/versions/2/evidence.pdf", follow_redirects=False
    )
    assert signed_out.status_code in (302, 303)
    assert signed_out.headers["location"].startswith("/login")
