"""Scale-out on one machine: ingest through 1 vs 2 server processes, monitoring-run throughput
with 1, 2 and 4 Celery workers, and the time from a window closing to its report being stored.

Loopback only, bounded: PostgreSQL (a throwaway database) and Redis (db 14 by default) on this
machine; every child process is stopped at the end.

    uv run python benchmarks/scale_out.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Engine, func, select, text, update

from _databases import throwaway_postgres
from _loadgen import Server
from driftguard import stats
from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.identity.orm import ApiKey, Team
from driftguard.identity.permissions import Role
from driftguard.identity.tokens import API_KEY_PREFIX, hash_secret, new_secret
from driftguard.ingest.orm import PredictionRecord, ReferenceDataset
from driftguard.jobs.scheduler import Due
from driftguard.monitoring.orm import MonitoringRun
from driftguard.registry.orm import ModelVersion, RegisteredModel, TaskType
from driftguard.settings import load_settings
from driftguard.worker.app import build_celery
from driftguard.worker.names import RUN_WINDOW
from ingest import FEATURES, SECRET, _send_json, json_batch, predictions

PARQUET = "application/vnd.apache.parquet"
DRIFTGUARD = str(Path(sys.executable).with_name("driftguard"))
HOUR = timedelta(hours=1)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def seed(engine: Engine, count: int, prefix: str) -> tuple[str, list[tuple[int, int]]]:
    """``count`` versions with a fitted reference, and an API key: (key, [(model, version)])."""
    rng = np.random.default_rng(0)
    profile = stats.fit_profile({f: rng.normal(0, 1, 100_000) for f in FEATURES})
    key = API_KEY_PREFIX + new_secret()
    made = []
    with unit_of_work(build_session_factory(engine)) as session:
        team = Team(name=f"{prefix}-team", description="")
        session.add(team)
        session.flush()
        session.add(ApiKey(team_id=team.id, name=prefix, prefix=key[:12],
                           key_hash=hash_secret(key), role=Role.ML_ENGINEER))  # fmt: skip
        for i in range(count):
            model = RegisteredModel(team_id=team.id, name=f"{prefix}-{i}", next_version_number=2)
            session.add(model)
            session.flush()
            features = [{"name": f, "type": "numeric", "sensitive": False} for f in FEATURES]
            version = ModelVersion(
                model_id=model.id, number=1, task_type=TaskType.BINARY_CLASSIFICATION,
                features=features, target="y", training_metrics={},
            )  # fmt: skip
            session.add(version)
            session.flush()
            session.add(ReferenceDataset(
                version_id=version.id, is_active=True, row_count=100_000, source_format="bench",
                profile=profile.to_bytes(), profile_id=profile.profile_id,
            ))  # fmt: skip
            made.append((model.id, version.id))
    return key, made


def env_for(url: str, redis: str, **extra: str) -> dict[str, str]:
    return {
        "DRIFTGUARD_DATABASE_URL": url, "DRIFTGUARD_JWT_SECRET": SECRET,
        "DRIFTGUARD_REDIS_URL": redis, "DRIFTGUARD_BROKER_URL": redis,
        "DRIFTGUARD_RATE_LIMIT_ENABLED": "false", "DRIFTGUARD_LOG_LEVEL": "WARNING", **extra,
    }  # fmt: skip


@contextmanager
def processes(commands: list[list[str]], env: dict[str, str]) -> Iterator[list[Path]]:
    """Child processes, logging to files; killed when the block ends."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        logs = []
        for i, command in enumerate(commands):
            log = Path(tmp) / f"{i}.log"
            out = stack.enter_context(log.open("wb"))
            child = subprocess.Popen(command, env={**os.environ, **env}, stdout=out,
                                     stderr=subprocess.STDOUT)  # fmt: skip
            stack.callback(lambda c=child: (c.send_signal(signal.SIGKILL), c.wait()))
            logs.append(log)
        yield logs


