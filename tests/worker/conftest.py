from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from celery import Celery
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.identity.permissions import Role
from driftguard.monitoring.orm import MonitoringRun
from driftguard.settings import Settings
from driftguard.worker.app import build_celery
from driftguard.worker.runtime import Runtime
from support.identity import auth_headers, make_team, make_user
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.registry import create_model, create_version

# Ten hours of predictions (one a minute from BASE_TIME); hourly windows; the scheduler catches
# up on the last 24 closed windows.
NOW = BASE_TIME + timedelta(hours=10, minutes=5)
WINDOWS = 24


@pytest.fixture
def celery(settings: Settings, engine: Engine) -> Iterator[tuple[Celery, Runtime]]:
    """An eager application (tasks run in the caller) that retries a failing task twice."""
    app, runtime = build_celery(
        settings.model_copy(update={"task_max_retries": 2}), engine=engine, eager=True
    )
    yield app, runtime
    runtime.close()


@dataclass
class Scheduled:
    model_id: int
    version_id: int


@pytest.fixture
def scheduled(
    client: TestClient, session_factory: sessionmaker[Session], hasher: PasswordHasher
) -> Scheduled:
    """A model version with reference data and predictions, monitored every hour."""
    team = make_team(session_factory)
    engineer = auth_headers(
        client, make_user(session_factory, hasher, teams={team: Role.ML_ENGINEER})
    )
    model = create_model(client, engineer, team)
    version = create_version(client, engineer, model["id"])
    url = f"/api/v1/models/{model['id']}/versions/1"
    for method, path, body in (
        ("PUT", "/reference", {"rows": reference_rows(500)}),
        ("POST", "/predictions", {"rows": prediction_rows(600)}),
    ):
        response = client.request(method, url + path, json=body, headers=engineer)
        assert response.status_code < 300, response.text
    response = client.patch(
        f"/api/v1/models/{model['id']}", json={"monitoring_interval_minutes": 60}, headers=engineer
    )
    assert response.status_code == 200, response.text
    return Scheduled(model_id=model["id"], version_id=version["id"])


def run_counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    """(scheduled runs stored, distinct windows among them)."""
    with factory() as session:
        total = session.scalar(select(func.count()).where(MonitoringRun.trigger == "scheduled"))
        keys = session.scalar(
            select(func.count(func.distinct(MonitoringRun.schedule_key))).where(
                MonitoringRun.trigger == "scheduled"
            )
        )
    return int(total or 0), int(keys or 0)
