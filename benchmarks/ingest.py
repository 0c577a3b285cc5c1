"""Ingest throughput against a running server: bulk Parquet files and JSON batches.

    uv run python benchmarks/ingest.py --sqlite --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Seeds a model version with 20 numeric features and a fitted reference (so every new block is
also reduced to counts at ingest, as in production), starts uvicorn on loopback, then times:

* bulk: ``--file-rows`` predictions in one Parquet file per request, ``--repeats`` requests;
* JSON: ``--json-rows`` predictions in batches of 10,000 rows, ``--clients`` at a time.

Every request carries new prediction ids; the clock runs from the first byte sent to the last
answer. Request bodies are built before the clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from _databases import backend_parser, backends
from _loadgen import Server
from driftguard import stats
from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.identity.orm import ApiKey, Team
from driftguard.identity.permissions import Role
from driftguard.identity.tokens import API_KEY_PREFIX, hash_secret, new_secret
from driftguard.ingest import storage_maintenance
from driftguard.ingest.orm import ReferenceDataset
from driftguard.registry.orm import ModelVersion, RegisteredModel, TaskType
from driftguard.settings import load_settings

FEATURES = [f"f{i:02d}" for i in range(20)]
START = datetime(2026, 10, 1, tzinfo=UTC)
SECRET = "benchmark-secret-" + "z" * 48
PARQUET = "application/vnd.apache.parquet"


def seed(url: str) -> tuple[int, str]:
    """A team, an ML-engineer API key and a version with a reference; (model id, key)."""
    engine = build_engine(load_settings(database_url=url))
    migrate.upgrade(engine)
    rng = np.random.default_rng(0)
    key = API_KEY_PREFIX + new_secret()
    with unit_of_work(build_session_factory(engine)) as session:
        team = Team(name="bench", description="")
        session.add(team)
        session.flush()
        session.add(ApiKey(team_id=team.id, name="bench", prefix=key[:12],
                           key_hash=hash_secret(key), role=Role.ML_ENGINEER))  # fmt: skip
        model = RegisteredModel(team_id=team.id, name="bench", next_version_number=2)
        session.add(model)
        session.flush()
        features = [{"name": f, "type": "numeric", "sensitive": False} for f in FEATURES]
        version = ModelVersion(
            model_id=model.id, number=1, task_type=TaskType.BINARY_CLASSIFICATION,
            features=features, target="y", training_metrics={},
        )  # fmt: skip
        session.add(version)
        session.flush()
        profile = stats.fit_profile({f: rng.normal(0, 1, 100_000) for f in FEATURES})
        session.add(ReferenceDataset(
            version_id=version.id, is_active=True, row_count=100_000, source_format="bench",
            profile=profile.to_bytes(), profile_id=profile.profile_id,
        ))  # fmt: skip
        model_id = model.id
        # Partitions for the benchmark's days, as maintenance prepares them ahead of live data.
        storage_maintenance.ensure(session, days=1, ahead=40, now=START)
    engine.dispose()
    return model_id, key


def predictions(prefix: str, rows: int, offset: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = np.char.add(f"{prefix}-", np.arange(offset, offset + rows).astype(str))
    seconds = np.arange(offset, offset + rows, dtype=np.int64)
    stamps = (np.datetime64(START.replace(tzinfo=None), "us") + seconds * 1_000_000).astype(
        "datetime64[us]"
    )
    return pa.table(
        {
            "prediction_id": pa.array(ids.tolist(), pa.string()),
            "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
            "label": pa.array(rng.integers(0, 2, rows)),
            "score": pa.array(rng.random(rows)),
            **{f: pa.array(rng.normal(0.1, 1.1, rows)) for f in FEATURES},
        }
    )


def json_batch(table: pa.Table) -> bytes:
    columns = table.to_pydict()
    rows = [
        {
            "prediction_id": columns["prediction_id"][i],
            "timestamp": columns["timestamp"][i].isoformat(),
            "features": {f: columns[f][i] for f in FEATURES},
            "prediction": {"label": columns["label"][i], "score": columns["score"][i]},
        }
        for i in range(table.num_rows)
    ]
    return json.dumps({"rows": rows}).encode()


def bulk(base: str, path: str, key: str, args: argparse.Namespace, tmp: Path) -> list[float]:
    rates = []
    for repeat in range(args.repeats):
        file = tmp / f"bulk-{repeat}.parquet"
        pq.write_table(predictions(f"b{repeat}", args.file_rows, repeat * args.file_rows, repeat),
                       file)  # fmt: skip
        with file.open("rb") as body:
            started = time.perf_counter()
            response = httpx2.post(
                f"{base}{path}/upload", content=body, timeout=900,
                headers={"X-API-Key": key, "Content-Type": PARQUET},
            )  # fmt: skip
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text[:500]
        assert response.json()["new"] == args.file_rows, response.text
        rates.append(args.file_rows / elapsed)
        print(f"  bulk {repeat}: {args.file_rows:,} rows in {elapsed:.2f} s "
              f"({file.stat().st_size / 2**20:.0f} MiB)", flush=True)  # fmt: skip
        file.unlink()
    return rates


async def _send_json(base: str, path: str, key: str, bodies: list[bytes], clients: int) -> float:
    queue = list(reversed(bodies))
    limits = httpx2.Limits(max_connections=clients)
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    async with httpx2.AsyncClient(base_url=base, timeout=600, limits=limits) as http:

        async def worker() -> None:
            while queue:
                response = await http.post(path, content=queue.pop(), headers=headers)
                assert response.status_code == 200, response.text[:500]
                assert response.json()["new"] == 10_000, response.text

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - started


def json_batches(server: Server, path: str, key: str, args: argparse.Namespace) -> JsonResult:
    bodies = [
        json_batch(predictions("j", 10_000, i * 10_000, 1_000 + i))
        for i in range(args.json_rows // 10_000)
    ]
    cpu = server.cpu_seconds()
    elapsed = asyncio.run(_send_json(server.base_url, path, key, bodies, args.clients))
    cpu_ms = (server.cpu_seconds() - cpu) * 1000 / len(bodies)
    rows = len(bodies) * 10_000
    print(f"  JSON: {rows:,} rows in {len(bodies)} batches in {elapsed:.2f} s "
          f"({sum(map(len, bodies)) / len(bodies) / 2**20:.1f} MiB each), "
          f"server CPU {cpu_ms:.0f} ms per batch", flush=True)  # fmt: skip
    return JsonResult(rows / elapsed, cpu_ms)


@dataclass(frozen=True)
class JsonResult:
    rate: float
    server_cpu_ms: float


def settle(url: str) -> None:
    """Write out what the bulk uploads left dirty (a PostgreSQL checkpoint, then the page
    cache), so the JSON batches are measured on a settled database, not behind the uploads'
    write-back."""
    started = time.perf_counter()
    if url.startswith("postgresql"):
        engine = build_engine(load_settings(database_url=url))
        with engine.connect() as connection:
            connection.exec_driver_sql("CHECKPOINT")
        engine.dispose()
    os.sync()
    print(f"  checkpoint after the uploads: {time.perf_counter() - started:.1f} s", flush=True)


def server_env(url: str) -> dict[str, str]:
    """A server on ``url`` with nothing running beside the requests measured."""
    return {
        "DRIFTGUARD_DATABASE_URL": url,
        "DRIFTGUARD_JWT_SECRET": SECRET,
        "DRIFTGUARD_RATE_LIMIT_ENABLED": "false",
        "DRIFTGUARD_SCHEDULER_ENABLED": "false",
        "DRIFTGUARD_WEBHOOK_DELIVERY_ENABLED": "false",
    }


def bench(url: str, label: str, args: argparse.Namespace) -> str:
    model_id, key = seed(url)
    env = server_env(url)
    path = f"/api/v1/models/{model_id}/versions/1/predictions"
    print(f"{label}: load average {os.getloadavg()}", flush=True)
    with Server(env, workers=args.workers) as server, tempfile.TemporaryDirectory() as tmp:
        bulk_rates = bulk(server.base_url, path, key, args, Path(tmp))
        settle(url)
        json_result = json_batches(server, path, key, args)
    print(f"{label}: load average {os.getloadavg()}", flush=True)
    return (
        f"| {label} ({args.workers} worker{'s' if args.workers > 1 else ''}) "
        f"| {args.file_rows:,} x {args.repeats} | {statistics.median(bulk_rates):,.0f} "
        f"| {min(bulk_rates):,.0f} | {args.json_rows:,} ({args.clients} clients) "
        f"| {json_result.rate:,.0f} | {json_result.server_cpu_ms:.0f} |"
    )


def main() -> None:
    parser = backend_parser(__doc__.splitlines()[0])
    parser.add_argument("--file-rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json-rows", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    rows = [bench(url, label, args) for url, label in backends(args)]
    print("| storage | bulk Parquet rows | bulk median rows/s | bulk min rows/s "
          "| JSON rows | JSON rows/s | server CPU ms per JSON batch |\n"
          "|---|---:|---:|---:|---:|---:|---:|")  # fmt: skip
    print("\n".join(rows))


if __name__ == "__main__":
    main()
