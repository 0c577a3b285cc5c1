"""What a run stores is exactly what the code stored before the reports became typed models:
for fixed inputs, every report's JSON, key order included, equals the fixture
``data/stored_payloads.json`` (written by the code that built the reports as dicts). On
SQLite the stored text is compared byte for byte; PostgreSQL's jsonb orders keys its own way."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.schemas import SYSTEM
from driftguard.db.session import unit_of_work
from driftguard.ingest import storage_maintenance
from driftguard.monitoring.orm import MonitoringReport
from driftguard.monitoring.report_models import REPORT_MODELS
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.registry import create_version
from support.versions import Setup

EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "stored_payloads.json").read_text()
)
DAY = timedelta(days=1)


pytestmark = pytest.mark.usefixtures("no_dated_partitions")


def post(client: TestClient, setup: Setup, path: str, body: dict[str, Any], url: str = "") -> Any:
    response = client.request(
        "PUT" if path == "reference" else "POST",
        f"{url or setup.url}/{path}",
        json=body,
        headers=setup.engineer,
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def window(days: int = 1, **extra: str) -> dict[str, str]:
    return {"start": BASE_TIME.isoformat(), "end": (BASE_TIME + days * DAY).isoformat(), **extra}


def classification(
    client: TestClient, setup: Setup, factory: sessionmaker[Session], *, method: str, labelled: int
) -> Any:
    post(client, setup, "reference", {"rows": reference_rows(500)})
    rows = prediction_rows(300, seed=5)
    post(client, setup, "predictions", {"rows": rows})
    labels = [{"prediction_id": r["prediction_id"], "label": i % 2} for i, r in enumerate(rows)]
    post(client, setup, "labels", {"labels": labels[:labelled]})
    return post(client, setup, "monitoring/runs", window(method=method))


def missing_income(client: TestClient, setup: Setup, factory: sessionmaker[Session]) -> Any:
    post(client, setup, "reference", {"rows": reference_rows(500)})
    rows = prediction_rows(100)
    for row in rows:
        row["features"]["income"] = None
    post(client, setup, "predictions", {"rows": rows})
    return post(client, setup, "monitoring/runs", window(method="exact"))


def regression(client: TestClient, setup: Setup, factory: sessionmaker[Session]) -> Any:
    version = create_version(client, setup.engineer, setup.model_id, task_type="regression")
    url = f"/api/v1/models/{setup.model_id}/versions/{version['number']}"
    post(client, setup, "reference", {"rows": reference_rows(300)}, url)
    rows = prediction_rows(200, seed=3)
    for row in rows:
        row["prediction"] = {"label": "approve-later", "score": row["features"]["income"] / 1000}
    post(client, setup, "predictions", {"rows": rows}, url)
    labels = [
        {"prediction_id": r["prediction_id"], "label": r["features"]["income"] / 1000 + i % 3}
        for i, r in enumerate(rows)
    ]
    post(client, setup, "labels", {"labels": labels}, url)
    return post(client, setup, "monitoring/runs", window(), url)


def purged(client: TestClient, setup: Setup, factory: sessionmaker[Session]) -> Any:
    post(client, setup, "reference", {"rows": reference_rows(400)})
    rows = prediction_rows(300)
    for row in rows:
        row["features"]["income"] *= 1.3
    post(client, setup, "predictions", {"rows": rows})
    with unit_of_work(factory) as s:
        storage_maintenance.purge(s, before=BASE_TIME + 2 * DAY, actor=SYSTEM)
    return post(client, setup, "monitoring/runs", window(method="exact"))


SCENARIOS: dict[str, Callable[[TestClient, Setup, sessionmaker[Session]], Any]] = {
    "classification_exact": lambda c, s, f: classification(c, s, f, method="exact", labelled=300),
    "classification_counts_partly_labelled": lambda c, s, f: classification(
        c, s, f, method="counts", labelled=120
    ),
    "missing_income_exact": missing_income,
    "regression_counts": regression,
    "purged": purged,
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_run_stores_the_same_json_as_before(
    client: TestClient,
    setup: Setup,
    engine: Engine,
    session_factory: sessionmaker[Session],
    scenario: str,
) -> None:
    run = SCENARIOS[scenario](client, setup, session_factory)
    assert run["status"] == "completed", run["error"]
    expected = EXPECTED[scenario]
    assert run["reports"] == expected
    with session_factory() as s:
        stored = dict(
            s.execute(
                select(MonitoringReport.kind, MonitoringReport.payload)
                .where(MonitoringReport.run_id == run["id"])
                .order_by(MonitoringReport.id)
            ).all()
        )
    assert stored == expected
    # Stored as text on SQLite: the very bytes, key order included. (The order of the rows, one
    # per kind, is not part of a payload: the run stores them in ``REPORT_MODELS`` order.)
    if engine.dialect.name == "sqlite":
        assert list(stored) == [kind for kind in REPORT_MODELS if kind in expected]
        for kind, payload in expected.items():
            assert json.dumps(stored[kind]) == json.dumps(payload), kind
