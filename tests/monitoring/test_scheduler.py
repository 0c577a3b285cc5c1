from __future__ import annotations

import threading
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.monitoring.orm import MonitoringRun
from driftguard.monitoring.scheduler import closed_windows, run_due
from support.monitoring import BASE_TIME, prediction_rows, reference_rows

from .conftest import Setup

NOW = BASE_TIME + timedelta(hours=10, minutes=5)  # 600 predictions, one a minute, from BASE_TIME


def schedule(client: TestClient, setup: Setup, minutes: int | None) -> None:
    response = client.patch(
        f"/api/v1/models/{setup.model_id}",
        json={"monitoring_interval_minutes": minutes},
        headers=setup.engineer,
    )
    assert response.status_code == 200, response.text
    assert response.json()["monitoring_interval_minutes"] == minutes


def seed(client: TestClient, setup: Setup) -> None:
    client.put(f"{setup.url}/reference", json={"rows": reference_rows(500)}, headers=setup.engineer)
    client.post(
        f"{setup.url}/predictions", json={"rows": prediction_rows(600)}, headers=setup.engineer
    )


def scheduled_runs(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with factory() as s:
        rows = s.execute(
            select(MonitoringRun.schedule_key, MonitoringRun.status)
            .where(MonitoringRun.trigger == "scheduled")
            .order_by(MonitoringRun.window_start)
        ).all()
    return [(str(k), str(v)) for k, v in rows]


def test_windows_are_aligned_and_closed() -> None:
    windows = list(closed_windows(timedelta(hours=1), NOW, 3))
    assert [end - start for start, end in windows] == [timedelta(hours=1)] * 3
    assert windows[-1][1] == BASE_TIME + timedelta(hours=10)  # the open hour is not due
    assert windows[0][0] == BASE_TIME + timedelta(hours=7)


def test_each_closed_window_runs_once(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    seed(client, setup)
    assert run_due(session_factory, NOW) == 0  # not scheduled yet
    schedule(client, setup, 120)
    ran = run_due(session_factory, NOW)
    assert ran == 24  # catch-up is bounded to the last 24 windows
    runs = scheduled_runs(session_factory)
    assert len(runs) == 24
    assert sum(status == "completed" for _, status in runs) == 5  # ten hours of data
    assert run_due(session_factory, NOW) == 0
    assert run_due(session_factory, NOW + timedelta(hours=2)) == 1
    schedule(client, setup, None)
    assert run_due(session_factory, NOW + timedelta(hours=6)) == 0


def test_concurrent_schedulers_never_run_a_window_twice(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    seed(client, setup)
    schedule(client, setup, 60)
    results: list[int] = []

    def tick() -> None:
        results.append(run_due(session_factory, NOW))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_factory() as s:
        keys = s.scalars(select(MonitoringRun.schedule_key)).all()
        total = s.scalar(select(func.count()).select_from(MonitoringRun))
    assert total == len(set(keys)) == 24
    assert sum(results) == 24
