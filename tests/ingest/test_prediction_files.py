"""Bulk prediction files: CSV, Parquet and Arrow IPC, checked like JSON batches."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import create_app
from driftguard.errors import InvalidError
from driftguard.ingest import service
from driftguard.ingest.frames import ID, LABEL, SCORE, FeatureSchema
from driftguard.ingest.orm import IngestReceipt, PredictionBlock, PredictionRecord
from driftguard.ingest.uploads import FileColumns, read_table
from support.config import make_settings
from support.monitoring import BASE_TIME, prediction_rows
from support.versions import Setup

PARQUET = "application/vnd.apache.parquet"


def frame(count: int, *, start: int = 0, seed: int = 0) -> pa.Table:
    """The rows of ``support.monitoring.prediction_rows`` as a file's columns."""
    rows = prediction_rows(count, start=start, seed=seed)
    return pa.table(
        {
            "prediction_id": [r["prediction_id"] for r in rows],
            "timestamp": pa.array(
                [datetime.fromisoformat(r["timestamp"]) for r in rows], pa.timestamp("us", "UTC")
            ),
            "income": [r["features"]["income"] for r in rows],
            "region": [r["features"]["region"] for r in rows],
            "gender": [r["features"]["gender"] for r in rows],
            "label": [r["prediction"]["label"] for r in rows],
            "score": [r["prediction"]["score"] for r in rows],
        }
    )


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def arrow_file(table: pa.Table, *, stream: bool = False) -> bytes:
    sink = pa.BufferOutputStream()
    opener = pa.ipc.new_stream if stream else pa.ipc.new_file
    with opener(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def csv(table: pa.Table) -> bytes:
    columns = table.to_pydict()
    stamps = [t.isoformat() for t in columns.pop("timestamp")]
    names = ["timestamp", *columns]
    lines = [",".join(names)]
    for i, stamp in enumerate(stamps):
        lines.append(
            ",".join(
                [stamp, *("" if columns[n][i] is None else str(columns[n][i]) for n in columns)]
            )
        )
    return ("\n".join(lines) + "\n").encode()


def upload(
    client: TestClient,
    setup: Setup,
    data: bytes,
    content_type: str = PARQUET,
    headers: dict[str, str] | None = None,
    **params: str,
) -> Any:
    return client.post(
        f"{setup.url}/predictions/upload",
        content=data,
        params=params,
        headers={**setup.engineer, "Content-Type": content_type, **(headers or {})},
    )


def stored(session_factory: sessionmaker[Session], table: type[Any] = PredictionRecord) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def window(session_factory: sessionmaker[Session], setup: Setup) -> pa.Table:
    with session_factory() as s:
        return service.load_window(
            s, version_id=setup.version_id, start=BASE_TIME, end=BASE_TIME + timedelta(days=30)
        ).sort_by(ID)


def test_a_parquet_file_stores_what_the_same_json_batch_would(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    response = upload(client, setup, parquet(frame(300)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["received"], body["new"], body["duplicates"]) == (300, 300, 0)
    assert body["first_timestamp"].startswith("2026-11-01T00:00:00")
    from_file = window(session_factory, setup)
    rows = prediction_rows(300)
    again = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert again.json()["duplicates"] == 300  # the same ids: nothing new
    assert from_file.column(ID).to_pylist() == sorted(r["prediction_id"] for r in rows)
    by_id = {r["prediction_id"]: r for r in rows}
    ordered = [by_id[i] for i in from_file.column(ID).to_pylist()]
    assert from_file.column(LABEL).to_pylist() == [str(r["prediction"]["label"]) for r in ordered]
    assert np.allclose(
        from_file.column(SCORE).to_numpy(), [r["prediction"]["score"] for r in ordered]
    )
    assert from_file.column("region").to_pylist() == [r["features"]["region"] for r in ordered]


@pytest.mark.parametrize(
    ("encode", "content_type"),
    [
        (csv, "text/csv"),
        (arrow_file, "application/vnd.apache.arrow.file"),
        (lambda t: arrow_file(t, stream=True), "application/vnd.apache.arrow.stream"),
    ],
)
def test_csv_and_arrow_files(
    client: TestClient,
    setup: Setup,
    session_factory: sessionmaker[Session],
    encode: Any,
    content_type: str,
) -> None:
    response = upload(client, setup, encode(frame(120)), content_type)
    assert response.status_code == 200, response.text
    assert response.json()["new"] == 120
    stored_window = window(session_factory, setup)
    assert stored_window.num_rows == 120
    assert stored_window.column("income").type == pa.float64()


def test_multipart_uploads_take_the_format_from_the_file_name(
    client: TestClient, setup: Setup
) -> None:
    response = client.post(
        f"{setup.url}/predictions/upload",
        files={"file": ("predictions.csv", csv(frame(10)), "application/octet-stream")},
        headers=setup.engineer,
    )
    assert response.status_code == 200, response.text
    assert response.json()["new"] == 10


def test_columns_are_named_by_the_query(client: TestClient, setup: Setup) -> None:
    table = frame(5).rename_columns(["pid", "at", "income", "region", "gender", "y_hat", "p"])
    response = upload(
        client,
        setup,
        parquet(table),
        id_col="pid",
        timestamp_col="at",
        label_col="y_hat",
        score_col="p",
    )
    assert response.status_code == 200, response.text
    assert response.json()["new"] == 5


def _with(
    table: pa.Table, name: str, values: list[Any], kind: pa.DataType | None = None
) -> pa.Table:
    index = table.column_names.index(name)
    return table.set_column(index, name, pa.array(values, kind))


def _bad_files() -> Iterator[Any]:
    base = frame(6)
    stamps = base.column("timestamp").to_pylist()
    income = base.column("income").to_pylist()
    ids = base.column("prediction_id").to_pylist()
    yield pytest.param(
        parquet(_with(base, "income", [*income[:3], float("nan"), *income[4:]])),
        PARQUET,
        "rows.3.income",
        id="nan-feature",
    )
    bad_csv = csv(base).replace(f"{income[4]}".encode(), b"lots")
    yield pytest.param(bad_csv, "text/csv", "rows.4.income", id="csv-not-a-number")
    yield pytest.param(
        parquet(_with(base, "prediction_id", [*ids[:2], None, *ids[3:]])),
        PARQUET,
        "rows.2.prediction_id",
        id="missing-id",
    )
    yield pytest.param(
        parquet(_with(base, "prediction_id", [*ids[:5], ids[1]])),
        PARQUET,
        "rows.5.prediction_id",
        id="repeated-id",
    )
    yield pytest.param(
        parquet(_with(base, "prediction_id", [*ids[:1], "x" * 129, *ids[2:]])),
        PARQUET,
        "rows.1.prediction_id",
        id="long-id",
    )
    yield pytest.param(
        parquet(
            _with(base, "timestamp", [s.replace(tzinfo=None) for s in stamps], pa.timestamp("us"))
        ),
        PARQUET,
        "columns.timestamp",
        id="naive-timestamps",
    )
    future = datetime.now(UTC) + timedelta(days=2)
    yield pytest.param(
        parquet(
            _with(base, "timestamp", [*stamps[:4], future, stamps[5]], pa.timestamp("us", "UTC"))
        ),
        PARQUET,
        "rows.4.timestamp",
        id="future",
    )
    yield pytest.param(
        parquet(base.append_column("colour", pa.array(["red"] * 6))),
        PARQUET,
        "columns.colour",
        id="unknown-column",
    )
    yield pytest.param(
        parquet(base.drop_columns(["income"])), PARQUET, "columns.income", id="missing-feature"
    )
    yield pytest.param(
        parquet(base.drop_columns(["label", "score"])),
        PARQUET,
        "columns.label",
        id="no-prediction",
    )
    both_missing = _with(
        _with(base, "label", [1, 0, None, 1, 1, 0], pa.int64()),
        "score",
        [0.1, 0.2, None, 0.4, 0.5, 0.6],
        pa.float64(),
    )
    yield pytest.param(parquet(both_missing), PARQUET, "rows.2.label", id="row-without-output")
    yield pytest.param(
        parquet(_with(base, "score", [0.1, 0.2, 0.3, float("inf"), 0.5, 0.6])),
        PARQUET,
        "rows.3.score",
        id="infinite-score",
    )
    yield pytest.param(b"not parquet at all", PARQUET, "file", id="unreadable")
    yield pytest.param(parquet(base), "application/zip", "file", id="unsupported")


@pytest.mark.parametrize(("data", "content_type", "loc"), list(_bad_files()))
def test_bad_files_are_422_naming_row_and_column_and_store_nothing(
    client: TestClient,
    setup: Setup,
    session_factory: sessionmaker[Session],
    data: bytes,
    content_type: str,
    loc: str,
) -> None:
    response = upload(client, setup, data, content_type)
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["loc"] == loc
    assert stored(session_factory) == 0
    assert stored(session_factory, PredictionBlock) == 0


def test_files_are_idempotent(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    data = parquet(frame(50))
    keyed = {"Idempotency-Key": "file-0001"}
    first = upload(client, setup, data, headers=keyed).json()
    retry = upload(client, setup, data, headers=keyed).json()
    assert first == retry
    assert retry["new"] == 50
    assert stored(session_factory, IngestReceipt) == 1
    other = upload(client, setup, parquet(frame(5, start=500)), headers=keyed)
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_key_reused"
    bigger = upload(client, setup, parquet(frame(80))).json()  # overlapping, no key
    assert (bigger["new"], bigger["duplicates"]) == (30, 50)
    assert stored(session_factory) == 80


def test_large_files_are_cut_into_time_ordered_blocks(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    from driftguard.ingest.block_writer import FILE_BLOCK_ROWS

    count = FILE_BLOCK_ROWS + 1_000
    rng = np.random.default_rng(0)
    order = rng.permutation(count)  # the file is not in time order
    table = pa.table(
        {
            "prediction_id": [f"p-{i}" for i in order],
            "timestamp": pa.array(
                [BASE_TIME + timedelta(seconds=int(i)) for i in order], pa.timestamp("us", "UTC")
            ),
            "income": rng.normal(5_000, 1_000, count),
            "region": rng.choice(["north", "south"], count),
            "score": rng.random(count),
        }
    )
    response = upload(client, setup, parquet(table))
    assert response.status_code == 200, response.text
    assert response.json()["new"] == count
    with session_factory() as s:
        spans = s.execute(
            select(
                PredictionBlock.first_ts, PredictionBlock.last_ts, PredictionBlock.row_count
            ).order_by(PredictionBlock.id)
        ).all()
    # Cut at UTC midnight (BASE_TIME + 86,400 s), then at FILE_BLOCK_ROWS rows.
    assert BASE_TIME.time() == time(0)
    assert count > 86_400
    assert FILE_BLOCK_ROWS > 86_400
    assert [r[2] for r in spans] == [86_400, count - 86_400]
    assert all(first.date() == last.date() for first, last, _ in spans)
    assert spans[0][1] < spans[1][0]  # time-ordered: the blocks do not overlap


def test_a_day_of_more_rows_than_a_block_holds_is_cut_by_rows(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    from driftguard.ingest.block_writer import FILE_BLOCK_ROWS

    count = FILE_BLOCK_ROWS + 10
    table = pa.table(
        {
            "prediction_id": [f"p-{i}" for i in range(count)],
            "timestamp": pa.array(
                [BASE_TIME + timedelta(milliseconds=i) for i in range(count)],
                pa.timestamp("us", "UTC"),
            ),
            "income": np.full(count, 5_000.0),
            "region": ["north"] * count,
            "score": np.full(count, 0.5),
        }
    )
    assert upload(client, setup, parquet(table)).status_code == 200
    with session_factory() as s:
        sizes = s.scalars(select(PredictionBlock.row_count).order_by(PredictionBlock.id)).all()
    assert sizes == [FILE_BLOCK_ROWS, 10]


def test_who_may_upload(client: TestClient, setup: Setup) -> None:
    data = parquet(frame(3))
    assert upload(client, setup, data, headers=setup.viewer).status_code == 403
    # Another team's version is not found, and the file is not even looked at.
    assert upload(client, setup, b"garbage", headers=setup.outsider).status_code == 404


def test_a_file_over_the_upload_limit_is_413(
    engine: Engine, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    settings = make_settings(
        engine.url.render_as_string(hide_password=False), max_upload_bytes=4096
    )
    with TestClient(create_app(settings, engine=engine)) as small:
        response = upload(small, setup, parquet(frame(400)))
    assert response.status_code == 413
    assert stored(session_factory) == 0


def test_more_rows_than_the_limit_are_refused() -> None:
    schema = FeatureSchema.from_version([{"name": "income", "type": "numeric"}])
    data = io.BytesIO(parquet(pa.table({"income": [1.0] * 11})))
    with pytest.raises(InvalidError, match="more than 10 rows"):
        read_table(data, "parquet", schema, FileColumns(), max_rows=10)
