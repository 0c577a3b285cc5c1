from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker, undefer

from driftguard import stats
from driftguard.ingest.orm import ReferenceDataset
from support.monitoring import reference_rows
from support.versions import Setup


def references(session_factory: sessionmaker[Session]) -> list[ReferenceDataset]:
    with session_factory() as s:
        query = select(ReferenceDataset).options(undefer(ReferenceDataset.profile))
        return list(s.scalars(query.order_by(ReferenceDataset.id)))


def test_json_reference_is_profiled_and_replacing_keeps_history(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    assert client.get(f"{setup.url}/reference", headers=setup.viewer).status_code == 404
    first = client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(500)}, headers=setup.engineer
    )
    assert first.status_code == 200, first.text
    assert first.json()["row_count"] == 500
    second = client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(300, seed=2)}, headers=setup.engineer
    )
    assert second.json()["row_count"] == 300
    current = client.get(f"{setup.url}/reference", headers=setup.viewer).json()
    assert current["id"] == second.json()["id"]
    stored = references(session_factory)
    assert [r.is_active for r in stored] == [False, True]
    assert stored[0].replaced_at is not None
    profile = stats.Profile.from_bytes(stored[1].profile)
    assert set(profile.feature_names) == {"income", "region", "gender"}
    assert profile.profile_id == current["profile_id"]


def _upload(client: TestClient, setup: Setup, name: str, data: bytes) -> Any:
    return client.post(
        f"{setup.url}/reference/upload", files={"file": (name, data)}, headers=setup.engineer
    )


def test_csv_and_parquet_uploads(client: TestClient, setup: Setup) -> None:
    rows = reference_rows(200)
    csv = "income,region,gender,default\n" + "\n".join(
        f"{r['income']},{r['region']},{r['gender']},{r['default']}" for r in rows
    )
    from_csv = _upload(client, setup, "reference.csv", csv.encode())
    assert from_csv.status_code == 200, from_csv.text
    assert (from_csv.json()["row_count"], from_csv.json()["source_format"]) == (200, "csv")
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    from_parquet = _upload(client, setup, "reference.parquet", sink.getvalue())
    assert from_parquet.status_code == 200, from_parquet.text
    assert from_parquet.json()["source_format"] == "parquet"


@pytest.mark.parametrize(
    ("name", "data", "loc"),
    [
        ("ref.csv", b"income,gender,region,colour\n1.0,f,n,red\n", "columns.colour"),
        ("ref.csv", b"income,region,gender\nhigh,north,f\n", "columns.income"),
        ("ref.csv", b"income,region,gender\n", "rows"),
        ("ref.parquet", b"not a parquet file", "file"),
        ("ref.xlsx", b"PK", "file"),
    ],
)
def test_bad_reference_files_are_422_and_change_nothing(
    client: TestClient,
    setup: Setup,
    session_factory: sessionmaker[Session],
    name: str,
    data: bytes,
    loc: str,
) -> None:
    response = _upload(client, setup, name, data)
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["loc"] == loc
    assert references(session_factory) == []


def test_sensitive_attribute_columns_may_be_absent(client: TestClient, setup: Setup) -> None:
    response = _upload(client, setup, "ref.csv", b"income,region\n1.0,north\n2.0,south\n")
    assert response.status_code == 200, response.text


def test_reference_rows_with_wrong_types_are_422(client: TestClient, setup: Setup) -> None:
    rows = reference_rows(3)
    rows[2]["income"] = "lots"
    response = client.put(f"{setup.url}/reference", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == "rows.2.income"


def test_only_writers_of_the_team_set_references(client: TestClient, setup: Setup) -> None:
    body = {"rows": reference_rows(10)}
    assert client.put(f"{setup.url}/reference", json=body, headers=setup.viewer).status_code == 403
    assert (
        client.put(f"{setup.url}/reference", json=body, headers=setup.outsider).status_code == 404
    )


def test_missing_numbers_in_an_upload_are_allowed_and_counted(
    client: TestClient, setup: Setup
) -> None:
    csv = b"income,region,gender\n1.0,north,f\n,south,m\n3.5,,f\n"
    response = _upload(client, setup, "ref.csv", csv)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("table", "loc"),
    [
        (pa.table({"income": [1.0], "region": [["a", "b"]], "gender": ["f"]}), "columns.region"),
        (pa.table({"income": [1.0], "region": [b"\xff\xfe"], "gender": ["f"]}), "columns.region"),
        (pa.table({"income": ["1"], "region": ["n"], "gender": ["f"]}), "columns.income"),
    ],
)
def test_unusable_parquet_columns_are_422(
    client: TestClient, setup: Setup, table: pa.Table, loc: str
) -> None:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    response = _upload(client, setup, "ref.parquet", sink.getvalue())
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["loc"] == loc


def test_duplicate_columns_are_422(client: TestClient, setup: Setup) -> None:
    response = _upload(client, setup, "ref.csv", b"income,income,region,gender\n1,2,n,f\n")
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == "columns.income"


def test_numbers_beyond_a_double_are_422(client: TestClient, setup: Setup) -> None:
    rows = reference_rows(2)
    rows[1]["income"] = 10**400
    response = client.put(f"{setup.url}/reference", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 422
    assert response.json()["details"][0]["loc"] == "rows.1.income"
