"""Time-partitioned prediction storage: dedupe across partitions, partitions made ahead and for
backfills, pruning of a window's query, retention."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from driftguard.app import create_app
from driftguard.audit.orm import AuditRecord
from driftguard.audit.schemas import SYSTEM
from driftguard.db import partitions as pg
from driftguard.db.session import unit_of_work
from driftguard.ingest import repository, storage_maintenance
from driftguard.ingest.orm import (
    PredictionBlock,
    PredictionBlockCounts,
    PredictionLabel,
    PredictionRecord,
)
from driftguard.monitoring.orm import MonitoringReport
from support.config import make_settings
from support.monitoring import BASE_TIME, prediction_rows, reference_rows
from support.versions import Setup

DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _no_dated_partitions(engine: Engine) -> Iterator[None]:
    """Each test starts with the DEFAULT partitions only (partitions outlive a TRUNCATE)."""
    _drop_dated_partitions(engine)
    yield
    _drop_dated_partitions(engine)


def _drop_dated_partitions(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        return
    with Session(engine) as s, s.begin():
        for table in pg.partitioned_tables():
            for part in pg.partitions(s, table.name):
                if not part.is_default:
                    pg.drop_partition(s, table.name, part.name)


def _day_rows(day: int, count: int, *, first: int) -> list[dict[str, Any]]:
    """``count`` rows on BASE_TIME + ``day`` days, ids p-{first}...; one every 10 minutes."""
    rows = prediction_rows(count, start=first)
    for index, row in enumerate(rows):
        row["timestamp"] = (BASE_TIME + day * DAY + index * timedelta(minutes=10)).isoformat()
    return rows


def _log(client: TestClient, setup: Setup, rows: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post(f"{setup.url}/predictions", json={"rows": rows}, headers=setup.engineer)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _count(factory: sessionmaker[Session], table: Any) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(table)) or 0


def _maintain(factory: sessionmaker[Session], now: datetime, **settings: Any) -> Any:
    with unit_of_work(factory) as s:
        url = s.get_bind().engine.url.render_as_string(hide_password=False)
        return storage_maintenance.maintain(s, make_settings(url, **settings), now)


def _partition_names(factory: sessionmaker[Session], table: str) -> set[str]:
    with factory() as s:
        return {p.name for p in pg.partitions(s, table)}


def test_a_resent_id_with_another_timestamp_is_not_stored_twice(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    _log(client, setup, _day_rows(0, 5, first=0))
    _maintain(session_factory, BASE_TIME)  # day 0 and the week after get partitions
    # The same ids, five days later: another partition of the blocks on PostgreSQL.
    again = _log(client, setup, _day_rows(5, 5, first=0) + _day_rows(5, 1, first=99))
    assert (again["new"], again["duplicates"]) == (1, 5)
    assert _count(session_factory, PredictionRecord) == 6
    with session_factory() as s:
        rows = s.scalars(select(PredictionBlock.row_count).order_by(PredictionBlock.id)).all()
        stored_time = s.scalar(
            select(PredictionRecord.ts).where(PredictionRecord.prediction_id == "p-0")
        )
    assert rows == [5, 1]
    assert stored_time == BASE_TIME  # the first time it was sent is kept


def test_a_batch_across_midnight_becomes_one_block_per_day(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    rows = _day_rows(0, 3, first=0)
    rows[1]["timestamp"] = (BASE_TIME + DAY + timedelta(hours=1)).isoformat()
    rows[2]["timestamp"] = (BASE_TIME + 2 * DAY - timedelta(microseconds=1)).isoformat()
    assert _log(client, setup, rows)["new"] == 3
    with session_factory() as s:
        spans = s.execute(
            select(
                PredictionBlock.first_ts, PredictionBlock.last_ts, PredictionBlock.row_count
            ).order_by(PredictionBlock.first_ts)
        ).all()
    assert [(first.date(), last.date(), n) for first, last, n in spans] == [
        (BASE_TIME.date(), BASE_TIME.date(), 1),
        ((BASE_TIME + DAY).date(), (BASE_TIME + DAY).date(), 2),
    ]


def test_ensure_prepares_partitions_ahead_once(session_factory: sessionmaker[Session]) -> None:
    now = BASE_TIME + timedelta(hours=5)
    with unit_of_work(session_factory) as s:
        created = storage_maintenance.ensure(s, days=1, ahead=3, now=now)
        again = storage_maintenance.ensure(s, days=1, ahead=3, now=now)
    if session_factory.kw["bind"].dialect.name != "postgresql":
        assert (created, again) == ([], [])  # SQLite keeps plain tables
        return
    days = [f"{(BASE_TIME + k * DAY):%Y%m%d}" for k in range(4)]
    expected = {f"{t}_p{d}" for t in ("prediction_blocks", "prediction_labels") for d in days}
    assert expected <= set(created)
    assert again == []
    # A wider period later fills only the gaps the daily partitions leave.
    with unit_of_work(session_factory) as s:
        weekly = storage_maintenance.ensure(s, days=7, ahead=1, now=now)
        ranges = {(p.start, p.end) for p in pg.partitions(s, "prediction_blocks") if p.start}
    week_end = storage_maintenance.period_start(BASE_TIME + 4 * DAY, 7) + 7 * DAY
    assert f"prediction_blocks_p{BASE_TIME + 4 * DAY:%Y%m%d}" in weekly
    assert (BASE_TIME + 4 * DAY, week_end) in ranges
    assert storage_maintenance.period_start(BASE_TIME + timedelta(hours=5), 1) == BASE_TIME


def test_backfilled_rows_wait_in_default_until_maintenance_moves_them(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    _log(client, setup, _day_rows(0, 4, first=0) + _day_rows(3, 4, first=10))
    if session_factory.kw["bind"].dialect.name != "postgresql":
        assert _maintain(session_factory, BASE_TIME + 30 * DAY).created == ()
        return
    with session_factory() as s:
        waiting = s.scalar(text("SELECT count(*) FROM prediction_blocks_default"))
    assert waiting == 2  # no partition covered November 1 or 4 yet (today is later)
    result = _maintain(session_factory, BASE_TIME + 30 * DAY)
    assert {"prediction_blocks_p20261101", "prediction_blocks_p20261104"} <= set(result.created)
    with session_factory() as s:
        assert s.scalar(text("SELECT count(*) FROM prediction_blocks_default")) == 0
        assert s.scalar(text("SELECT count(*) FROM prediction_blocks_p20261104")) == 1
    assert _count(session_factory, PredictionBlock) == 2


def _plan(session: Session, query: Any) -> str:
    compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    return "\n".join(session.scalars(text(f"EXPLAIN {compiled}")))


def test_a_window_query_reads_only_its_partitions(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    for day in range(6):
        _log(client, setup, _day_rows(day, 3, first=day * 10))
    label = {"labels": [{"prediction_id": "p-30", "label": 1}]}
    assert client.post(f"{setup.url}/labels", json=label, headers=setup.engineer).status_code == 200
    start, end = BASE_TIME + 3 * DAY, BASE_TIME + 4 * DAY
    with session_factory() as s:
        ids, _ = repository.labels_in_window(s, setup.version_id, start, end)
        loaded = repository.blocks_overlapping(s, setup.version_id, start, end)
    assert (ids, len(loaded)) == (["p-30"], 1)
    if session_factory.kw["bind"].dialect.name != "postgresql":
        return  # SQLite has no partitions; the same queries run on plain tables
    _maintain(session_factory, BASE_TIME + 30 * DAY)  # partitions for the backfilled days
    days = {f"prediction_blocks_p{BASE_TIME + k * DAY:%Y%m%d}" for k in range(6)}
    assert days <= _partition_names(session_factory, "prediction_blocks")
    with session_factory() as s:
        blocks = _plan(s, repository.overlapping_blocks(setup.version_id, start, end))
        labels = _plan(
            s,
            select(PredictionLabel.prediction_id).where(
                PredictionLabel.version_id == setup.version_id,
                PredictionLabel.ts >= start,
                PredictionLabel.ts < end,
            ),
        )
    # Blocks: the window's day, and the day before (a block starts less than a day before
    # any row it holds). Labels: the window's day only. Never the other days or DEFAULT.
    assert set(re.findall(r"prediction_blocks_(?:p\d+|default)\b", blocks)) <= {
        "prediction_blocks_p20261103",
        "prediction_blocks_p20261104",
    }
    assert "prediction_blocks_p20261104" in blocks
    assert set(re.findall(r"prediction_labels_(?:p\d+|default)\b", labels)) == {
        "prediction_labels_p20261104"
    }


def test_retention_purges_raw_rows_and_keeps_counts_and_reports(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    response = client.put(
        f"{setup.url}/reference", json={"rows": reference_rows(300)}, headers=setup.engineer
    )
    assert response.status_code == 200, response.text
    _log(client, setup, _day_rows(0, 6, first=0) + _day_rows(4, 6, first=100))
    labels = {"labels": [{"prediction_id": p, "label": 1} for p in ("p-0", "p-100")]}
    assert (
        client.post(f"{setup.url}/labels", json=labels, headers=setup.engineer).status_code == 200
    )
    window = {"start": BASE_TIME.isoformat(), "end": (BASE_TIME + DAY).isoformat()}
    run = client.post(f"{setup.url}/monitoring/runs", json=window, headers=setup.engineer)
    assert run.status_code == 201, run.text
    now = BASE_TIME + 30 * DAY
    _maintain(session_factory, now)  # partitions for both days (PostgreSQL)
    counts_before = _count(session_factory, PredictionBlockCounts)
    reports_before = _count(session_factory, MonitoringReport)
    assert counts_before == 2
    assert reports_before > 0

    # No retention set: nothing goes.
    assert _maintain(session_factory, now).purged is None
    # Keep 27 days: day 0 (November 1) goes, day 4 stays.
    result = _maintain(session_factory, now, prediction_retention_days=27)
    assert result.purged is not None
    assert result.purged.before == BASE_TIME + 3 * DAY
    assert (result.purged.blocks, result.purged.records, result.purged.labels) == (1, 6, 1)
    with session_factory() as s:
        assert s.scalars(select(PredictionRecord.prediction_id)).all() != []
        assert not s.scalars(
            select(PredictionRecord.prediction_id).where(PredictionRecord.ts < BASE_TIME + DAY)
        ).all()
        assert s.scalars(select(PredictionLabel.prediction_id)).all() == ["p-100"]
        assert s.scalar(select(func.min(PredictionBlock.first_ts))) == BASE_TIME + 4 * DAY
        audit = s.scalars(
            select(AuditRecord).where(AuditRecord.action == "predictions.purge")
        ).one()
    assert audit.actor_user_id is None  # the system, on its schedule
    assert audit.after is not None
    assert audit.after["records"] == 6
    assert _count(session_factory, PredictionBlockCounts) == counts_before  # aggregates stay
    assert _count(session_factory, MonitoringReport) == reports_before
    if session_factory.kw["bind"].dialect.name == "postgresql":
        assert "prediction_blocks_p20261101" in result.purged.partitions_dropped
        assert "prediction_blocks_p20261101" not in _partition_names(
            session_factory, "prediction_blocks"
        )
        assert "prediction_blocks_p20261105" in _partition_names(
            session_factory, "prediction_blocks"
        )
    # Nothing left to purge: the next maintenance does nothing.
    assert _maintain(session_factory, now, prediction_retention_days=27).purged is None


def test_a_purge_keeps_the_dedupe_of_what_it_keeps(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    _log(client, setup, _day_rows(0, 2, first=0) + _day_rows(4, 2, first=100))
    with unit_of_work(session_factory) as s:
        storage_maintenance.purge(s, before=BASE_TIME + 2 * DAY + timedelta(hours=7), actor=SYSTEM)
    again = _log(client, setup, _day_rows(6, 2, first=100))
    assert (again["new"], again["duplicates"]) == (0, 2)


@pytest.mark.parametrize("days", [1, 7])
def test_period_start_aligns_to_the_epoch(days: int) -> None:
    moment = BASE_TIME + timedelta(days=3, hours=5)
    start = storage_maintenance.period_start(moment, days)
    assert start <= moment < start + timedelta(days=days)
    assert (start - storage_maintenance.EPOCH) % timedelta(days=days) == timedelta(0)


def test_the_server_prepares_partitions_at_start_up(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    if session_factory.kw["bind"].dialect.name != "postgresql":
        return  # nothing to prepare on SQLite
    url = engine.url.render_as_string(hide_password=False)
    # Embedded mode with the scheduler on runs the maintenance jobs: a round at start.
    settings = make_settings(url, scheduler_enabled=True, scheduler_tick_seconds=3600)
    today = storage_maintenance.period_start(datetime.now(UTC), 1)
    with TestClient(create_app(settings, engine=engine)):
        deadline = time.monotonic() + 20  # the first round runs beside serving
        names = _partition_names(session_factory, "prediction_labels")
        while f"prediction_labels_p{today + 7 * DAY:%Y%m%d}" not in names:
            assert time.monotonic() < deadline, names
            time.sleep(0.05)
            names = _partition_names(session_factory, "prediction_labels")
    assert f"prediction_labels_p{today:%Y%m%d}" in names
    assert f"prediction_labels_p{today + 7 * DAY:%Y%m%d}" in names  # seven periods ahead


def test_prediction_storage_is_a_maintenance_job(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftguard.jobs import maintenance
    from driftguard.lifecycle import retention

    calls: list[object] = []

    def fake(f: object, s: object, *, hold: object) -> storage_maintenance.MaintenanceResult:
        calls.append((s, hold))
        return storage_maintenance.MaintenanceResult(created=(), purged=None)

    monkeypatch.setattr(storage_maintenance, "run_maintenance", fake)
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    settings = make_settings(url)
    ran = maintenance.run_maintenance(session_factory, settings)
    assert ran == [job.name for job in maintenance.MAINTENANCE_JOBS]
    assert "prediction_storage" in ran
    # The job applies the EU AI Act retention floor (lifecycle.retention) to every purge.
    assert calls == [(settings, retention.prediction_hold)]


def test_a_new_label_replaces_the_stored_one_in_its_partition(
    client: TestClient, setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    _log(client, setup, _day_rows(2, 3, first=0))
    _maintain(session_factory, BASE_TIME)  # the labels' day has its partition (PostgreSQL)
    for value in (1, 0):
        body = {"labels": [{"prediction_id": "p-1", "label": value}]}
        response = client.post(f"{setup.url}/labels", json=body, headers=setup.engineer)
        assert response.json()["stored"] == 1
    with session_factory() as s:
        stored = s.execute(select(PredictionLabel.label, PredictionLabel.ts)).all()
    assert stored == [("0", BASE_TIME + 2 * DAY + timedelta(minutes=10))]
