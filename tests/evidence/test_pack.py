"""The evidence pack over the API: its sections, the manifest an examiner recomputes, the
self-contained HTML, the PDF, and who may read what."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit import repository as audit_repository
from driftguard.db.session import unit_of_work
from driftguard.evidence.manifest import mismatches

from .conftest import Org, pack_json

EVERY_SECTION = ["model", "policy", "risk", "monitoring", "deployments", "audit"]


def _sha256(section: Any) -> str:
    """Written out here as an examiner would, not imported: sorted keys, no spaces, UTF-8."""
    text = json.dumps(section, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_pack_holds_every_section_and_its_manifest_hashes_recompute(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    pack = pack_json(client, org, org.auditor)
    sections, manifest = pack["sections"], pack["manifest"]
    assert list(sections) == EVERY_SECTION
    assert [s["name"] for s in manifest["sections"]] == EVERY_SECTION
    for entry in manifest["sections"]:
        assert entry["sha256"] == _sha256(sections[entry["name"]]), entry["name"]
    assert manifest["withheld"] == []
    assert manifest["subject"]["model_id"] == org.model_id
    assert manifest["subject"]["version"] == 1
    assert manifest["exporter"]["email"].endswith("@example.com")
    assert manifest["driftguard_version"]
    # The chain head at export is a record of the chain, and no audit record after it is held.
    head = manifest["audit_chain_head"]
    with unit_of_work(session_factory) as session:
        record = audit_repository.get_record(session, head["seq"])
        assert record is not None
        assert record.hash == head["hash"]
    audit = sections["audit"]
    assert audit["through_seq"] == head["seq"]
    assert all(r["seq"] <= head["seq"] for r in audit["records"])
    actions = {r["action"] for r in audit["records"]}
    assert {"model.create", "version.create", "monitoring.run", "reference.set"} <= actions
    assert {"predictions.log", "deployment.request"} <= actions
    assert audit["total"] == len(audit["records"])
    # What the sections hold.
    assert sections["model"]["model"]["id"] == org.model_id
    assert sections["model"]["version"]["number"] == 1
    for in_force in sections["policy"]["in_force"]:
        assert _sha256(in_force["document"]) == in_force["policy"]["content_hash"]
    assert [p["environment"] for p in sections["policy"]["in_force"]] == [
        None,
        "staging",
        "production",
    ]
    risk = sections["risk"]
    assert risk["history_total"] == len(risk["history"]) >= 2
    assert (
        abs(
            sum(c["contribution"] for c in risk["current"]["components"]) - risk["current"]["score"]
        )
        < 1e-6
    )
    monitoring = sections["monitoring"]
    assert len(monitoring["drift"]) == monitoring["drift_series"]["total"] == 2
    assert monitoring["drift"][1]["psi"]["income"] > monitoring["drift"][0]["psi"]["income"]
    assert monitoring["fairness"][0]["attributes"]["gender"]["n"] == 300
    (deployment,) = sections["deployments"]["deployments"]
    assert deployment["deployment"]["id"] == org.deployment_id
    assert deployment["deployment"]["decision"]["rules"]
    assert deployment["history"][0]["action"] == "request"


def test_an_edited_section_no_longer_matches_the_manifest(client: TestClient, org: Org) -> None:
    pack = pack_json(client, org, org.auditor)
    assert mismatches(pack) == []
    edited = copy.deepcopy(pack)
    edited["sections"]["deployments"]["deployments"][0]["deployment"]["status"] = "deployed"
    assert mismatches(edited) == ["deployments"]
    listed = {s["name"]: s["sha256"] for s in edited["manifest"]["sections"]}
    assert _sha256(edited["sections"]["deployments"]) != listed["deployments"]
    assert _sha256(edited["sections"]["model"]) == listed["model"]
    dropped = copy.deepcopy(pack)
    del dropped["sections"]["audit"]
    assert mismatches(dropped) == ["missing:audit"]


def test_the_html_is_one_self_contained_file_with_its_charts(client: TestClient, org: Org) -> None:
    response = client.get(f"{org.url}/evidence", headers=org.auditor)  # html by default
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="evidence-')
    assert disposition.endswith("-v1-" + disposition.split("-v1-")[1])
    assert disposition.endswith('.html"')
    html = response.text
    for external in ("http://", "https://", "src=", "<script", "<link", "url(", "@import"):
        assert external not in html, external
    assert html.count("<svg") >= 4  # MRI contributions and history, drift, fairness
    assert "<style>" in html
    for title in ("Manifest", "Policy in force", "Model Risk Index", "Drift (PSI) per feature"):
        assert title in html
    # The page lists the digests of the same sections (the audit section moves with the chain
    # head, which every request's record advances).
    pack = pack_json(client, org, org.auditor)
    for entry in pack["manifest"]["sections"][:-1]:
        assert entry["sha256"] in html, entry["name"]


def _pixel_variance(pgm: bytes) -> float:
    """A binary PGM (P5) page: the variance of its grey levels."""
    fields: list[bytes] = []
    position = 0
    while len(fields) < 4:  # magic, width, height, maxval
        while pgm[position : position + 1].isspace():
            position += 1
        end = position
        while not pgm[end : end + 1].isspace():
            end += 1
        fields.append(pgm[position:end])
        position = end
    assert fields[0] == b"P5"
    width, height = int(fields[1]), int(fields[2])
    pixels = pgm[position + 1 : position + 1 + width * height]
    assert len(pixels) == width * height
    mean = sum(pixels) / len(pixels)
    return sum((p - mean) ** 2 for p in pixels) / len(pixels)


def test_the_pdf_first_page_is_not_blank(client: TestClient, org: Org, tmp_path: Path) -> None:
    response = client.get(f"{org.url}/evidence", params={"format": "pdf"}, headers=org.viewer)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].endswith('.pdf"')
    assert response.content.startswith(b"%PDF-")
    pdf = tmp_path / "pack.pdf"
    pdf.write_bytes(response.content)
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm is not None, "pdftoppm (Debian's poppler-utils): scripts/check installs it"
    subprocess.run(  # noqa: S603 - a fixed local tool
        [pdftoppm, "-f", "1", "-l", "1", "-r", "40", "-gray", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    (page,) = tmp_path.glob("page*.pgm")
    assert _pixel_variance(page.read_bytes()) > 100.0
    # A blank page of the same size has none: the measure can fail.
    blank = b"P5 4 4 255\n" + bytes([255] * 16)
    assert _pixel_variance(blank) == 0.0


def test_the_audit_section_needs_audit_read(client: TestClient, org: Org) -> None:
    for headers in (org.viewer, org.engineer):
        pack = pack_json(client, org, headers)
        assert "audit" not in pack["sections"]
        assert [s["name"] for s in pack["manifest"]["sections"]] == EVERY_SECTION[:-1]
        assert pack["manifest"]["withheld"] == [{"name": "audit", "reason": "requires audit:read"}]
        assert mismatches(pack) == []
    html = client.get(f"{org.url}/evidence", headers=org.viewer).text
    assert "requires audit:read" in html
    assert "Audit records" not in html


def test_another_teams_version_is_not_found(client: TestClient, org: Org) -> None:
    for fmt in ("json", "html", "pdf"):
        response = client.get(f"{org.url}/evidence", params={"format": fmt}, headers=org.stranger)
        assert response.status_code == 404, fmt
    missing = f"/api/v1/models/{org.model_id}/versions/9/evidence"
    assert client.get(missing, headers=org.engineer).status_code == 404
    assert client.get(f"{org.url}/evidence").status_code == 401


def test_a_bad_format_is_refused_naming_it(client: TestClient, org: Org) -> None:
    response = client.get(f"{org.url}/evidence", params={"format": "docx"}, headers=org.engineer)
    assert response.status_code == 422
    body = response.json()
    assert "format" in body["message"]
    assert [d["loc"] for d in body["details"]] == ["query.format"]
