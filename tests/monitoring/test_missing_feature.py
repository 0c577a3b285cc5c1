"""A numeric feature with no value in a window: reported, its drift skipped, the run completes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.versions import Setup


@pytest.mark.parametrize("method", ["counts", "exact"])
def test_an_all_missing_numeric_feature_is_reported_not_fatal(
    client: TestClient, setup: Setup, method: str
) -> None:
    client.put(f"{setup.url}/reference", json={"rows": reference_rows(500)}, headers=setup.engineer)
    rows = prediction_rows(200)
    for row in rows[:100]:  # the first batch (one block) has no income at all
        row["features"]["income"] = None
    for batch in (rows[:100], rows[100:]):
        logged = client.post(
            f"{setup.url}/predictions", json={"rows": batch}, headers=setup.engineer
        )
        assert logged.status_code == 200, logged.text
    # The first 100 minutes hold only rows without income; the whole window mixes both.
    for end, skipped in ((timedelta(minutes=100), True), (timedelta(minutes=200), False)):
        window = {"start": BASE_TIME.isoformat(), "end": (BASE_TIME + end).isoformat()}
        response = client.post(
            f"{setup.url}/monitoring/runs",
            json={**window, "method": method},
            headers=setup.engineer,
        )
        assert response.status_code == 201, response.text
        run = response.json()
        assert run["status"] == "completed", run["error"]
        drift = run["reports"]["drift"]
        drifted = {f["feature"] for f in drift["features"]}
        quality = {f["name"]: f for f in run["reports"]["data_quality"]["features"]}
        if skipped:
            assert drift["skipped"] == [
                {"feature": "income", "reason": drift["skipped"][0]["reason"]}
            ]
            assert "missing" in drift["skipped"][0]["reason"]
            assert drifted == {"region", "gender"}
            assert quality["income"]["n_missing"] == 100
            assert quality["income"]["missing_rate"] == 1.0
        else:
            assert drift["skipped"] == []
            assert drifted == {"income", "region", "gender"}
            assert quality["income"]["n_missing"] == 100
