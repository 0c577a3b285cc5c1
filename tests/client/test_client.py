from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx2
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from driftguard.cli import log as log_command
from driftguard.cli.main import app
from driftguard.client import Client, DriftGuardAPIError
from driftguard.identity.permissions import Role
from support.identity import auth_headers, make_team, make_user
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.registry import create_model, create_version


@pytest.fixture
def sdk(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Client:
    team = make_team(session_factory)
    engineer = auth_headers(
        client, make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    )
    model = create_model(client, engineer, team, name="credit-pd")
    create_version(client, engineer, model["id"])
    key = client.post(f"/api/v1/teams/{team}/api-keys", json={"name": "sdk"}, headers=engineer)
    return Client(api_key=key.json()["key"], http=client, backoff_seconds=0)


def record_paths(sdk: Client) -> None:
    paths: list[str] = []
    sdk._http.event_hooks = {"request": [lambda r: paths.append(r.url.path)], "response": []}
    sdk.sent_paths = paths  # type: ignore[attr-defined]


def sent_paths(sdk: Client) -> list[str]:
    paths: list[str] = sdk.sent_paths  # type: ignore[attr-defined]
    return paths


def frame(count: int, start: int = 0) -> pd.DataFrame:
    rows = prediction_rows(count, start=start)
    return pd.DataFrame(
        {
            "id": [r["prediction_id"] for r in rows],
            "ts": pd.to_datetime([r["timestamp"] for r in rows], utc=True),
            "income": [r["features"]["income"] for r in rows],
            "region": [r["features"]["region"] for r in rows],
            "gender": [r["features"]["gender"] for r in rows],
            "label": [r["prediction"]["label"] for r in rows],
            "score": [r["prediction"]["score"] for r in rows],
        }
    )


def test_a_reference_too_large_for_one_json_body_goes_as_one_file(sdk: Client) -> None:
    # 260,000 rows of four columns: over a million JSON values, which a JSON body may not hold.
    rows = reference_rows(1_000)
    large = pd.DataFrame(rows * 260)
    record_paths(sdk)
    reference = sdk.set_reference("credit-pd", 1, large)
    assert reference["row_count"] == 260_000
    assert sent_paths(sdk)[-1] == "/api/v1/models/1/versions/1/reference/upload"


def test_the_sdk_round_trip_from_pandas(sdk: Client) -> None:
    reference = sdk.set_reference("credit-pd", 1, pd.DataFrame(reference_rows(300)))
    assert reference["row_count"] == 300
    record_paths(sdk)
    logged = sdk.log_predictions(
        "credit-pd",
        1,
        frame(25_000),
        id_col="id",
        timestamp_col="ts",
        prediction_col="label",
        score_col="score",
        sensitive_cols=["gender"],
    )
    assert logged == {"received": 25_000, "new": 25_000, "duplicates": 0}
    # More than one JSON batch's worth goes as one Parquet file.
    assert [p for p in sent_paths(sdk) if "predictions" in p] == [
        "/api/v1/models/1/versions/1/predictions/upload"
    ]
    again = sdk.log_predictions(
        "credit-pd",
        1,
        frame(10, start=24_995),
        id_col="id",
        timestamp_col="ts",
        prediction_col="label",
        score_col="score",
    )
    assert (again["new"], again["duplicates"]) == (5, 5)
    labels = pa.table({"id": ["p-1", "p-2", "missing"], "outcome": [1, 0, 1]})
    stored = sdk.log_labels("credit-pd", 1, labels, id_col="id", label_col="outcome")
    assert (stored["stored"], stored["unknown_prediction_ids"]) == (2, ["missing"])
    run = sdk.run_monitoring("credit-pd", 1, start=BASE_TIME, end=BASE_TIME + timedelta(days=1))
    assert run["status"] == "completed"
    drift = sdk.get_drift("credit-pd", 1)
    assert len(drift) == 1
    assert {f["feature"] for f in drift[0]["payload"]["features"]} == {"income", "region", "gender"}


def test_errors_carry_the_server_answer(sdk: Client) -> None:
    bad = frame(3)
    bad["income"] = ["a", "b", "c"]
    with pytest.raises(DriftGuardAPIError) as caught:
        sdk.log_predictions(
            "credit-pd",
            1,
            bad,
            id_col="id",
            timestamp_col="ts",
            prediction_col="label",
            score_col="score",
        )
    assert caught.value.status == 422
    assert caught.value.details[0]["loc"] == "rows.0.features.income"
    with pytest.raises(LookupError):
        sdk.model_id("no-such-model")


def test_retries_reuse_the_idempotency_key(sdk: Client) -> None:
    """A batch whose response was lost is sent again with the same key, and stored once."""
    real = sdk._http
    sent: list[str] = []

    def flaky(request: httpx2.Request) -> httpx2.Response:
        sent.append(request.headers.get("Idempotency-Key", ""))
        forwarded = real.request(
            request.method, str(request.url), content=request.content, headers=request.headers
        )
        if len(sent) == 1:  # the server stored it, but the answer never arrived
            return httpx2.Response(503, json={"error": "unavailable"})
        return httpx2.Response(forwarded.status_code, content=forwarded.content)

    sdk.model_id("credit-pd")  # resolve the name before the transport turns flaky
    sdk._http = httpx2.Client(transport=httpx2.MockTransport(flaky), base_url="http://testserver")
    result = sdk.log_predictions(
        "credit-pd",
        1,
        frame(20),
        id_col="id",
        timestamp_col="ts",
        prediction_col="label",
        score_col="score",
    )
    assert len(sent) == 2
    assert sent[0] == sent[1] != ""
    assert (result["new"], result["duplicates"]) == (20, 0)  # the first answer, replayed


def test_configuration_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFTGUARD_API_KEY", raising=False)
    with pytest.raises(ValueError, match="api_key"):
        Client(url="http://127.0.0.1:1")
    monkeypatch.setenv("DRIFTGUARD_API_KEY", "dgk_x")
    monkeypatch.delenv("DRIFTGUARD_URL", raising=False)
    with pytest.raises(ValueError, match="url"):
        Client()


def test_the_log_command_sends_a_file(
    sdk: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "predictions.parquet"
    pq.write_table(pa.Table.from_pandas(frame(120), preserve_index=False), path)

    class Borrowed(Client):
        def close(self) -> None:  # the test's HTTP client outlives each command
            return None

    key = sdk._headers["X-API-Key"]
    monkeypatch.setattr(log_command, "make_client", lambda: Borrowed(api_key=key, http=sdk._http))
    record_paths(sdk)
    result = CliRunner().invoke(
        app,
        [
            "log",
            "predictions",
            str(path),
            "--model",
            "credit-pd",
            "--version",
            "1",
            "--id-col",
            "id",
            "--timestamp-col",
            "ts",
            "--prediction-col",
            "label",
            "--score-col",
            "score",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "received 120, new 120, duplicates 0" in result.output
    # The file went as one file upload, not as JSON batches.
    assert sent_paths(sdk)[-1].endswith("/predictions/upload")
    bad = CliRunner().invoke(
        app, ["log", "predictions", str(path), "--model", "credit-pd", "--version", "1"]
    )
    assert bad.exit_code == 3
    assert "columns.prediction_id: is missing" in bad.output


def test_files_are_sent_as_they_are(sdk: Client, tmp_path: Path) -> None:
    path = tmp_path / "predictions.csv"
    frame(40).rename(columns={"id": "prediction_id", "ts": "timestamp"}).to_csv(path, index=False)
    first = sdk.upload_predictions("credit-pd", 1, path)
    assert first == {**first, "received": 40, "new": 40, "duplicates": 0}
    again = sdk.upload_predictions("credit-pd", 1, path)  # same file: the first answer replayed
    assert again == first
    with pytest.raises(ValueError, match="must end in one of"):
        sdk.upload_predictions("credit-pd", 1, tmp_path / "predictions.xlsx")
