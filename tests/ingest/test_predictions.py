from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.api import json_body
from driftguard.db.session import unit_of_work
from driftguard.ingest import repository, service
from driftguard.ingest.blocks import decode_block
from driftguard.ingest.frames import ID, LABEL, SCORE, TAGS, TS
from driftguard.ingest.orm import IngestReceipt, PredictionBlock, PredictionRecord
from driftguard.ingest.schemas import PredictionBatch
from support.monitoring import BASE_TIME, prediction_rows
from support.versions import Setup


def stored(session_factory: sessionmaker[Session], table: type[Any] = PredictionRecord) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def test_a_batch_is_stored_and_loads_back_as_columns(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    rows = prediction_rows(50)
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["received"], body["new"], body["duplicates"]) == (50, 50, 0)
    with session_factory() as s:
        window = service.load_window(
            s, version_id=setup.version_id, start=BASE_TIME, end=BASE_TIME + timedelta(minutes=10)
        )
    assert window.column(ID).to_pylist() == [f"p-{i}" for i in range(10)]
    income = window.column("income").to_numpy()
    assert income.dtype == np.float64
    assert np.allclose(income, [r["features"]["income"] for r in rows[:10]])
    assert window.column("region").to_pylist() == [r["features"]["region"] for r in rows[:10]]
    assert window.column(LABEL).to_pylist() == [str(r["prediction"]["label"]) for r in rows[:10]]
    assert np.allclose(
        window.column(SCORE).to_numpy(), [r["prediction"]["score"] for r in rows[:10]]
    )


