"""Monitoring over windows whose raw predictions retention purged: drift and data quality from
the kept counts (PSI exact, KS within its stated bound), fairness and performance unavailable
with a reason, and every report saying which path it came from."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.audit.schemas import SYSTEM
from driftguard.db.session import unit_of_work
from driftguard.ingest import storage_maintenance
from driftguard.ingest.orm import PredictionBlock, PredictionBlockCounts
from driftguard.monitoring.purged import EDGE, FAIRNESS_UNAVAILABLE, PERFORMANCE_UNAVAILABLE
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.versions import Setup

DAY = timedelta(days=1)


pytestmark = pytest.mark.usefixtures("no_dated_partitions")


def day_rows(day: int, count: int, *, first: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` rows on BASE_TIME + ``day`` days, one a minute, ids p-{first}..."""
    rows = prediction_rows(count, start=first, seed=seed)
    for index, row in enumerate(rows):
        row["timestamp"] = (BASE_TIME + day * DAY + index * timedelta(minutes=1)).isoformat()
        # Drift against the reference: incomes shifted upwards.
        row["features"]["income"] = row["features"]["income"] * 1.3
    return rows


def log(client: TestClient, setup: Setup, rows: list[dict[str, Any]]) -> None:
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 200, response.text


def set_reference(client: TestClient, setup: Setup) -> None:
    response = client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(400)}, headers=setup.engineer
    )
    assert response.status_code == 200, response.text


def run(
    client: TestClient, setup: Setup, start: datetime, end: datetime, method: str = "counts"
) -> dict[str, Any]:
    window = {"start": start.isoformat(), "end": end.isoformat(), "method": method}
    response = client.post(f"{setup.url}/monitoring/runs", json=window, headers=setup.engineer)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def purge(factory: sessionmaker[Session], before: datetime) -> storage_maintenance.PurgeResult:
    with unit_of_work(factory) as s:
        return storage_maintenance.purge(s, before=before, actor=SYSTEM)


def features(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["feature"]: row for row in report["features"]}


