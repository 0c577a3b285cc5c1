"""Hostile JSON bodies are refused from their shape, fast and without being built in memory."""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from driftguard.api.json_body import FastJsonRoute
from driftguard.api.json_shape import MAX_VALUES, JsonShape, ShapeError
from driftguard.ingest.schemas import LabelBatch, PredictionBatch, ReferenceRows

# An idle machine refuses each in well under 0.3 s (benchmarks/hostile_bodies.py); the margin
# is for a busy test machine.
SECONDS = 3.0
MB = 1_000_000


def _repeat(head: bytes, item: bytes, tail: bytes, size: int = 15 * MB) -> bytes:
    return head + (item + b",") * ((size - len(head) - len(tail)) // (len(item) + 1)) + item + tail


HOSTILE = {
    "empty objects": (_repeat(b'{"rows":[', b"{}", b"]}"), "rows: at most 10000 items"),
    "zeros": (_repeat(b'{"rows":[', b"0", b"]}"), "rows: at most 10000 items"),
    "tiny strings": (_repeat(b'{"rows":[', b'""', b"]}"), "rows: at most 10000 items"),
    "deep nesting": (b'{"rows":' + b"[" * 5 * MB + b"]" * 5 * MB + b"}", "nested at most 16"),
    "an extra field": (_repeat(b'{"x":[', b"{}", b"]}"), "JSON values"),
    "many containers": (_repeat(b'{"x":[', b"[]", b"]}", 700_000), "at most 200000 JSON objects"),
    "one huge object": (_repeat(b'{"rows":[{"features":{', b'"a":0', b"}}]}"), "JSON values"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_body_is_refused_by_name_at_once(name: str) -> None:
    body, message = HOSTILE[name]
    start = time.perf_counter()
    with pytest.raises(ShapeError, match=message):
        JsonShape.of(PredictionBatch).check(body)
    assert time.perf_counter() - start < SECONDS


@pytest.mark.parametrize(
    ("model", "field", "limit"),
    [
        (PredictionBatch, "rows", 10_000),
        (LabelBatch, "labels", 10_000),
        (ReferenceRows, "rows", 100_000),
    ],
)
def test_every_batch_list_field_is_limited_by_its_model(
    model: type[PredictionBatch], field: str, limit: int
) -> None:
    assert JsonShape.of(model).item_limits == {field: limit}
    with pytest.raises(ShapeError, match=f"^{field}: at most {limit} items$"):
        JsonShape.of(model).check(_repeat(b'{"%s":[' % field.encode(), b"{}", b"]}"))


def test_a_valid_batch_passes_unscanned_and_a_loose_bound_is_scanned() -> None:
    row = {"prediction_id": "p", "timestamp": "2026-10-01T00:00:00Z", "prediction": {"score": 1}}
    batch = {"rows": [{**row, "features": {f"f{j:02d}": 0.5 for j in range(20)}}] * 10_000}
    JsonShape.of(PredictionBatch).check(json.dumps(batch).encode())
    # 300,000 braces inside strings: the bound is passed, the scan finds 10,001 containers.
    braces = {"rows": [{**row, "features": {"text": "{[" * 15}}] * 10_000}
    JsonShape.of(PredictionBatch).check(json.dumps(braces).encode())


def test_a_body_over_the_value_bound_is_refused_even_when_well_formed_within() -> None:
    wide = {"rows": [{"features": {f"f{j:03d}": 0 for j in range(200)}}] * 5_001}
    with pytest.raises(ShapeError, match=f"at most {MAX_VALUES} JSON values"):
        JsonShape.of(PredictionBatch).check(json.dumps(wide).encode())


def test_a_large_body_the_scan_cannot_read_is_malformed() -> None:
    with pytest.raises(json.JSONDecodeError):
        JsonShape.of(PredictionBatch).check(b'{"rows":[NaN,' + b"{}," * 300_000 + b"{}]}")


@pytest.fixture(scope="module")
def client() -> TestClient:
    router = APIRouter(route_class=FastJsonRoute)

    @router.post("/predictions")
    def log(body: PredictionBatch) -> int:
        return len(body.rows)

    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_the_route_answers_413_naming_the_field_fast_and_small(client: TestClient) -> None:
    body = HOSTILE["empty objects"][0]
    tracemalloc.start()
    try:
        start = time.perf_counter()
        response = client.post(
            "/predictions", content=body, headers={"Content-Type": "application/json"}
        )
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == "rows: at most 10000 items"
    assert seconds < SECONDS
    # The body itself is held a few times over (client, server, test); five million dicts
    # would be 400 MB.
    assert peak < 6 * len(body), peak