def test_a_window_of_decisions_is_loaded_without_fetching_the_features(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    rows = prediction_rows(20)
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 200, response.text
    with unit_of_work(session_factory) as s:
        block = s.scalars(select(PredictionBlock)).one()
        decided = decode_block(block.decisions, None).column_names
        assert set(decided) == {ID, TS, LABEL, SCORE, TAGS, "gender"}  # gender: sensitive
        assert set(decode_block(None, block.features).column_names) == {"income", "region"}
        block.features = b"not an Arrow file"  # a reader that fetched the features would fail

    def load(columns: list[str]) -> pa.Table:
        with session_factory() as s:
            return service.load_window(
                s,
                version_id=setup.version_id,
                start=BASE_TIME,
                end=BASE_TIME + timedelta(hours=1),
                columns=columns,
            )

    window = load([LABEL, SCORE, "gender"])
    assert window.column("gender").to_pylist() == [r["features"]["gender"] for r in rows]
    assert window.column(SCORE).to_pylist() == [r["prediction"]["score"] for r in rows]
    with pytest.raises(pa.ArrowInvalid):
        load(["income"])


def test_resent_rows_are_counted_not_duplicated(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    client.post(
        f"{setup.url}/predictions", json={"rows": prediction_rows(30)}, headers=setup.engineer
    )
    again = client.post(
        f"{setup.url}/predictions", json={"rows": prediction_rows(40)}, headers=setup.engineer
    ).json()
    assert (again["received"], again["new"], again["duplicates"]) == (40, 10, 30)
    assert stored(session_factory) == 40
    everything = client.post(
        f"{setup.url}/predictions", json={"rows": prediction_rows(40)}, headers=setup.engineer
    ).json()
    assert everything["new"] == 0
    assert stored(session_factory, PredictionBlock) == 2


@pytest.mark.parametrize("probe_limit", [0, 20_000])
def test_known_ids_are_found_whether_probed_or_matched_as_a_set(
    client: TestClient, setup: Setup, monkeypatch: pytest.MonkeyPatch, probe_limit: int
) -> None:
    monkeypatch.setattr(repository, "_PROBE_LIMIT", probe_limit)  # PostgreSQL's two queries
    client.post(
        f"{setup.url}/predictions", json={"rows": prediction_rows(25)}, headers=setup.engineer
    )
    again = client.post(
        f"{setup.url}/predictions", json={"rows": prediction_rows(60)}, headers=setup.engineer
    ).json()
    assert (again["new"], again["duplicates"]) == (35, 25)


def test_ids_are_stored_exactly_as_sent(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    # Characters that COPY's text format or a delimiter would mangle if not escaped.
    odd = ["back\\slash", "\\N", "tab-less\\t", "quote'\"", "comma,semi;", "üñí€", "x" * 128]
    rows = prediction_rows(len(odd))
    for row, prediction_id in zip(rows, odd, strict=True):
        row["prediction_id"] = prediction_id
    first = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert first.json()["new"] == len(odd), first.text
    with session_factory() as s:
        assert set(s.scalars(select(PredictionRecord.prediction_id))) == set(odd)
    again = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert again.json()["duplicates"] == len(odd)
    labels = [{"prediction_id": p, "label": 1} for p in odd]
    result = client.post(f"{setup.url}/labels", json={"labels": labels}, headers=setup.engineer)
    assert result.json()["stored"] == len(odd), result.text


def test_idempotency_key_replays_the_first_response(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    headers = {**setup.engineer, "Idempotency-Key": "batch-0001"}
    rows = prediction_rows(20)
    first = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=headers).json()
    retry = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=headers).json()
    assert first == retry
    assert retry["new"] == 20  # the first answer, not "20 duplicates"
    assert stored(session_factory, IngestReceipt) == 1
    other = client.post(
        f"{setup.url}/predictions", json={"rows": prediction_rows(5, start=100)}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_key_reused"


def _bad(rows: list[dict[str, Any]], index: int, **change: Any) -> list[dict[str, Any]]:
    row = {**rows[index], **change}
    return [*rows[:index], row, *rows[index + 1 :]]


def _features(rows: list[dict[str, Any]], index: int, **features: Any) -> list[dict[str, Any]]:
    merged = {k: v for k, v in {**rows[index]["features"], **features}.items() if v != "<drop>"}
    return _bad(rows, index, features=merged)


ROWS = prediction_rows(5)
FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("rows", "loc"),
    [
        (_features(ROWS, 3, unknown_feature=1.0), "rows.3.features.unknown_feature"),
        (_features(ROWS, 2, income="<drop>"), "rows.2.features.income"),
        (_features(ROWS, 1, income="high"), "rows.1.features.income"),
        (_features(ROWS, 4, region=1.5), "rows.4.features.region"),
        (_features(ROWS, 0, income=True), "rows.0.features.income"),
        (_bad(ROWS, 2, prediction_id="p-0"), "rows.2.prediction_id"),
        (_bad(ROWS, 1, timestamp=FUTURE), "rows.1.timestamp"),
        (_bad(ROWS, 1, timestamp="yesterday"), "body.rows.1.timestamp"),
        (_bad(ROWS, 1, timestamp="2026-11-01T10:00:00"), "body.rows.1.timestamp"),
        (_features(ROWS, 2, region=["north"]), "rows.2.features.region"),
        (_features(ROWS, 2, gender={"f": 1}), "rows.2.features.gender"),
        (_features(ROWS, 1, income=[1.0]), "rows.1.features.income"),
        (_features(ROWS, 3, region="n" * 513), "rows.3.features.region"),
        (_bad(ROWS, 0, prediction={}), "rows.0.prediction"),
        (_bad(ROWS, 4, prediction={"label": None, "score": None}), "rows.4.prediction"),
        (_bad(ROWS, 0, prediction={"score": "0.3"}), "body.rows.0.prediction.score"),
        (_bad(ROWS, 0, prediction={"score": True}), "body.rows.0.prediction.score"),
        (_bad(ROWS, 0, extra=1), "body.rows.0.extra"),
        ([], "body.rows"),
    ],
)
def test_bad_rows_are_422_naming_row_and_column_and_nothing_is_stored(
    client: TestClient,
    setup: Setup,
    session_factory: sessionmaker[Session],
    rows: list[dict[str, Any]],
    loc: str,
) -> None:
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 422, response.text
    locs = [d["loc"] for d in response.json()["details"]]
    assert any(item.startswith(loc) for item in locs), locs
    assert stored(session_factory) == 0
    assert stored(session_factory, PredictionBlock) == 0


def test_sensitive_attributes_may_be_absent_but_model_inputs_may_not(
    client: TestClient, setup: Setup
) -> None:
    rows = prediction_rows(3)
    for row in rows:
        del row["features"]["gender"]  # declared sensitive in the schema
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 200, response.text


def test_more_than_ten_thousand_rows_is_422(client: TestClient, setup: Setup) -> None:
    rows = prediction_rows(1) * 10_001
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == "body.rows"


def test_who_may_log(client: TestClient, setup: Setup) -> None:
    body = {"rows": prediction_rows(2)}
    assert (
        client.post(f"{setup.url}/predictions", json=body, headers=setup.viewer).status_code == 403
    )
    assert (
        client.post(f"{setup.url}/predictions", json=body, headers=setup.outsider).status_code
        == 404
    )
    missing = f"/api/v1/models/{setup.model_id}/versions/9/predictions"
    assert client.post(missing, json=body, headers=setup.engineer).status_code == 404


def test_an_archived_version_takes_no_data(client: TestClient, setup: Setup) -> None:
    client.post(f"{setup.url}/archive", headers=setup.engineer)
    response = client.post(
        f"{setup.url}/predictions", json={"rows": prediction_rows(2)}, headers=setup.engineer
    )
    assert response.status_code == 409


def test_labels_join_by_prediction_id_and_unknown_ids_are_reported(
    client: TestClient, setup: Setup
) -> None:
    client.post(
        f"{setup.url}/predictions", json={"rows": prediction_rows(5)}, headers=setup.engineer
    )
    labels = [{"prediction_id": "p-1", "label": 1}, {"prediction_id": "nope", "label": 0}]
    result = client.post(f"{setup.url}/labels", json={"labels": labels}, headers=setup.engineer)
    assert result.status_code == 200
    assert result.json() == {"received": 2, "stored": 1, "unknown_prediction_ids": ["nope"]}
    relabel = client.post(
        f"{setup.url}/labels",
        json={"labels": [{"prediction_id": "p-1", "label": 0}]},
        headers=setup.engineer,
    )
    assert relabel.json()["stored"] == 1
    duplicate = client.post(
        f"{setup.url}/labels",
        json={
            "labels": [{"prediction_id": "p-2", "label": 0}, {"prediction_id": "p-2", "label": 1}]
        },
        headers=setup.engineer,
    )
    assert duplicate.status_code == 422
    assert duplicate.json()["details"][0]["loc"] == "labels.1.prediction_id"


def test_a_batch_over_the_batch_size_limit_is_413(client: TestClient, setup: Setup) -> None:
    big = {"rows": prediction_rows(1), "padding": "x" * (33 * 1024 * 1024)}
    response = client.post(f"{setup.url}/predictions", json=big, headers=setup.engineer)
    assert response.status_code == 413

    def streamed() -> Iterator[bytes]:  # no Content-Length: refused while reading
        yield b'{"rows": [], "padding": "'
        for _ in range(33 * 128):
            yield b"x" * 8192
        yield b'"}'

    response = client.post(
        f"{setup.url}/predictions",
        content=streamed(),
        headers={**setup.engineer, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"timestamp": "0001-01-01T00:00:00+05:00"}, "rows.0.timestamp"),
        ({"timestamp": "1960-01-01T00:00:00Z"}, "rows.0.timestamp"),
        ({"timestamp": "9999-12-31T23:59:59-05:00"}, "rows.0.timestamp"),
        ({"prediction": {"score": 10**400}}, "body.rows.0.prediction.score"),
        (
            {"features": {"income": 10**400, "region": "north", "gender": "f"}},
            "rows.0.features.income",
        ),
        ({"prediction": {"label": "a\x00b"}}, "body.rows.0.prediction.label"),
    ],
)
def test_values_no_backend_can_hold_are_422(
    client: TestClient, setup: Setup, change: dict[str, Any], loc: str
) -> None:
    rows = [{**prediction_rows(1)[0], **change}]
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["loc"].startswith(loc)


