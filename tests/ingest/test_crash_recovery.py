"""Kill the server (SIGKILL) while batches stream in: every acknowledged batch is stored whole,
no other batch is stored in part, and retrying the unanswered ones leaves no duplicates."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import Engine, func, select

from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.identity.orm import ApiKey, Team
from driftguard.identity.permissions import Role
from driftguard.identity.tokens import API_KEY_PREFIX, hash_secret, new_secret
from driftguard.ingest.orm import PredictionRecord
from driftguard.registry.orm import ModelVersion, RegisteredModel, TaskType
from support.config import POSTGRES_URL, TEST_SECRET, make_settings
from support.databases import throwaway_postgres
from support.monitoring import prediction_rows
from support.processes import Server
from support.registry import version_body

BATCHES, BATCH_ROWS, SENDERS = 30, 300, 4
KILL_AFTER_ACKS = 6


@pytest.fixture(params=["sqlite", *(["postgresql"] if POSTGRES_URL else [])])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own: the server process writes to it outside the test's fixtures."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    assert POSTGRES_URL is not None
    with throwaway_postgres(POSTGRES_URL, "dg_crash") as url:
        yield url


def _seed(engine: Engine) -> tuple[str, str]:
    """A team API key and a model version; returns (key, version path)."""
    migrate.upgrade(engine)
    key = API_KEY_PREFIX + new_secret()
    body = version_body()
    with unit_of_work(build_session_factory(engine)) as session:
        team = Team(name="crash", description="")
        session.add(team)
        session.flush()
        session.add(
            ApiKey(
                team_id=team.id,
                name="k",
                prefix=key[:12],
                key_hash=hash_secret(key),
                role=Role.ML_ENGINEER,
            )
        )
        model = RegisteredModel(team_id=team.id, name="crash", next_version_number=2)
        session.add(model)
        session.flush()
        session.add(
            ModelVersion(
                model_id=model.id,
                number=1,
                task_type=TaskType.BINARY_CLASSIFICATION,
                features=body["features"],
                target=body["target"],
                training_metrics={},
            )
        )
        path = f"/api/v1/models/{model.id}/versions/1/predictions"
    return key, path


def _server(database_url: str, logs: Path) -> Server:
    env = {
        "DRIFTGUARD_DATABASE_URL": database_url,
        "DRIFTGUARD_JWT_SECRET": TEST_SECRET,
        "DRIFTGUARD_ENVIRONMENT": "test",
        "DRIFTGUARD_RATE_LIMIT_ENABLED": "false",
        "DRIFTGUARD_SCHEDULER_ENABLED": "false",
        "DRIFTGUARD_WEBHOOK_DELIVERY_ENABLED": "false",
        "DRIFTGUARD_LOG_LEVEL": "WARNING",
    }
    return Server("crash-server", env, logs)


def _batch(index: int) -> list[dict[str, object]]:
    return prediction_rows(BATCH_ROWS, start=index * BATCH_ROWS, seed=index)


def _stored_per_batch(engine: Engine) -> dict[int, int]:
    with engine.connect() as connection:
        ids = connection.execute(select(PredictionRecord.prediction_id)).scalars().all()
    counts: dict[int, int] = {}
    for prediction_id in ids:
        index = int(prediction_id.removeprefix("p-")) // BATCH_ROWS
        counts[index] = counts.get(index, 0) + 1
    return counts


@pytest.mark.xdist_group("processes")  # not beside another test that boots servers
def test_a_killed_server_keeps_acknowledged_batches_whole(database: str, tmp_path: Path) -> None:
    engine = build_engine(make_settings(database))
    key, path = _seed(engine)
    headers = {"X-API-Key": key}
    server = _server(database, tmp_path)
    server.start()
    server.wait_ready()
    acknowledged: set[int] = set()
    lock = threading.Lock()

    def send(index: int) -> None:
        try:
            response = httpx2.post(
                f"{server.url}{path}",
                json={"rows": _batch(index)},
                timeout=30,
                headers={**headers, "Idempotency-Key": f"batch-{index}"},
            )
        except httpx2.TransportError:
            return  # never answered: the client cannot know what happened
        if response.status_code == 200:
            with lock:
                acknowledged.add(index)
                if len(acknowledged) == KILL_AFTER_ACKS:
                    server.kill()  # mid-stream: other senders are in flight

    try:
        with ThreadPoolExecutor(SENDERS) as pool:
            list(pool.map(send, range(BATCHES)))
    finally:
        server.kill()
    assert KILL_AFTER_ACKS <= len(acknowledged) < BATCHES

    stored = _stored_per_batch(engine)
    assert all(stored.get(i) == BATCH_ROWS for i in acknowledged)
    assert all(count == BATCH_ROWS for count in stored.values()), "a batch was half stored"

    server.start()  # restart on the same database, and retry what was never answered
    server.wait_ready()
    try:
        with httpx2.Client(base_url=server.url, headers=headers, timeout=30) as http:
            for index in sorted(set(range(BATCHES)) - acknowledged):
                response = http.post(
                    path,
                    json={"rows": _batch(index)},
                    headers={"Idempotency-Key": f"batch-{index}"},
                )
                assert response.status_code == 200, response.text
                assert response.json()["received"] == BATCH_ROWS
    finally:
        server.kill()
    with engine.connect() as connection:
        total = connection.scalar(select(func.count()).select_from(PredictionRecord))
        distinct = connection.scalar(
            select(func.count(func.distinct(PredictionRecord.prediction_id)))
        )
    assert total == distinct == BATCHES * BATCH_ROWS
    assert _stored_per_batch(engine) == dict.fromkeys(range(BATCHES), BATCH_ROWS)
    engine.dispose()