def wait_for(text: str, logs: list[Path], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not all(text in log.read_text(errors="replace") for log in logs):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {text!r} within {seconds} s")
        time.sleep(0.2)


def ingest(
    url: str, redis: str, key: str, model_id: int, servers: int, args: argparse.Namespace
) -> float:
    """JSON batches from ``args.clients`` clients, spread over the servers; rows per second."""
    path = f"/api/v1/models/{model_id}/versions/1/predictions"
    size = args.batch_rows
    bodies = [
        json_batch(predictions(f"s{servers}", size, i * size, i)) for i in range(args.batches)
    ]
    env = env_for(url, redis, DRIFTGUARD_SCHEDULER_ENABLED="false")
    with ExitStack() as stack:
        bases = [stack.enter_context(Server(env)).base_url for _ in range(servers)]
        share = [bodies[i::servers] for i in range(servers)]

        async def all_servers() -> list[float]:
            return await asyncio.gather(
                *(_send_json(base, path, key, part, args.clients // servers)
                  for base, part in zip(bases, share, strict=True))
            )  # fmt: skip

        started = time.perf_counter()
        asyncio.run(all_servers())
        elapsed = time.perf_counter() - started
    return len(bodies) * size / elapsed


def fill_windows(
    url: str,
    redis: str,
    key: str,
    versions: list[tuple[int, int]],
    args: argparse.Namespace,
    start: datetime,
    hours: int,
) -> None:
    """``rows_per_window`` predictions in each of ``hours`` hourly windows of each version."""
    env = env_for(url, redis, DRIFTGUARD_SCHEDULER_ENABLED="false")
    rows = args.rows_per_window * hours
    with Server(env) as server, tempfile.TemporaryDirectory() as tmp:
        for n, (model_id, _) in enumerate(versions):
            table = predictions(f"w{n}", rows, 0, n)
            stamps = np.datetime64(start.replace(tzinfo=None), "us") + (
                np.arange(rows) * int(3_600_000_000 / args.rows_per_window)
            ).astype("timedelta64[us]")
            table = table.set_column(1, "timestamp", pa.array(stamps, pa.timestamp("us", tz="UTC")))
            file = Path(tmp) / f"{n}.parquet"
            pq.write_table(table, file)
            with file.open("rb") as body:
                reply = httpx2.post(
                    f"{server.base_url}/api/v1/models/{model_id}/versions/1/predictions/upload",
                    content=body, headers={"X-API-Key": key, "Content-Type": PARQUET}, timeout=600,
                )  # fmt: skip
            assert reply.status_code == 200, reply.text[:300]


def stored(engine: Engine, keys: set[str]) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(
            select(func.count()).where(MonitoringRun.schedule_key.in_(keys))
        ) or 0)  # fmt: skip


def run_throughput(
    url: str,
    redis: str,
    engine: Engine,
    versions: list[tuple[int, int]],
    windows: list[tuple[datetime, datetime]],
    workers: int,
) -> tuple[float, float]:
    """Runs per second with ``workers`` worker processes (one task at a time each), and the
    median seconds per run, over every (version, window) pair."""
    settings = load_settings(database_url=url, broker_url=redis)
    app, runtime = build_celery(settings, tasks=False)
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(settings.broker_queue)
    # Window by window, as the scheduler sends them (one due window per model per tick): runs of
    # one version hold its lock in turn, so sending a version's windows together would serialise.
    items = [Due(m, v, s, e) for s, e in windows for m, v in versions]
    keys = {i.key for i in items}
    command = [DRIFTGUARD, "worker", "--pool", "solo"]
    with processes([command] * workers, env_for(url, redis, DRIFTGUARD_LOG_LEVEL="INFO")) as logs:
        wait_for("ready.", logs)
        started = time.perf_counter()
        for i in items:
            window = [i.model_id, i.version_id, i.start.isoformat(), i.end.isoformat()]
            app.send_task(RUN_WINDOW, args=window)
        while stored(engine, keys) < len(keys):
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    runtime.close()
    return len(keys) / elapsed, elapsed * workers / len(keys)


def latency(
    url: str,
    redis: str,
    engine: Engine,
    key: str,
    versions: list[tuple[int, int]],
    args: argparse.Namespace,
) -> list[float]:
    """Seconds from each window's end to its report being stored, with the scheduler and two
    workers running and a feeder sending predictions, for windows of one minute."""
    with engine.begin() as connection:
        connection.execute(update(RegisteredModel).where(
            RegisteredModel.id.in_([m for m, _ in versions])
        ).values(monitoring_interval_minutes=1))  # fmt: skip
    env = env_for(url, redis, DRIFTGUARD_SCHEDULER_TICK_SECONDS=str(args.tick))
    commands = [[DRIFTGUARD, "scheduler"], *[[DRIFTGUARD, "worker", "--pool", "solo"]] * 2]
    with processes(commands, env) as _, Server(env_for(url, redis)) as server:
        began = datetime.now(UTC)
        deadline = time.monotonic() + args.latency_minutes * 60 + 20
        sent = 0
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            for model_id, _ in versions:
                stamp = (now - timedelta(seconds=1)).isoformat()
                body = {"rows": [
                    {"prediction_id": r["prediction_id"], "timestamp": stamp,
                     "features": {f: r[f] for f in FEATURES},
                     "prediction": {"label": r["label"], "score": r["score"]}}
                    for r in predictions(f"live{sent}", 200, 0, sent).to_pylist()
                ]}  # fmt: skip
                httpx2.post(
                    f"{server.base_url}/api/v1/models/{model_id}/versions/1/predictions",
                    json=body, headers={"X-API-Key": key}, timeout=60,
                )  # fmt: skip
                sent += 1
            time.sleep(5)
    with engine.connect() as connection:
        rows = connection.execute(
            select(MonitoringRun.window_end, MonitoringRun.created_at).where(
                MonitoringRun.trigger == "scheduled",
                MonitoringRun.window_end > began + timedelta(minutes=1),
                MonitoringRun.version_id.in_([v for _, v in versions]),
            )
        ).all()
    return sorted((created - end).total_seconds() for end, created in rows)


def runs(
    url: str, engine: Engine, key: str, versions: list[tuple[int, int]], args: argparse.Namespace
) -> None:
    start = datetime(2026, 9, 1, tzinfo=UTC)
    fill_windows(url, args.redis, key, versions, args, start, args.windows * len(args.workers))
    with engine.connect() as connection:
        size = _bytes_of(
            connection, ["prediction_records", "prediction_blocks", "prediction_block_counts"]
        )
        rows = connection.scalar(select(func.count()).select_from(PredictionRecord))
    print(f"storage: {size / max(rows, 1):.0f} bytes per prediction (records, blocks, counts, "
          f"indexes, TOAST; {rows:,} predictions of 20 features)", flush=True)  # fmt: skip
    for n, workers in enumerate(args.workers):
        first = start + n * args.windows * HOUR
        windows = [(first + k * HOUR, first + (k + 1) * HOUR) for k in range(args.windows)]
        rate, per_run = run_throughput(url, args.redis, engine, versions, windows, workers)
        what = (f"monitoring runs, {len(versions)} versions x {args.windows} windows "
                f"of {args.rows_per_window:,} rows")  # fmt: skip
        per = f"{per_run * 1000:.0f} ms per run per worker"
        print(f"| {what} | {workers} worker(s) | {rate:.1f} runs/s ({per}) | {load()} |",
              flush=True)  # fmt: skip
    with engine.connect() as connection:
        size = _bytes_of(
            connection, ["monitoring_runs", "monitoring_reports", "version_facts", "risk_scores"]
        )
        count = connection.scalar(select(func.count()).select_from(MonitoringRun))
    print(f"storage: {size / max(count, 1):,.0f} bytes per monitoring run (runs, reports, facts "
          f"and MRI history, indexes included; {count:,} runs)", flush=True)  # fmt: skip


def _bytes_of(connection: Connection, tables: list[str]) -> int:
    """The tables' size on disk with their indexes and TOAST, and their partitions' (a
    partitioned table holds nothing itself: ``pg_total_relation_size`` of it alone is 0)."""
    size = connection.scalar(
        text(
            "SELECT sum(pg_total_relation_size(r)) FROM ("
            " SELECT relid AS r FROM unnest(CAST(:tables AS text[])) AS t,"
            " pg_partition_tree(t::regclass) WHERE isleaf"
            " UNION SELECT t::regclass FROM unnest(CAST(:tables AS text[])) AS t) AS parts"
        ),
        {"tables": tables},
    )
    return int(size or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="admin URL of a PostgreSQL server")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", type=int, default=20, help="JSON batches per measurement")
    parser.add_argument("--batch-rows", type=int, default=10_000)
    parser.add_argument(
        "--phases", nargs="+", default=["ingest", "runs", "latency"],
        choices=["ingest", "runs", "latency"],
    )  # fmt: skip
    parser.add_argument("--versions", type=int, default=8)
    parser.add_argument("--windows", type=int, default=12, help="hourly windows per worker count")
    parser.add_argument("--rows-per-window", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--latency-minutes", type=float, default=4)
    parser.add_argument("--tick", type=float, default=5, help="scheduler tick, seconds")
    args = parser.parse_args()
    with throwaway_postgres(args.postgres) as url:
        engine = build_engine(load_settings(database_url=url))
        migrate.upgrade(engine)
        key, versions = seed(engine, args.versions, "runs")
        print(f"load average {load()}", flush=True)
        if "ingest" in args.phases:
            for servers in (1, 2):
                rate = ingest(url, args.redis, key, versions[0][0], servers, args)
                plural = "es" if servers > 1 else ""
                what = f"ingest, JSON batches of {args.batch_rows:,} rows, {args.clients} clients"
                print(f"| {what} | {servers} server process{plural} | {rate:,.0f} rows/s "
                      f"| {load()} |", flush=True)  # fmt: skip
        if "runs" in args.phases:
            runs(url, engine, key, versions[1:], args)
        if "latency" in args.phases:
            live_key, live = seed(engine, args.versions, "live")
            delays = latency(url, args.redis, engine, live_key, live, args)
            p95 = delays[max(0, min(len(delays), round(0.95 * len(delays))) - 1)]
            what = (f"window closed → report stored, tick {args.tick:g} s, 2 workers, "
                    f"{len(live)} models, 1-minute windows")  # fmt: skip
            print(f"| {what} | {len(delays)} windows | p50 {statistics.median(delays):.1f} s, "
                  f"p95 {p95:.1f} s, max {delays[-1]:.1f} s | {load()} |", flush=True)  # fmt: skip
        engine.dispose()


if __name__ == "__main__":
    main()