def test_huge_integer_features_are_422(client: TestClient, setup: Setup) -> None:
    rows = _features(prediction_rows(1), 0, income=10**400)
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == "rows.0.features.income"


def test_concurrent_overlapping_batches_and_retries_are_all_accepted(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    """Six writers at once, overlapping ids, three of them retries of one keyed request: every
    request succeeds, every prediction is stored once, the retries replay the first answer."""
    import threading

    from driftguard.db.session import unit_of_work
    from driftguard.identity.permissions import Role
    from driftguard.identity.principal import Principal
    from driftguard.ingest.schemas import PredictionBatch
    from driftguard.registry.orm import RegisteredModel

    with session_factory() as s:
        model = s.get(RegisteredModel, setup.model_id)
        assert model is not None
        principal = Principal(user_id=None, team_roles={model.team_id: Role.ML_ENGINEER})
    results: list[tuple[str | None, int, int]] = []
    errors: list[BaseException] = []

    def send(start: int, key: str | None) -> None:
        batch = PredictionBatch.model_validate({"rows": prediction_rows(50, start=start)})
        try:
            with unit_of_work(session_factory) as session:
                result = service.log_predictions(
                    session,
                    principal=principal,
                    model_id=setup.model_id,
                    number=1,
                    batch=batch,
                    idempotency_key=key,
                )
            results.append((key, result.new, result.duplicates))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    jobs = [(0, None), (25, None), (40, None), (100, "k"), (100, "k"), (100, "k")]
    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 6
    assert stored(session_factory) == 140  # ids 0..89 and 100..149, each once
    assert [(new, dup) for key, new, dup in results if key == "k"] == [(50, 0)] * 3
    assert sum(new for key, new, _ in results if key is None) == 90


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"rows": [', 400),
        (b"\xff\xfe", 400),  # not UTF-8
        (b'{"rows": [{"prediction_id": "a\\ud800"}]}', 400),  # a lone surrogate
        (b"NaN", 422),  # JSON, but not a batch
    ],
)
def test_a_body_that_is_not_a_json_batch_is_4xx(
    client: TestClient, setup: Setup, body: bytes, status: int
) -> None:
    response = client.post(
        f"{setup.url}/predictions",
        content=body,
        headers={**setup.engineer, "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["error"] == "malformed_json"


def test_batches_are_validated_straight_from_the_bytes(
    client: TestClient, setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No intermediate tree of Python dicts: pydantic-core validates the body's bytes."""
    validated: list[int] = []
    parsed: list[int] = []
    real_validate = PredictionBatch.model_validate_json.__func__
    real_parse = json_body.pydantic_core.from_json

    def validate(cls: type[PredictionBatch], data: bytes) -> PredictionBatch:
        validated.append(len(data))
        return real_validate(cls, data)

    def parse(data: bytes) -> object:
        parsed.append(len(data))
        return real_parse(data)

    monkeypatch.setattr(PredictionBatch, "model_validate_json", classmethod(validate))
    monkeypatch.setattr(json_body.pydantic_core, "from_json", parse)
    rows = prediction_rows(20)
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.json()["new"] == 20, response.text
    assert len(validated) == 1
    assert parsed == []
    rows[3]["prediction_id"] = ""
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == "body.rows.3.prediction_id"
