"""``driftguard evidence export`` over HTTP with an API key, and ``evidence verify`` offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from driftguard.cli import evidence as evidence_command
from driftguard.cli.main import app
from driftguard.client import Client

from .conftest import Org


def test_export_writes_the_pack_and_verify_checks_it(
    client: TestClient, org: Org, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = client.post(
        f"/api/v1/teams/{org.team}/api-keys", json={"name": "examiner"}, headers=org.engineer
    )
    assert key.status_code == 201, key.text
    sdk = Client(api_key=key.json()["key"], http=client, backoff_seconds=0)
    monkeypatch.setattr(sdk, "close", lambda: None)  # the test client outlives each command
    monkeypatch.setattr(evidence_command, "make_client", lambda url, api_key: sdk)
    name = client.get(f"/api/v1/models/{org.model_id}", headers=org.viewer).json()["name"]
    base = ["evidence", "export", "--model", name, "--version", "1"]

    pdf = tmp_path / "pack.pdf"
    done = CliRunner().invoke(app, [*base, "--format", "pdf", "-o", str(pdf)])
    assert done.exit_code == 0, done.output
    assert pdf.read_bytes().startswith(b"%PDF-")

    pack = tmp_path / "pack.json"
    done = CliRunner().invoke(app, [*base, "--format", "json", "-o", str(pack)])
    assert done.exit_code == 0, done.output
    checked = CliRunner().invoke(app, ["evidence", "verify", str(pack)])
    assert checked.exit_code == 0, checked.output
    assert checked.output.count("ok ") == 5  # an API key has no audit:read: 5 sections

    document = json.loads(pack.read_text())
    document["sections"]["risk"]["current"]["score"] = 0.0
    pack.write_text(json.dumps(document))
    edited = CliRunner().invoke(app, ["evidence", "verify", str(pack)])
    assert edited.exit_code == 1
    assert "EDITED   risk" in edited.output

    missing = CliRunner().invoke(app, [*base[:3], "nope", *base[4:], "-o", str(tmp_path / "x")])
    assert missing.exit_code == 3
    assert "cannot export" in missing.output
    assert not (tmp_path / "x").exists()
