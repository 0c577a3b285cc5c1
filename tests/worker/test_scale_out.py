"""Scale-out on one machine: two server processes, two workers and one scheduler on PostgreSQL
and Redis. Ingest goes through both servers; the rate limit holds across them; the scheduler
fires and every window is reported exactly once; a worker killed (SIGKILL) in the middle of a
task loses nothing (the task is handed out again and completes); a server killed in the middle
of ingest loses no acknowledged prediction. Runs when DRIFTGUARD_TEST_POSTGRES_URL and
DRIFTGUARD_TEST_REDIS_URL are set (.ci/run sets both)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import Engine, create_engine, select, text, update

from driftguard.db import migrate
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.identity.orm import ApiKey, Team
from driftguard.identity.permissions import Role
from driftguard.identity.tokens import API_KEY_PREFIX, hash_secret, new_secret
from driftguard.ingest.orm import PredictionRecord
from driftguard.jobs.scheduler import CATCH_UP, Due, closed_windows, stagger
from driftguard.monitoring.orm import MonitoringRun
from driftguard.registry.orm import ModelVersion, RegisteredModel, TaskType
from driftguard.worker.app import build_celery
from driftguard.worker.names import RUN_WINDOW
from driftguard.worker.tasks import window_task_id
from support.config import POSTGRES_URL, REDIS_URL, TEST_SECRET, make_settings
from support.databases import throwaway_postgres
from support.monitoring import prediction_rows, reference_rows
from support.processes import Process, Server, scheduler, worker
from support.registry import version_body

pytestmark = [
    pytest.mark.skipif(
        not (POSTGRES_URL and REDIS_URL), reason="needs PostgreSQL and Redis (.ci/run sets both)"
    ),
    # One multi-process test at a time: five interpreters booting at once starve a neighbour's.
    pytest.mark.xdist_group("processes"),
]

INTERVAL = timedelta(minutes=10)
RATE_LIMIT = 25  # per caller per hour, shared by both servers
VISIBILITY_SECONDS = 8  # a dead worker's task is handed out again after this


@dataclass
class Seeded:
    ingest_key: str
    probe_key: str
    versions: dict[str, tuple[int, int]]  # name → (model id, version id)


def _seed(engine: Engine) -> Seeded:
    migrate.upgrade(engine)
    keys = [API_KEY_PREFIX + new_secret() for _ in range(2)]
    versions = {}
    body = version_body()
    with unit_of_work(build_session_factory(engine)) as session:
        team = Team(name="scale", description="")
        session.add(team)
        session.flush()
        for i, key in enumerate(keys):
            session.add(
                ApiKey(
                    team_id=team.id,
                    name=f"k{i}",
                    prefix=key[:12],
                    key_hash=hash_secret(key),
                    role=Role.ML_ENGINEER,
                )
            )
        for name in ("a", "b", "killed"):
            model = RegisteredModel(team_id=team.id, name=name, next_version_number=2)
            session.add(model)
            session.flush()
            version = ModelVersion(
                model_id=model.id,
                number=1,
                task_type=TaskType.BINARY_CLASSIFICATION,
                features=body["features"],
                target=body["target"],
                training_metrics={},
            )
            session.add(version)
            session.flush()
            versions[name] = (model.id, version.id)
    return Seeded(keys[0], keys[1], versions)


def _rows(prefix: str, count: int, now: datetime) -> list[dict[str, object]]:
    """``count`` predictions, one a minute, ending a minute before ``now``."""
    rows = prediction_rows(count, seed=hash(prefix) % 1000)
    for i, row in enumerate(rows):
        row["prediction_id"] = f"{prefix}-{i}"
        row["timestamp"] = (now - timedelta(minutes=count - i)).isoformat()
    return rows


@pytest.fixture
def database() -> Iterator[str]:
    assert POSTGRES_URL is not None
    with throwaway_postgres(POSTGRES_URL, "dg_scale") as url:
        yield url


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.2)


def _metric(body: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in body.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_two_servers_two_workers_one_scheduler(database: str, tmp_path: Path) -> None:
    assert REDIS_URL is not None
    engine = create_engine(database)
    seeded = _seed(engine)
    prefix = f"scale-{uuid.uuid4().hex[:8]}"
    queue = prefix  # no other test's tasks on it, nor restored to it after a crash
    env = {
        "DRIFTGUARD_DATABASE_URL": database,
        "DRIFTGUARD_REDIS_URL": REDIS_URL,
        "DRIFTGUARD_BROKER_URL": REDIS_URL,
        "DRIFTGUARD_JWT_SECRET": TEST_SECRET,
        "DRIFTGUARD_ENVIRONMENT": "test",
        "DRIFTGUARD_LOG_LEVEL": "INFO",
        "DRIFTGUARD_RATE_LIMIT_API": f"{RATE_LIMIT}/hour",
        "DRIFTGUARD_RATE_LIMIT_KEY_PREFIX": prefix,
        "DRIFTGUARD_SCHEDULER_TICK_SECONDS": "1",
        "DRIFTGUARD_WEBHOOK_TICK_SECONDS": "1",
        "DRIFTGUARD_BROKER_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_SECONDS),
        "DRIFTGUARD_DB_POOL_SIZE": "4",
        "DRIFTGUARD_BROKER_QUEUE": queue,
    }
    settings = make_settings(
        database, redis_url=REDIS_URL, broker_url=REDIS_URL, broker_queue=queue
    )
    client_app, client_runtime = build_celery(settings)
    with client_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        processes: list[Process] = []
        stack.callback(lambda: [p.kill() for p in processes])
        stack.callback(client_runtime.close)

        def delete_queue() -> None:
            with client_app.connection_for_write() as connection:
                connection.default_channel.queue_delete(queue)

        stack.callback(delete_queue)

        def start(process: Process) -> Process:
            processes.append(process)
            process.start()
            return process

        # Application names tell PostgreSQL's activity view which worker holds which query.
        def worker_env(name: str) -> dict[str, str]:
            return {**env, "DRIFTGUARD_DATABASE_URL": f"{database}?application_name={name}"}

        # Every process boots at once (imports dominate start-up on a loaded machine); the
        # scheduler finds nothing to do until models are scheduled further down.
        server_a = start(Server("server-a", env, tmp_path))
        server_b = start(Server("server-b", env, tmp_path))
        worker_1 = start(worker("dg-worker-1", worker_env("dg-worker-1"), tmp_path))
        worker_2 = start(worker("dg-worker-2", worker_env("dg-worker-2"), tmp_path))
        start(scheduler("scheduler", env, tmp_path))
        server_a.wait_ready()
        server_b.wait_ready()
        servers = (server_a, server_b)
        ingest = {"X-API-Key": seeded.ingest_key}
        now = datetime.now(UTC)

        # Ingest through both servers.
        acknowledged = 0
        for name, (model_id, _) in seeded.versions.items():
            base = f"/api/v1/models/{model_id}/versions/1"
            reply = httpx2.put(
                f"{server_a.url}{base}/reference",
                json={"rows": reference_rows(300)},
                headers=ingest,
                timeout=30,
            )
            assert reply.status_code == 200, reply.text
            rows = _rows(name, 200, now)
            for i, server in enumerate((server_a, server_b, server_a, server_b)):
                reply = httpx2.post(
                    f"{server.url}{base}/predictions",
                    json={"rows": rows[i * 50 : (i + 1) * 50]},
                    headers=ingest,
                    timeout=30,
                )
                assert reply.status_code == 200, reply.text
                acknowledged += 1

        # The rate limit is one budget across both servers: another caller's requests,
        # alternating between them, get exactly RATE_LIMIT answers before the 429s.
        probe = {"X-API-Key": seeded.probe_key}
        statuses = [
            httpx2.get(f"{servers[i % 2].url}/api/v1/models", headers=probe, timeout=10).status_code
            for i in range(RATE_LIMIT + 10)
        ]
        assert statuses == [200] * RATE_LIMIT + [429] * 10

        # Metrics are per process; the sum over both is the service's total.
        scraped = [httpx2.get(f"{s.url}/metrics", timeout=10).text for s in servers]
        route = "/api/v1/models/{model_id}/versions/{number}/predictions"
        per_server = [
            _metric(body, "driftguard_http_requests_total", route=route) for body in scraped
        ]
        assert all(count > 0 for count in per_server)
        assert sum(per_server) == acknowledged
        assert sum(_metric(b, "driftguard_rate_limit_rejections_total") for b in scraped) == 10
        assert [_metric(b, "driftguard_task_dead_letters") for b in scraped] == [0.0, 0.0]

        # Kill server B with batches in flight: every acknowledged batch is stored whole.
        model_id, version_id = seeded.versions["b"]
        path = f"{server_b.url}/api/v1/models/{model_id}/versions/1/predictions"
        kill_rows = _rows("kill", 400, now - timedelta(hours=3))
        batches = [kill_rows[i : i + 20] for i in range(0, len(kill_rows), 20)]
        acked: list[int] = []

        def send(index: int) -> None:
            try:
                reply = httpx2.post(path, json={"rows": batches[index]}, headers=ingest, timeout=15)
            except httpx2.HTTPError:
                return
            if reply.status_code == 200:
                acked.append(index)

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(send, i) for i in range(len(batches))]
            _wait(lambda: len(acked) >= 4, 30, "acknowledged batches")
            server_b.kill()
            for future in futures:
                future.result()
        assert 4 <= len(acked) < len(batches)
        with engine.connect() as connection:
            stored = set(
                connection.scalars(
                    select(PredictionRecord.prediction_id).where(
                        PredictionRecord.version_id == version_id,
                        PredictionRecord.prediction_id.like("kill-%"),
                    )
                )
            )
        for index in acked:
            assert {str(r["prediction_id"]) for r in batches[index]} <= stored

        # Kill a worker in the middle of a task: hold the version's row lock so the task (one
        # window of the unscheduled model "killed") blocks inside its transaction.
        for each in (worker_1, worker_2):
            _wait(lambda w=each: "ready." in w.output(), 120, f"{each.name} to start")
        model_id, version_id = seeded.versions["killed"]
        start_at, end_at = next(iter(closed_windows(INTERVAL, now, 1)))
        item = Due(model_id, version_id, start_at, end_at)
        # The activity view is read outside the holder's transaction (which sees a snapshot).
        observer = create_engine(database, isolation_level="AUTOCOMMIT")
        stack.callback(observer.dispose)
        with engine.connect() as holder, observer.connect() as watching:
            holder.execute(
                select(ModelVersion.id).where(ModelVersion.id == version_id).with_for_update()
            )
            client_app.send_task(
                RUN_WINDOW,
                args=[model_id, version_id, start_at.isoformat(), end_at.isoformat()],
                task_id=window_task_id(item),
            )
            blocked: list[str] = []

            def someone_blocked() -> bool:
                names = (
                    watching.execute(
                        text(
                            "SELECT application_name FROM pg_stat_activity "
                            "WHERE wait_event_type = 'Lock' AND application_name LIKE 'dg-worker-%'"
                        )
                    )
                    .scalars()
                    .all()
                )
                blocked[:] = [str(n) for n in names]
                return bool(names)

            _wait(someone_blocked, 30, "a worker to take the task")
            victim, survivor = (
                (worker_1, worker_2) if blocked[0] == "dg-worker-1" else (worker_2, worker_1)
            )
            victim.kill()
            holder.rollback()  # release the lock

        # Schedule the two other models: the scheduler's next tick finds their windows due.
        with engine.begin() as connection:
            connection.execute(
                update(RegisteredModel)
                .where(RegisteredModel.id.in_([seeded.versions[n][0] for n in ("a", "b")]))
                .values(monitoring_interval_minutes=int(INTERVAL.total_seconds() // 60))
            )
        # Each model's windows are due its stagger after they close (the default spread).
        spread = settings.scheduler_stagger
        expected = {
            Due(m, v, s, e).key
            for m, v in (seeded.versions["a"], seeded.versions["b"])
            for s, e in closed_windows(
                INTERVAL, datetime.now(UTC) - stagger(m, INTERVAL, spread), CATCH_UP
            )
        }

        def runs() -> list[tuple[str, str]]:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(MonitoringRun.schedule_key, MonitoringRun.status)
                ).all()
            return [(str(k), str(s)) for k, s in rows]

        # The killed worker's task is handed out again and completes, on the survivor.
        _wait(lambda: item.key in {k for k, _ in runs()}, 90, "the killed task to be retried")
        assert window_task_id(item) in survivor.output()
        # Every window of the scheduled models is reported, once.
        _wait(lambda: expected <= {k for k, _ in runs()}, 40, "every due window")
        time.sleep(1.5)  # ticks keep coming: a second run of any window would show now
        stored_runs = runs()
        keys = [k for k, _ in stored_runs]
        assert len(keys) == len(set(keys))
        for name in ("a", "b"):  # 200 minutes of data: about 20 windows with predictions
            mine = [st for k, st in stored_runs if k.startswith(f"{seeded.versions[name][1]}:")]
            assert sum(st == "completed" for st in mine) >= 15
        assert server_a.alive()
        assert survivor.alive()
        assert not victim.alive()
    engine.dispose()
