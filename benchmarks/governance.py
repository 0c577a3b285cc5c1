"""Governance latency: 10,000 models on PostgreSQL, a running server.

    uv run python benchmarks/governance.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Seeds the model-list benchmark's portfolio (10,000 models, two versions each) plus, for every
newest version, a facts snapshot of 20 features (PSI, corrected p-value, missing rate), an active
reference data set and a few alerts; starts the server on loopback and measures

* a portfolio simulation of a draft policy (every model, baseline and scenario) — target p99 300 ms;
* a deployment request (evaluate the policy, store the decision, score the MRI) — target p99 100 ms;
* `driftguard gate check` as a fresh process (interpreter start included) — target 1 s.

`--sqlite` runs the same on SQLite. Bounded: a fixed number of requests, loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
from sqlalchemy import insert, text

from _databases import backend_parser, backends
from _loadgen import TABLE_HEADER, LoadResult, Server
from api_models import SECRET, seed, token
from driftguard.db.engine import build_engine
from driftguard.governance.orm import Alert
from driftguard.ingest.orm import ReferenceDataset
from driftguard.monitoring.orm import VersionFacts
from driftguard.rules import DEFAULT_POLICY_YAML
from driftguard.rules.portfolio import summarise
from driftguard.settings import load_settings

DRAFT = DEFAULT_POLICY_YAML.replace("priority: 0", "priority: 100").replace(
    "    threshold: 0.25\n    severity: block", "    threshold: 0.2\n    severity: block"
)


def seed_governance(url: str) -> None:
    engine = build_engine(load_settings(database_url=url, jwt_secret=SECRET))
    rng = random.Random(2)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        newest = conn.execute(
            text(
                "SELECT v.id, v.model_id, m.team_id FROM model_versions v "
                "JOIN registered_models m ON m.id = v.model_id WHERE v.number = 2"
            )
        ).all()
        snapshots, references, alerts = [], [], []
        for version_id, model_id, team_id in newest:
            features = [f"f{i}" for i in range(20)]
            facts = {
                "drift.psi": {f: round(rng.expovariate(12), 4) for f in features},
                "drift.p_value_adjusted": {f: round(rng.random(), 4) for f in features},
                "data_quality.missing_rate": {f: round(rng.random() / 50, 4) for f in features},
                "monitoring.n_predictions": {"": 100_000.0},
            }
            snapshots.append({"version_id": version_id, "run_id": None, "window_end": now,
                              "measured_at": now, "facts": facts,
                              "summary": summarise(facts)})  # fmt: skip
            references.append({"version_id": version_id, "is_active": True, "row_count": 50_000,
                               "source_format": "parquet", "profile": b"", "profile_id": "bench",
                               "created_at": now})  # fmt: skip
            if rng.random() < 0.1:
                alerts.append({"team_id": team_id, "model_id": model_id, "version_id": version_id,
                               "rule": "psi", "subject": "f0", "fact": "drift.psi",
                               "severity": rng.choice(["warning", "critical"]), "status": "open",
                               "observed": 0.3, "operator": ">=", "threshold": 0.25,
                               "message": "shift", "window_end": now, "opened_at": now,
                               "last_seen_at": now})  # fmt: skip
        conn.execute(insert(VersionFacts), snapshots)
        conn.execute(insert(ReferenceDataset), references)
        conn.execute(insert(Alert), alerts)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


async def _timed(
    base_url: str, headers: dict[str, str], calls: list[tuple[str, str, Any]], clients: int
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    queue = list(calls)
    async with httpx2.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:

        async def client() -> None:
            nonlocal errors
            while queue:
                method, path, body = queue.pop(0)
                started = time.perf_counter()
                response = await http.request(method, path, json=body)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def measure(
    name: str, base_url: str, headers: dict[str, str], calls: list[tuple[str, str, Any]],
    *, clients: int, warmup: int,
) -> LoadResult:  # fmt: skip
    asyncio.run(_timed(base_url, headers, calls[:warmup], clients))
    latencies, errors, elapsed = asyncio.run(_timed(base_url, headers, calls[warmup:], clients))
    ms = np.asarray(latencies) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return LoadResult(name, len(ms), errors, elapsed, float(p50), float(p95), float(p99))


def gate_process(base_url: str, key: str, model: str, runs: int) -> LoadResult:
    env = {**os.environ, "DRIFTGUARD_URL": base_url, "DRIFTGUARD_API_KEY": key}
    command = [str(Path(sys.executable).parent / "driftguard"), "gate", "check", "--model", model,
               "--version", "2", "--env", "production"]  # fmt: skip
    latencies = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        latencies.append(time.perf_counter() - started)
        if done.returncode not in (0, 1, 2):
            raise RuntimeError(done.stderr.decode())
    ms = np.asarray(latencies) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return LoadResult("gate check, whole process", runs, 0, float(sum(latencies)),
                      float(p50), float(p95), float(p99))  # fmt: skip


def bench(url: str, label: str, args: argparse.Namespace) -> None:
    seed(url, args.models, args.teams)
    seed_governance(url)
    env = {
        "DRIFTGUARD_DATABASE_URL": url, "DRIFTGUARD_JWT_SECRET": SECRET,
        "DRIFTGUARD_RATE_LIMIT_ENABLED": "false", "DRIFTGUARD_SCHEDULER_ENABLED": "false",
    }  # fmt: skip
    with Server(env, workers=args.workers) as server:
        auditor = {"Authorization": f"Bearer {token(server.base_url, 'auditor@bench.example')}"}
        engineer = {"Authorization": f"Bearer {token(server.base_url, 'engineer@bench.example')}"}
        simulation = ("POST", "/api/v1/simulations", {"policy": DRAFT})
        result = measure(
            f"{label}: portfolio simulation, {args.models:,} models", server.base_url, auditor,
            [simulation] * (args.simulations + 3), clients=1, warmup=3,
        )  # fmt: skip
        print(result.row(), flush=True)
        listed = httpx2.get(
            f"{server.base_url}/api/v1/models?limit=200", headers=engineer, timeout=30
        ).json()["items"]
        requests = [
            ("POST", "/api/v1/deployments",
             {"model_id": m["id"], "version": 2, "environment": env_name})
            for env_name in ("production", "staging") for m in listed
        ]  # fmt: skip
        # One client (a request's own latency), then several at once, on other models.
        for clients, calls in ((1, requests[::2]), (args.clients, requests[1::2])):
            result = measure(
                f"{label}: deployment request, {clients} client(s)", server.base_url, engineer,
                calls, clients=clients, warmup=20,
            )  # fmt: skip
            print(result.row(), flush=True)
        team = listed[0]["team_id"]
        key = httpx2.post(
            f"{server.base_url}/api/v1/teams/{team}/api-keys", json={"name": "ci"},
            headers=engineer, timeout=10,
        ).json()["key"]  # fmt: skip
        print(gate_process(server.base_url, key, listed[0]["name"], args.gate_runs).row())


def main() -> None:
    parser = backend_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--clients", type=int, default=4, help="concurrent deployment requests")
    parser.add_argument("--simulations", type=int, default=30)
    parser.add_argument("--gate-runs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    print(TABLE_HEADER)
    for url, label in backends(args):
        bench(url, label, args)


if __name__ == "__main__":
    main()
