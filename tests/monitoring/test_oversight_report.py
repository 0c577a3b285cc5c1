"""A monitoring run counts the humans' overrides of its window's predictions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.monitoring.orm import VersionFacts
from driftguard.monitoring.report_models import OversightReport
from driftguard.rules import Facts, evaluate_deployment
from driftguard.rules.document import parse_policy
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.versions import Setup


def run(client: TestClient, setup: Setup, start_hour: int, hours: int) -> dict[str, Any]:
    start = BASE_TIME + timedelta(hours=start_hour)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()}
    response = client.post(f"{setup.url}/monitoring/runs", json=window, headers=setup.engineer)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def overrides(ids: list[str]) -> dict[str, Any]:
    return {
        "overrides": [
            {
                "prediction_id": i,
                "original_decision": "approve",
                "final_decision": "decline",
                "reason": "fraud signal the model cannot see",
            }
            for i in ids
        ]
    }


def test_each_window_reports_its_override_rate_exactly(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(1_000)}, headers=setup.engineer
    )
    # 600 predictions, one a minute: p-0 … p-299 in the first five hours, the rest after.
    rows = prediction_rows(600, seed=3)
    logged = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert logged.status_code == 200, logged.text
    before = run(client, setup, 0, 5)
    assert "oversight" not in before["reports"]  # no override logged yet: nothing to report

    first = [f"p-{i}" for i in range(0, 300, 25)]  # 12 in the first window
    second = ["p-300", "p-450", "p-599"]  # 3 in the second
    response = client.post(
        f"{setup.url}/overrides",
        json=overrides([*first, *second, "not-logged-1", "not-logged-2"]),
        headers=setup.engineer,
    )
    assert response.status_code == 200, response.text

    early = run(client, setup, 0, 5)["reports"]["oversight"]
    assert early == {
        "n_predictions": 300,
        "n_overrides": 12,
        "override_rate": 0.04,
        "source": "raw",
    }
    assert OversightReport.model_validate(early).override_rate == 12 / 300
    late = run(client, setup, 5, 5)["reports"]["oversight"]
    assert late == {"n_predictions": 300, "n_overrides": 3, "override_rate": 0.01, "source": "raw"}
    whole = run(client, setup, 0, 24)["reports"]["oversight"]
    assert (whole["n_predictions"], whole["n_overrides"]) == (600, 15)  # unmatched: no window
    assert whole["override_rate"] == 15 / 600
    history = client.get(
        f"{setup.url}/monitoring/reports", params={"kind": "oversight"}, headers=setup.viewer
    )
    assert history.status_code == 200, history.text
    assert sorted(r["payload"]["n_overrides"] for r in history.json()["items"]) == [3, 12, 15]

    # The newest window's rate is a policy fact, which a rule can judge.
    with unit_of_work(session_factory) as session:
        snapshot = session.get(VersionFacts, setup.version_id)
        assert snapshot is not None
        assert snapshot.facts["oversight.override_rate"] == {"": 15 / 600}
        facts = Facts(snapshot.facts)
    policy = parse_policy(
        {
            "rules": [
                {
                    "name": "overrides",
                    "fact": "oversight.override_rate",
                    "operator": "<",
                    "threshold": 0.02,
                    "severity": "block",
                }
            ]
        }
    )
    assert evaluate_deployment(policy, facts, environment="production").outcome == "blocked"
