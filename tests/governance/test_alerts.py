from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit import service as audit
from driftguard.audit.orm import AuditRecord
from driftguard.db.session import unit_of_work
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.versions import Setup


def window(day: int) -> dict[str, str]:
    start = BASE_TIME + timedelta(days=day)
    return {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}


def log_day(client: TestClient, setup: Setup, day: int, *, drifted: bool) -> None:
    rows = prediction_rows(400, start=day * 1000, seed=day)
    for i, row in enumerate(rows):
        row["timestamp"] = (BASE_TIME + timedelta(days=day, minutes=2 * i)).isoformat()
        if drifted:
            row["features"]["income"] += 3_000
            # The model approves men and rejects most women.
            row["prediction"]["label"] = 1 if row["features"]["gender"] == "m" or i % 5 == 0 else 0
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 200, response.text


def run(client: TestClient, setup: Setup, day: int) -> dict[str, Any]:
    response = client.post(f"{setup.url}/monitoring/runs", json=window(day), headers=setup.engineer)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def active(client: TestClient, setup: Setup) -> dict[tuple[str, str], dict[str, Any]]:
    page = client.get("/api/v1/alerts", headers=setup.viewer).json()
    return {(a["rule"], a["subject"]): a for a in page["items"]}


def test_alerts_open_deduplicate_and_resolve_themselves(client: TestClient, setup: Setup) -> None:
    client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(2_000)}, headers=setup.engineer
    )
    log_day(client, setup, 0, drifted=True)
    log_day(client, setup, 1, drifted=False)
    run(client, setup, 0)
    opened = active(client, setup)
    assert ("psi", "income") in opened
    assert ("distribution_test", "income") in opened
    assert ("disparate_impact", "gender") in opened
    impact = opened[("disparate_impact", "gender")]
    assert (impact["severity"], impact["operator"], impact["threshold"]) == ("critical", "<", 0.8)
    assert impact["observed"] < 0.8
    assert ("psi", "region") not in opened

    run(client, setup, 0)  # the same findings again: still one alert each
    assert active(client, setup).keys() == opened.keys()

    run(client, setup, 1)  # the next day is clean: the alerts resolve themselves
    assert active(client, setup) == {}
    resolved = client.get(
        "/api/v1/alerts", params={"status": "resolved"}, headers=setup.viewer
    ).json()
    assert resolved["total"] == len(opened)
    assert all("condition cleared" in a["resolution"] for a in resolved["items"])

    run(client, setup, 0)  # re-running an older window does not reopen anything
    assert active(client, setup) == {}


def test_acknowledge_and_resolve_by_hand(client: TestClient, setup: Setup) -> None:
    client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(2_000)}, headers=setup.engineer
    )
    log_day(client, setup, 0, drifted=True)
    run(client, setup, 0)
    alert = active(client, setup)[("psi", "income")]
    url = f"/api/v1/alerts/{alert['id']}"
    assert client.post(f"{url}/acknowledge", headers=setup.viewer).status_code == 403
    assert client.post(f"{url}/acknowledge", headers=setup.outsider).status_code == 404
    acked = client.post(f"{url}/acknowledge", headers=setup.engineer)
    assert acked.json()["status"] == "acknowledged"
    assert client.post(f"{url}/acknowledge", headers=setup.engineer).status_code == 409
    done = client.post(f"{url}/resolve", json={"comment": "retrained"}, headers=setup.engineer)
    assert (done.json()["status"], done.json()["resolution"]) == ("resolved", "retrained")
    assert client.post(f"{url}/resolve", json={}, headers=setup.engineer).status_code == 409
    assert client.get("/api/v1/alerts", headers=setup.outsider).json()["total"] == 0
    critical = client.get(
        "/api/v1/alerts", params={"severity": "critical"}, headers=setup.viewer
    ).json()
    assert {a["rule"] for a in critical["items"]} == {"disparate_impact"}


def test_data_and_monitoring_changes_are_audited(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    client.put(f"{setup.url}/reference", json={"rows": reference_rows(500)}, headers=setup.engineer)
    log_day(client, setup, 0, drifted=True)
    labels = [{"prediction_id": "p-0", "label": 1}]
    client.post(f"{setup.url}/labels", json={"labels": labels}, headers=setup.engineer)
    run(client, setup, 0)
    alert = active(client, setup)[("psi", "income")]
    client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=setup.engineer)
    client.post(f"/api/v1/alerts/{alert['id']}/resolve", json={}, headers=setup.engineer)
    with session_factory() as s:
        actions = list(
            s.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.kind == "change")
                .order_by(AuditRecord.seq)
            )
        )
    tail = [
        a
        for a in actions
        if a.split(".")[0] in {"reference", "predictions", "labels", "monitoring", "alert"}
    ]
    assert tail == [
        "reference.set",
        "predictions.log",
        "labels.log",
        "monitoring.run",
        "alert.acknowledge",
        "alert.resolve",
    ]
    with unit_of_work(session_factory) as session:
        assert audit.verify(session).ok
