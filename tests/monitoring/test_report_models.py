"""The typed report models: the payloads runs stored before them still read, and read back
unchanged; what a run stores now is what the models name."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from driftguard.monitoring.facts import report_facts
from driftguard.monitoring.report_models import (
    REPORT_MODELS,
    DriftReport,
    RunReports,
    stored_payload,
)
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.versions import Setup

# Reports of classification (exact and counts), regression and purged windows, as stored by
# the code before the models (no schema_version).
STORED = json.loads((Path(__file__).parent / "data" / "reports_v1.json").read_text())
CASES = [(case, kind) for case, reports in STORED.items() for kind in reports]


WINDOW = {"start": BASE_TIME.isoformat(), "end": (BASE_TIME + timedelta(days=1)).isoformat()}


def extras(value: object) -> list[str]:
    """Keys a model holds but does not name, at any depth."""
    if isinstance(value, dict):
        return [k for item in value.values() for k in extras(item)]
    if isinstance(value, list):
        return [k for item in value for k in extras(item)]
    if not isinstance(value, BaseModel):
        return []
    found = [f"{type(value).__name__}.{k}" for k in value.model_extra or {}]
    return found + [k for name in type(value).model_fields for k in extras(getattr(value, name))]


@pytest.mark.parametrize(("case", "kind"), CASES)
def test_stored_reports_without_a_version_read_as_version_1_unchanged(case: str, kind: str) -> None:
    payload = STORED[case][kind]
    report = REPORT_MODELS[kind].model_validate(payload)
    assert report.schema_version == 1
    assert extras(report) == []  # every stored key is named by the model
    assert stored_payload(report) == payload  # read back exactly as stored


def test_facts_read_the_stored_reports() -> None:
    reports = RunReports.from_payloads(STORED["classification_exact"])
    facts = report_facts(reports, task_type="binary_classification", training={"roc_auc": 0.9})
    drift = {
        row["feature"]: row["psi"] for row in STORED["classification_exact"]["drift"]["features"]
    }
    assert facts.subjects("drift.psi") == drift
    performance = STORED["classification_exact"]["performance"]
    assert facts.value("performance.accuracy") == performance["accuracy"]
    assert set(facts.subjects("fairness.disparate_impact_ratio")) == {"gender"}
    purged = RunReports.from_payloads(STORED["purged"])
    facts = report_facts(purged, task_type="binary_classification", training={})
    assert facts.value("performance.n_labelled") is None
    assert facts.subjects("drift.psi").keys() == drift.keys()


@pytest.mark.parametrize("method", ["exact", "counts"])
def test_a_run_stores_what_the_models_name_and_no_version_field(
    client: TestClient, setup: Setup, method: str
) -> None:
    reference = client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(500)}, headers=setup.engineer
    )
    assert reference.status_code == 200, reference.text
    rows = prediction_rows(300, seed=5)
    logged = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert logged.status_code == 200, logged.text
    labels = [{"prediction_id": r["prediction_id"], "label": i % 2} for i, r in enumerate(rows)]
    client.post(f"{setup.url}/labels", json={"labels": labels}, headers=setup.engineer)
    body = {**WINDOW, "method": method}
    response = client.post(f"{setup.url}/monitoring/runs", json=body, headers=setup.engineer)
    assert response.status_code == 201, response.text
    reports: dict[str, Any] = response.json()["reports"]
    # The oversight report is stored once overrides are logged (tests/ingest/test_overrides.py).
    assert set(reports) == set(REPORT_MODELS) - {"oversight"}
    for kind, payload in reports.items():
        assert "schema_version" not in payload  # version 1 is inferred, the shape unchanged
        assert set(payload) == set(STORED[f"classification_{method}"][kind])
        assert extras(REPORT_MODELS[kind].model_validate(payload)) == []


def test_a_malformed_payload_is_refused_naming_the_field() -> None:
    payload = json.loads(json.dumps(STORED["classification_counts"]["drift"]))
    del payload["features"][0]["psi"]
    with pytest.raises(ValidationError, match=r"features\.0\.psi"):
        DriftReport.model_validate(payload)
