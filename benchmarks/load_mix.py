"""Load test: a scenario mix at three times the documented peak, against a local server.

    uv run python benchmarks/load_mix.py \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test --redis redis://127.0.0.1:6379/14

The documented peak (docs/deployment.md, "Sizing") is 20 requests per second for one server
process: 40 % model list and search, 20 % executive dashboard, 20 % prediction batches of 100
rows, 10 % deployment requests, 5 % CI gate, 5 % team-scoped simulations. This sends that mix
open-loop (requests leave on schedule whether or not earlier ones have answered) at
``--multiplier`` times the peak for ``--seconds`` seconds, and reports per endpoint the count,
the error rate (5xx, timeouts, refused connections) and p50/p95/p99 latency. Bounded: a fixed
number of requests, loopback only, the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import numpy as np

from _databases import each_backend
from _loadgen import Server
from api_models import SECRET, seed, token
from governance import seed_governance

PEAK_PER_SECOND = 20
MIX = (  # (scenario, share of requests)
    ("model list", 0.40),
    ("dashboard", 0.20),
    ("ingest 100 rows", 0.20),
    ("deployment request", 0.10),
    ("gate", 0.05),
    ("simulation, one team", 0.05),
)


def schedule(total: int, rng: random.Random) -> list[str]:
    names = [name for name, _ in MIX]
    return rng.choices(names, weights=[share for _, share in MIX], k=total)


class Calls:
    """Builds each scenario's next request; ids never repeat, so no request is a duplicate."""

    def __init__(self, models: list[dict[str, Any]], team: int) -> None:
        self.models = models
        self.team = team
        self.next_model = 0
        self.next_prediction = 0
        self.rng = random.Random(3)

    def build(self, scenario: str) -> tuple[str, str, Any]:
        model = self.rng.choice(self.models)
        if scenario == "model list":
            query = self.rng.choice(["", "&q=credit", "&tag=retail&stage=staging", "&offset=500"])
            return "GET", f"/api/v1/models?limit=50{query}", None
        if scenario == "dashboard":
            return "GET", "/api/v1/dashboard/executive", None
        if scenario == "ingest 100 rows":
            start = self.next_prediction
            self.next_prediction += 100
            now = datetime.now(UTC)
            rows = [
                {"prediction_id": f"load-{i}",
                 "timestamp": (now - timedelta(seconds=i)).isoformat(),
                 "features": {f"f{j}": self.rng.random() for j in range(20)},
                 "prediction": {"label": i % 2, "score": 0.5}}
                for i in range(start, start + 100)
            ]  # fmt: skip
            path = f"/api/v1/models/{model['id']}/versions/1/predictions"
            return "POST", path, {"rows": rows}
        if scenario == "deployment request":
            target = self.models[self.next_model % len(self.models)]
            self.next_model += 1
            body = {"model_id": target["id"], "version": 2, "environment": "production"}
            return "POST", "/api/v1/deployments", body
        if scenario == "gate":
            query = f"model={model['name']}&version=2&environment=production"
            return "GET", f"/api/v1/gate?{query}", None
        draft = (
            "rules: [{name: psi, fact: drift.psi, operator: '<', threshold: 0.2, severity: block}]"
        )
        body = {"policy": draft, "scope": {"team_id": self.team}}
        return "POST", "/api/v1/simulations", body


async def run(
    base_url: str, headers: dict[str, str], calls: Calls, plan: list[str], rate: float
) -> dict[str, list[tuple[float, bool]]]:
    results: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    limits = httpx2.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx2.AsyncClient(
        base_url=base_url, headers=headers, timeout=30, limits=limits
    ) as http:

        async def one(scenario: str) -> None:
            method, path, body = calls.build(scenario)
            started = time.perf_counter()
            try:
                response = await http.request(method, path, json=body)
                failed = response.status_code >= 500
            except httpx2.HTTPError:
                failed = True
            results[scenario].append((time.perf_counter() - started, failed))

        started = time.perf_counter()
        tasks = []
        for index, scenario in enumerate(plan):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scenario)))
        await asyncio.gather(*tasks)
    return results


def bench(url: str, label: str, args: argparse.Namespace) -> None:
    seed(url, args.models, args.teams)
    seed_governance(url)
    env = {
        "DRIFTGUARD_DATABASE_URL": url, "DRIFTGUARD_JWT_SECRET": SECRET,
        "DRIFTGUARD_RATE_LIMIT_ENABLED": "false", "DRIFTGUARD_SCHEDULER_ENABLED": "false",
    }  # fmt: skip
    if args.redis:
        env["DRIFTGUARD_REDIS_URL"] = args.redis
    rate = PEAK_PER_SECOND * args.multiplier
    total = int(rate * args.seconds)
    with Server(env, workers=args.workers) as server:
        headers = {"Authorization": f"Bearer {token(server.base_url, 'engineer@bench.example')}"}
        models = httpx2.get(
            f"{server.base_url}/api/v1/models?limit=200", headers=headers, timeout=30
        ).json()["items"]
        calls = Calls(models, models[0]["team_id"])
        plan = schedule(total, random.Random(1))
        wall = time.perf_counter()
        results = asyncio.run(run(server.base_url, headers, calls, plan, rate))
        wall = time.perf_counter() - wall
    print(f"\n{label}: {total} requests at {rate:g}/s planned ({args.multiplier:g} x peak), "
          f"{total / wall:.1f}/s achieved over {wall:.1f} s")  # fmt: skip
    print("| endpoint | requests | errors | error rate | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for scenario, _ in MIX:
        rows = results.get(scenario, [])
        if not rows:
            continue
        ms = np.asarray([r[0] for r in rows]) * 1000
        errors = sum(r[1] for r in rows)
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        print(f"| {scenario} | {len(rows)} | {errors} | {errors / len(rows):.1%} | "
              f"{p50:.1f} | {p95:.1f} | {p99:.1f} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to create a DB on")
    parser.add_argument("--sqlite", action="store_true", help="also run on SQLite")
    parser.add_argument("--redis", help="Redis URL for the server (shared limits and cache)")
    parser.add_argument("--models", type=int, default=1_000)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--multiplier", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    for url, label in each_backend(args.postgres, args.sqlite):
        bench(url, label, args)


if __name__ == "__main__":
    main()
