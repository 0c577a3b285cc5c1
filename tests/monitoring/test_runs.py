from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy import stats as scipy_stats
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.session import unit_of_work
from driftguard.ingest.blocks import decode_block
from driftguard.ingest.orm import PredictionBlock, PredictionBlockCounts
from driftguard.monitoring.runs import execute_run
from driftguard.registry.orm import ModelVersion
from support.after_run import assert_followed
from support.monitoring import BASE_TIME, prediction_rows, reference_rows, whole_block
from support.registry import create_version
from support.versions import Setup

WINDOW = {
    "start": BASE_TIME.isoformat(),
    "end": (BASE_TIME + timedelta(days=1)).isoformat(),
}


def _seed(client: TestClient, setup: Setup, *, shift: float = 0.0) -> tuple[list[Any], list[Any]]:
    reference = reference_rows(2_000)
    response = client.put(
        f"{setup.url}/reference", json={"rows": reference}, headers=setup.engineer
    )
    assert response.status_code == 200, response.text
    rows = prediction_rows(600, seed=5)
    for row in rows:
        row["features"]["income"] += shift
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 200, response.text
    return reference, rows


def test_an_exact_run_stores_drift_quality_and_fairness_reports(
    client: TestClient, setup: Setup
) -> None:
    reference, rows = _seed(client, setup, shift=2_500.0)
    body = {**WINDOW, "method": "exact"}
    response = client.post(f"{setup.url}/monitoring/runs", json=body, headers=setup.engineer)
    assert response.status_code == 201, response.text
    run = response.json()
    assert (run["status"], run["n_predictions"], run["n_labelled"]) == ("completed", 600, 0)
    assert set(run["reports"]) == {"drift", "data_quality", "fairness"}  # no labels yet
    drift = {f["feature"]: f for f in run["reports"]["drift"]["features"]}
    income, region = drift["income"], drift["region"]
    expected = scipy_stats.ks_2samp(
        [r["income"] for r in reference], [r["features"]["income"] for r in rows]
    )
    assert income["ks_statistic"] == pytest.approx(expected.statistic, abs=1e-12)
    assert income["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert (income["n_reference"], income["n_current"]) == (2_000, 600)
    assert income["psi"] > 1.0 > region["psi"]
    assert region["method"] == "chi_square"
    quality = {f["name"]: f for f in run["reports"]["data_quality"]["features"]}
    assert quality["income"]["out_of_range_rate"] > 0.2  # shifted past the reference maximum
    gender = run["reports"]["fairness"]["attributes"]["gender"]
    assert {g["group"] for g in gender["groups"]} == {"f", "m"}
    assert gender["equal_opportunity_difference"] is None  # needs labels


def test_blocks_stored_whole_before_the_split_give_the_same_reports(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    _seed(client, setup, shift=500.0)

    def reports() -> list[dict[str, Any]]:
        found = []
        for method in ("counts", "exact"):
            body = {**WINDOW, "method": method}
            run = client.post(f"{setup.url}/monitoring/runs", json=body, headers=setup.engineer)
            assert run.status_code == 201, run.text
            assert (run.json()["status"], run.json()["n_predictions"]) == ("completed", 600)
            found.append(run.json()["reports"])
        return found

    split = reports()
    with unit_of_work(session_factory) as s:  # as migration 0014 leaves older blocks
        for block in s.scalars(select(PredictionBlock)):
            whole = decode_block(block.decisions, block.features)
            block.decisions, block.features = None, whole_block(whole)
        s.execute(delete(PredictionBlockCounts))  # so the counts are taken from them again
    assert reports() == split


def test_labels_add_a_performance_report(client: TestClient, setup: Setup) -> None:
    _, rows = _seed(client, setup)
    # Floats, as pandas sends an integer column with gaps: 1.0 is the outcome 1.
    truth = {r["prediction_id"]: float(1 - r["prediction"]["label"]) for r in rows[:400]}
    truth.update({r["prediction_id"]: float(r["prediction"]["label"]) for r in rows[400:]})
    labels = [{"prediction_id": p, "label": v} for p, v in truth.items()]
    client.post(f"{setup.url}/labels", json={"labels": labels}, headers=setup.engineer)
    run = client.post(f"{setup.url}/monitoring/runs", json=WINDOW, headers=setup.engineer).json()
    performance = run["reports"]["performance"]
    assert performance["n_labelled"] == 600
    assert performance["accuracy"] == pytest.approx(200 / 600)
    y_true = np.array([truth[r["prediction_id"]] for r in rows])
    y_score = np.array([r["prediction"]["score"] for r in rows])
    from sklearn.metrics import roc_auc_score

    assert performance["roc_auc"] == pytest.approx(roc_auc_score(y_true, y_score), abs=1e-12)
    gender = run["reports"]["fairness"]["attributes"]["gender"]
    assert gender["equal_opportunity_difference"] is not None


def test_the_labels_that_arrived_are_matched_to_their_rows(
    client: TestClient, setup: Setup
) -> None:
    _, rows = _seed(client, setup)
    # Every third row labelled, with its own prediction for some and the opposite for others.
    labelled = rows[::3]
    truth = {
        r["prediction_id"]: r["prediction"]["label"] ^ (i % 4 == 0) for i, r in enumerate(labelled)
    }
    labels = [{"prediction_id": p, "label": v} for p, v in truth.items()]
    stored = client.post(f"{setup.url}/labels", json={"labels": labels}, headers=setup.engineer)
    assert stored.json()["stored"] == len(labelled) == 200, stored.text
    window = {"start": WINDOW["start"], "end": (BASE_TIME + timedelta(hours=5)).isoformat()}
    run = client.post(f"{setup.url}/monitoring/runs", json=window, headers=setup.engineer).json()
    inside = [r for r in labelled if r["timestamp"] < window["end"]]  # one row a minute
    assert run["n_labelled"] == len(inside) == 100
    performance = run["reports"]["performance"]
    assert performance["n_labelled"] == 100
    right = sum(truth[r["prediction_id"]] == r["prediction"]["label"] for r in inside)
    assert performance["accuracy"] == pytest.approx(right / 100)


def test_report_history_is_a_time_series(client: TestClient, setup: Setup) -> None:
    _seed(client, setup)
    for hours in (0, 3, 6):  # the 600 predictions span ten hours, one a minute
        window = {
            "start": (BASE_TIME + timedelta(hours=hours)).isoformat(),
            "end": (BASE_TIME + timedelta(hours=hours + 3)).isoformat(),
        }
        client.post(f"{setup.url}/monitoring/runs", json=window, headers=setup.engineer)
    page = client.get(
        f"{setup.url}/monitoring/reports", params={"kind": "drift"}, headers=setup.viewer
    ).json()
    assert page["total"] == 3
    starts = [r["window_start"] for r in page["items"]]
    assert starts == sorted(starts)
    later = client.get(
        f"{setup.url}/monitoring/reports",
        params={"kind": "drift", "from": (BASE_TIME + timedelta(hours=3)).isoformat()},
        headers=setup.viewer,
    ).json()
    assert later["total"] == 2


def test_without_reference_or_data(client: TestClient, setup: Setup) -> None:
    no_reference = client.post(f"{setup.url}/monitoring/runs", json=WINDOW, headers=setup.engineer)
    assert no_reference.status_code == 409
    assert no_reference.json()["error"] == "no_reference"
    client.put(f"{setup.url}/reference", json={"rows": reference_rows(50)}, headers=setup.engineer)
    empty = client.post(f"{setup.url}/monitoring/runs", json=WINDOW, headers=setup.engineer)
    assert empty.json()["status"] == "no_data"
    assert empty.json()["reports"] == {}


@pytest.mark.parametrize(
    "window",
    [
        {"start": WINDOW["end"], "end": WINDOW["start"]},
        {"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"},
        {"start": "2020-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
        {"start": WINDOW["start"]},
    ],
)
def test_bad_windows_are_422(client: TestClient, setup: Setup, window: dict[str, str]) -> None:
    response = client.post(f"{setup.url}/monitoring/runs", json=window, headers=setup.engineer)
    assert response.status_code == 422


def test_who_may_run_and_read(client: TestClient, setup: Setup) -> None:
    _seed(client, setup)
    url = f"{setup.url}/monitoring/runs"
    assert client.post(url, json=WINDOW, headers=setup.viewer).status_code == 403
    assert client.post(url, json=WINDOW, headers=setup.outsider).status_code == 404
    reports = f"{setup.url}/monitoring/reports"
    assert client.get(reports, headers=setup.viewer).status_code == 200
    assert client.get(reports, headers=setup.outsider).status_code == 404


def test_a_scheduled_window_cannot_run_twice(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    _seed(client, setup)
    key = f"{setup.version_id}:{WINDOW['start']}:{WINDOW['end']}"
    start, end = BASE_TIME, BASE_TIME + timedelta(days=1)
    with unit_of_work(session_factory) as session:
        version = session.scalar(select(ModelVersion).where(ModelVersion.id == setup.version_id))
        assert version is not None
        execute_run(
            session, version=version, start=start, end=end, trigger="scheduled", schedule_key=key
        )
    with unit_of_work(session_factory) as session:
        version = session.get(ModelVersion, setup.version_id)
        assert version is not None
        with pytest.raises(IntegrityError):
            execute_run(
                session,
                version=version,
                start=start,
                end=end,
                trigger="scheduled",
                schedule_key=key,
            )
        session.rollback()


def test_regression_performance_and_non_binary_fairness(client: TestClient, setup: Setup) -> None:
    version = create_version(client, setup.engineer, setup.model_id, task_type="regression")
    url = f"/api/v1/models/{setup.model_id}/versions/{version['number']}"
    client.put(f"{url}/reference", json={"rows": reference_rows(300)}, headers=setup.engineer)
    rows = prediction_rows(200, seed=3)
    for row in rows:
        row["prediction"] = {"label": "approve-later", "score": row["features"]["income"] / 1000}
    client.post(f"{url}/predictions", json={"rows": rows}, headers=setup.engineer)
    truth = [r["features"]["income"] / 1000 + (0.5 if i % 2 else -0.25) for i, r in enumerate(rows)]
    labels = [
        {"prediction_id": r["prediction_id"], "label": t} for r, t in zip(rows, truth, strict=True)
    ]
    client.post(f"{url}/labels", json={"labels": labels}, headers=setup.engineer)
    run = client.post(f"{url}/monitoring/runs", json=WINDOW, headers=setup.engineer).json()
    performance = run["reports"]["performance"]
    scores = np.array([r["prediction"]["score"] for r in rows])
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    assert performance["mae"] == pytest.approx(mean_absolute_error(truth, scores), abs=1e-12)
    assert performance["rmse"] == pytest.approx(root_mean_squared_error(truth, scores), abs=1e-12)
    assert "skipped" in run["reports"]["fairness"]  # "approve-later" is not a binary decision


def test_a_counts_run_matches_the_exact_one_within_the_stated_bound(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    _seed(client, setup, shift=800.0)
    with session_factory() as s:  # the block was reduced to counts when it was logged
        assert s.scalar(select(func.count()).select_from(PredictionBlockCounts)) == 1
    # A window that cuts the block: its rows inside the window are counted on the fly.
    window = {"start": WINDOW["start"], "end": (BASE_TIME + timedelta(hours=7)).isoformat()}
    exact = client.post(
        f"{setup.url}/monitoring/runs", json={**window, "method": "exact"}, headers=setup.engineer
    ).json()
    counts = client.post(f"{setup.url}/monitoring/runs", json=window, headers=setup.engineer).json()
    assert counts["n_predictions"] == exact["n_predictions"] == 420
    by_exact = {f["feature"]: f for f in exact["reports"]["drift"]["features"]}
    for feature in counts["reports"]["drift"]["features"]:
        reference = by_exact[feature["feature"]]
        assert feature["psi"] == pytest.approx(reference["psi"], rel=1e-12)
        assert feature["jensen_shannon"] == pytest.approx(reference["jensen_shannon"], rel=1e-12)
        assert feature["n_current"] == reference["n_current"]
        if feature["kind"] == "numeric":
            low, high = feature["ks_statistic"], feature["ks_statistic_upper_bound"]
            assert low <= reference["ks_statistic"] <= high
            assert high - low <= feature["ks_error_bound"]
        else:
            assert feature["chi_square"] == pytest.approx(reference["chi_square"], rel=1e-12)
    assert counts["reports"]["drift"]["method"] == "counts"
    assert counts["reports"]["fairness"] == exact["reports"]["fairness"]


def test_counts_follow_the_active_reference(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    _seed(client, setup)
    client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(500, seed=9)}, headers=setup.engineer
    )
    run = client.post(f"{setup.url}/monitoring/runs", json=WINDOW, headers=setup.engineer).json()
    assert run["status"] == "completed"
    with session_factory() as s:
        profiles = set(s.scalars(select(PredictionBlockCounts.profile_id)))
    assert len(profiles) == 2  # the block, counted once per reference profile


def test_a_run_requested_through_the_api_is_followed_by_governance_after_run(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    _seed(client, setup)
    response = client.post(f"{setup.url}/monitoring/runs", json=WINDOW, headers=setup.engineer)
    assert response.status_code == 201, response.text
    seen = assert_followed(session_factory, setup.version_id)
    assert (seen.runs, seen.latest_completed_id) == (1, response.json()["id"])
