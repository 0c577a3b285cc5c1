"""Reference profiles are read from the database once per process, and never confused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from driftguard.ingest import profiles
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.versions import Setup

WINDOW = {"start": BASE_TIME.isoformat(), "end": (BASE_TIME + timedelta(days=1)).isoformat()}


@pytest.fixture
def profile_reads(engine: Engine) -> Iterator[list[str]]:
    """Every statement that reads a stored profile's bytes."""
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if re.search(r"reference_datasets\.profile\b", statement):
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    yield reads
    event.remove(engine, "before_cursor_execute", seen)


def _put_reference(client: TestClient, setup: Setup, *, shift: float = 0.0) -> int:
    rows = reference_rows(1_000)
    for row in rows:
        row["income"] += shift
    response = client.put(f"{setup.url}/reference", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


def _log(client: TestClient, setup: Setup, seed: int) -> None:
    rows = prediction_rows(200, seed=seed)
    for row in rows:
        row["prediction_id"] = f"{seed}-{row['prediction_id']}"
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 200, response.text


def _income_psi(client: TestClient, setup: Setup) -> float:
    response = client.post(f"{setup.url}/monitoring/runs", json=WINDOW, headers=setup.engineer)
    assert response.status_code == 201, response.text
    drift = response.json()["reports"]["drift"]["features"]
    return float(next(f["psi"] for f in drift if f["feature"] == "income"))


def test_batches_and_runs_read_the_profile_once(
    client: TestClient, setup: Setup, profile_reads: list[str]
) -> None:
    _put_reference(client, setup)
    for seed in range(3):
        _log(client, setup, seed)  # each new block is counted in the profile's bins
    _income_psi(client, setup)
    _income_psi(client, setup)
    assert len(profile_reads) == 1


def test_a_replaced_reference_is_scored_against_at_once(
    client: TestClient, setup: Setup, profile_reads: list[str]
) -> None:
    _put_reference(client, setup)
    _log(client, setup, 0)
    before = _income_psi(client, setup)
    _put_reference(client, setup, shift=5_000.0)
    after = _income_psi(client, setup)
    assert after > before + 1.0  # the current window now sits far below the reference
    assert len(profile_reads) == 2


def test_profiles_over_the_budget_are_read_each_time(
    client: TestClient, setup: Setup, profile_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profiles, "CACHE_BYTES", 1_000)  # smaller than any profile
    _put_reference(client, setup)
    _log(client, setup, 0)
    _income_psi(client, setup)
    _income_psi(client, setup)
    assert len(profile_reads) == 3  # the batch's count and each run