def test_a_purged_window_reports_the_same_drift_from_its_counts(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    set_reference(client, setup)
    log(client, setup, day_rows(0, 300, first=0) + day_rows(4, 50, first=1000))
    labels = [{"prediction_id": f"p-{i}", "label": i % 2} for i in range(300)]
    response = client.post(f"{setup.url}/labels", json={"labels": labels}, headers=setup.engineer)
    assert response.status_code == 200, response.text
    start, end = BASE_TIME, BASE_TIME + DAY
    counted, exact = run(client, setup, start, end), run(client, setup, start, end, "exact")
    for before in (counted, exact):
        assert {r["source"] for r in before["reports"].values()} == {"raw"}
    assert "attributes" in counted["reports"]["fairness"]
    assert counted["reports"]["performance"]["n_labelled"] == 300

    result = purge(session_factory, BASE_TIME + 2 * DAY)
    assert (result.blocks, result.records, result.labels) == (1, 300, 300)

    after = run(client, setup, start, end)
    assert after["status"] == "completed"
    assert after["n_predictions"] == counted["n_predictions"] == 300
    reports = after["reports"]
    assert {r["source"] for r in reports.values()} == {"counts"}
    assert reports["fairness"] == {"unavailable": FAIRNESS_UNAVAILABLE, "source": "counts"}
    assert reports["performance"] == {"unavailable": PERFORMANCE_UNAVAILABLE, "source": "counts"}
    assert reports["drift"]["purged"] == {"blocks": 1, "predictions": 300, "left_out": []}
    drift, raw_counts, raw_exact = (
        features(reports["drift"]),
        features(counted["reports"]["drift"]),
        features(exact["reports"]["drift"]),
    )
    assert set(drift) == set(raw_exact) == {"income", "region", "gender"}
    for name, row in drift.items():
        # PSI and Jensen-Shannon: the same counts, the same numbers (and the exact method's).
        assert row["psi"] == pytest.approx(raw_counts[name]["psi"], rel=1e-12, abs=1e-15)
        assert row["psi"] == pytest.approx(raw_exact[name]["psi"], rel=1e-9, abs=1e-12)
        assert row["jensen_shannon"] == pytest.approx(raw_exact[name]["jensen_shannon"], rel=1e-9)
        assert row["n_current"] == raw_exact[name]["n_current"]
    assert drift["income"]["psi"] > 0.05  # the shift is measured, not an empty report
    # KS from the grid counts brackets the exact statistic within the stated bound.
    ks, exact_ks = drift["income"], raw_exact["income"]["ks_statistic"]
    assert ks["method"] == "ks_grid"
    assert ks["ks_statistic"] <= exact_ks + 1e-12
    assert exact_ks <= ks["ks_statistic_upper_bound"] + 1e-12
    assert ks["ks_statistic_upper_bound"] - ks["ks_statistic"] <= ks["ks_error_bound"] + 1e-12
    quality = {row["name"]: row for row in reports["data_quality"]["features"]}
    assert quality["income"]["n"] == 300

    # An exact run cannot read purged values: it says it used the counts.
    exact_after = run(client, setup, start, end, "exact")
    assert exact_after["reports"]["drift"]["method"] == "counts"
    assert exact_after["reports"]["drift"]["source"] == "counts"
    # The window that was not purged is still read raw.
    kept = run(client, setup, BASE_TIME + 4 * DAY, BASE_TIME + 5 * DAY)
    assert {r["source"] for r in kept["reports"].values()} == {"raw"}


def test_a_partly_purged_window_merges_kept_counts_with_stored_rows(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    set_reference(client, setup)
    log(client, setup, day_rows(0, 120, first=0) + day_rows(3, 80, first=500, seed=3))
    start, end = BASE_TIME, BASE_TIME + 4 * DAY
    before = run(client, setup, start, end)
    purge(session_factory, BASE_TIME + DAY)
    after = run(client, setup, start, end)
    assert after["n_predictions"] == before["n_predictions"] == 200
    assert after["reports"]["drift"]["source"] == "counts"
    assert after["reports"]["drift"]["purged"]["predictions"] == 120
    old, new = features(before["reports"]["drift"]), features(after["reports"]["drift"])
    for name, row in new.items():
        assert row["psi"] == pytest.approx(old[name]["psi"], rel=1e-12, abs=1e-15)


def test_predictions_logged_before_the_reference_are_counted_before_they_are_purged(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    log(client, setup, day_rows(0, 100, first=0))
    set_reference(client, setup)  # after the predictions: their block has no counts yet
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(PredictionBlockCounts)) == 0
    result = purge(session_factory, BASE_TIME + DAY)
    assert (result.blocks, result.blocks_counted) == (1, 1)
    after = run(client, setup, BASE_TIME, BASE_TIME + DAY)
    assert after["status"] == "completed"
    assert after["reports"]["drift"]["purged"]["predictions"] == 100
    assert after["reports"]["drift"]["features"] != []


def test_a_window_inside_a_purged_block_says_why_it_has_no_reports(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    set_reference(client, setup)
    log(client, setup, day_rows(0, 300, first=0))  # one block: 00:00 to 04:59
    hour = run(client, setup, BASE_TIME + timedelta(hours=1), BASE_TIME + timedelta(hours=2))
    assert hour["n_predictions"] == 60
    purge(session_factory, BASE_TIME + DAY)
    after = run(client, setup, BASE_TIME + timedelta(hours=1), BASE_TIME + timedelta(hours=2))
    assert after["status"] == "no_data"
    assert after["reports"] == {}
    assert after["error"] is not None
    assert f"1 {EDGE}" in after["error"]
    # A window with nothing ever logged stays plain no_data.
    empty = run(client, setup, BASE_TIME + 9 * DAY, BASE_TIME + 10 * DAY)
    assert (empty["status"], empty["error"]) == ("no_data", None)


def test_new_blocks_never_take_a_purged_blocks_id(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    set_reference(client, setup)
    log(client, setup, day_rows(0, 50, first=0))
    with session_factory() as s:
        purged_id = s.scalar(select(func.max(PredictionBlock.id)))
    purge(session_factory, BASE_TIME + DAY)  # every block goes, the newest too
    log(client, setup, day_rows(1, 40, first=100, seed=5))
    with session_factory() as s:
        new_id = s.scalar(select(func.max(PredictionBlock.id)))
    assert purged_id is not None
    assert new_id is not None
    assert new_id > purged_id
    old_day = run(client, setup, BASE_TIME, BASE_TIME + DAY)
    new_day = run(client, setup, BASE_TIME + DAY, BASE_TIME + 2 * DAY)
    assert (old_day["n_predictions"], old_day["reports"]["drift"]["source"]) == (50, "counts")
    assert (new_day["n_predictions"], new_day["reports"]["drift"]["source"]) == (40, "raw")
