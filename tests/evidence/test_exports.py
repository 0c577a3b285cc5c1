"""A team's CSV exports: inventory, alerts and audit records, streamed and safe to open in a
spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.evidence import repository
from driftguard.evidence.exports import safe_cell
from support.registry import create_model, create_version

from .conftest import INJECTED, Org


def _rows(client: TestClient, url: str, headers: dict[str, str]) -> list[dict[str, str]]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.text)))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=x", "'\t=x"),
        ("\r=x", "'\r=x"),
        ("plain", "plain"),
        ("", ""),
        (-0.5, -0.5),
        (-3, -3),
        (None, ""),
        (True, "true"),
    ],
)
def test_cells_a_spreadsheet_would_run_are_quoted(
    value: str | float | None, written: object
) -> None:
    assert safe_cell(value) == written


def test_the_inventory_lists_models_versions_stage_and_mri_band(
    client: TestClient, org: Org
) -> None:
    rows = _rows(client, f"/api/v1/teams/{org.team}/exports/inventory.csv", org.viewer)
    (row,) = rows
    assert row["model_id"] == str(org.model_id)
    assert row["version"] == "1"
    assert row["stage"] == "none"
    assert row["tier"] in {"1", "2", "3"}
    assert row["mri_band"] in {"low", "medium", "high", "critical"}
    assert float(row["mri"]) >= 0
    assert row["tags"] == "credit"
    # Text a spreadsheet would evaluate is written quoted, never as a formula.
    assert row["use_case"] == "'" + INJECTED


def test_alerts_are_exported(client: TestClient, org: Org) -> None:
    rows = _rows(client, f"/api/v1/teams/{org.team}/exports/alerts.csv", org.engineer)
    listed = client.get("/api/v1/alerts", params={"limit": 200}, headers=org.engineer).json()
    assert listed["total"] >= 1  # the drifted day raised one
    assert sorted(int(r["alert_id"]) for r in rows) == sorted(a["id"] for a in listed["items"])
    assert {r["model_id"] for r in rows} == {str(org.model_id)}


def test_the_audit_export_needs_audit_read(client: TestClient, org: Org) -> None:
    url = f"/api/v1/teams/{org.team}/exports/audit.csv"
    assert client.get(url, headers=org.viewer).status_code == 403
    rows = _rows(client, url, org.auditor)
    actions = {r["action"] for r in rows}
    assert {"model.create", "version.create", "monitoring.run", "deployment.request"} <= actions
    seqs = [int(r["seq"]) for r in rows]
    assert seqs == sorted(seqs)
    assert all(len(r["hash"]) == 64 for r in rows)
    # Another team's records are not in this team's export.
    other = _rows(client, f"/api/v1/teams/{org.other_team}/exports/audit.csv", org.auditor)
    assert not {r["seq"] for r in other} & {r["seq"] for r in rows}


def test_another_teams_exports_are_not_found(client: TestClient, org: Org) -> None:
    for kind in ("inventory", "alerts", "audit"):
        url = f"/api/v1/teams/{org.team}/exports/{kind}.csv"
        assert client.get(url, headers=org.stranger).status_code == 404, kind


def test_an_unknown_kind_is_refused_naming_it(client: TestClient, org: Org) -> None:
    response = client.get(f"/api/v1/teams/{org.team}/exports/secrets.csv", headers=org.engineer)
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["details"]] == ["path.kind"]


def test_batches_walk_every_model_and_version_once(
    client: TestClient, org: Org, session_factory: sessionmaker[Session]
) -> None:
    for _ in range(2):
        model = create_model(client, org.engineer, org.team)
        for _ in range(2):
            create_version(client, org.engineer, model["id"])
    bare = create_model(client, org.engineer, org.team)
    with unit_of_work(session_factory) as session:
        seen = [
            (m.id, v.number if v else None)
            for batch in repository.inventory_batches(session, team_id=org.team, batch=2)
            for m, v in batch
        ]
    assert len(seen) == len(set(seen)) == 6
    assert (bare["id"], None) in seen
    assert seen == sorted(seen, key=lambda pair: (pair[0], pair[1] or 0))
