from __future__ import annotations

import itertools
import math
import threading
import time
from collections import Counter
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory
from driftguard.ingest.repository import lock_version
from driftguard.jobs.scheduler import CATCH_UP, closed_windows, plan, run_due, stagger
from driftguard.monitoring.orm import MonitoringRun
from support.after_run import assert_followed
from support.config import make_settings
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.versions import Setup

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
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            results.append(run_due(session_factory, NOW))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # On a loaded machine a SQLite tick may be refused the write lock for a window (deferred,
    # not lost): the next tick takes what is left, and still nothing runs twice.
    results.append(run_due(session_factory, NOW))
    with session_factory() as s:
        keys = s.scalars(select(MonitoringRun.schedule_key)).all()
    assert len(keys) == len(set(keys)) == sum(results) == 24
    assert run_due(session_factory, NOW) == 0


def test_a_window_the_database_is_too_busy_for_stays_due(
    client: TestClient, setup: Setup, database_url: str, session_factory: sessionmaker[Session]
) -> None:
    """While another transaction holds the version's lock (SQLite: the write lock), a tick whose
    waits time out defers every window instead of failing; the next tick runs them."""
    seed(client, setup)
    schedule(client, setup, 120)
    impatient = build_engine(
        make_settings(database_url, sqlite_busy_timeout_ms=50, db_statement_timeout_ms=50)
    )
    holder = build_engine(make_settings(database_url))
    try:
        with build_session_factory(holder)() as session:  # BEGIN IMMEDIATE on SQLite
            lock_version(session, setup.version_id)
            assert run_due(build_session_factory(impatient), NOW) == 0
        assert run_due(session_factory, NOW) == 24
    finally:
        impatient.dispose()
        holder.dispose()


SPREAD = timedelta(minutes=10)


def test_stagger_is_deterministic_and_within_the_interval() -> None:
    hour = timedelta(hours=1)
    offsets = [stagger(model_id, hour, SPREAD) for model_id in range(1, 2001)]
    assert offsets == [stagger(model_id, hour, SPREAD) for model_id in range(1, 2001)]
    assert all(timedelta(0) <= o < SPREAD for o in offsets)
    # Never beyond one interval, however wide the spread; none without a spread.
    assert all(stagger(m, timedelta(minutes=5), hour) < timedelta(minutes=5) for m in range(500))
    assert {stagger(m, hour, timedelta(0)) for m in range(500)} == {timedelta(0)}


def test_stagger_spreads_consecutive_models_evenly() -> None:
    """2,000 models registered in one go: each tenth of the span gets a tenth of them (±2 %)."""
    hour = timedelta(hours=1)
    buckets = Counter(int(stagger(m, hour, SPREAD) / (SPREAD / 10)) for m in range(1, 2001))
    assert sorted(buckets) == list(range(10))
    assert all(196 <= n <= 204 for n in buckets.values()), buckets
    # Any 20 consecutive ids (20 models in 10 minutes): at most 3 are due in the same minute.
    for first in range(1, 1000, 97):
        minutes = Counter(
            int(stagger(m, hour, SPREAD).total_seconds() // 60) for m in range(first, first + 20)
        )
        assert max(minutes.values()) <= 3


def test_staggered_ticks_enqueue_every_window_once_in_order() -> None:
    """A scheduler ticking every minute for two days, models of several intervals: each window
    is due exactly once, none is skipped, and none before it has closed."""
    tick = timedelta(minutes=1)
    start = BASE_TIME
    for minutes in (5, 15, 60, 240):
        interval = timedelta(minutes=minutes)
        for model_id in (1, 2, 3, 17, 999):
            offset = stagger(model_id, interval, SPREAD)
            done: list[datetime] = []
            now = start
            while now < start + timedelta(days=2):
                for _, end in closed_windows(interval, now - offset, CATCH_UP):
                    if end > start and end not in done:
                        assert end + offset <= now  # never before its due time
                        done.append(end)
                now += tick
            assert done == sorted(done)
            # Every window that closed in the two days, and none twice.
            assert len(done) == len(set(done))
            assert done[0] - interval <= start + offset + tick
            assert all(b - a == interval for a, b in itertools.pairwise(done))
            assert done[-1] + offset + tick > start + timedelta(days=2) - interval


def test_a_window_is_due_its_model_offset_after_it_closes(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    seed(client, setup)
    schedule(client, setup, 60)
    offset = stagger(setup.model_id, timedelta(hours=1), SPREAD)
    closed = BASE_TIME + timedelta(hours=10)  # the last window to close before NOW
    assert NOW - closed < SPREAD
    before = closed + offset - timedelta(seconds=1)
    due = plan(session_factory, before, spread=SPREAD)
    assert closed not in {d.end for d in due}
    assert run_due(session_factory, before, spread=SPREAD) == len(due) == 24
    assert run_due(session_factory, closed + offset, spread=SPREAD) == 1
    assert run_due(session_factory, closed + offset, spread=SPREAD) == 0
    keys = [k for k, _ in scheduled_runs(session_factory)]
    assert len(keys) == len(set(keys)) == 25


def test_metrics_tell_scheduled_versions_and_the_newest_run(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    def scraped(name: str) -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not exported")

    seed(client, setup)
    assert scraped("driftguard_monitoring_scheduled_versions") == 0
    assert math.isnan(scraped("driftguard_monitoring_last_scheduled_run_timestamp_seconds"))
    schedule(client, setup, 60)
    assert scraped("driftguard_monitoring_scheduled_versions") == 1
    began = time.time()
    run_due(session_factory, NOW)
    stored = scraped("driftguard_monitoring_last_scheduled_run_timestamp_seconds")
    assert began - 1 <= stored <= time.time() + 1


def test_a_scheduler_tick_follows_each_run_with_governance_after_run(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    """The tick the embedded scheduler repeats (``run_due``, wired with no callback) audits each
    run, snapshots the newest window's facts and re-scores the version's risk per completed run."""
    seed(client, setup)
    schedule(client, setup, 120)
    assert run_due(session_factory, NOW) == 24
    seen = assert_followed(session_factory, setup.version_id)
    assert (seen.runs, seen.completed) == (24, 5)
