"""Load test: a scenario mix at three times the documented peak, against a local server.

    uv run python benchmarks/load_mix.py \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test --redis redis://127.0.0.1:6379/14

The documented peak (docs/deployment.md, "Sizing") is 20 requests per second for one server
process: 40 % model list and search, 20 % executive dashboard, 20 % prediction batches of 100
rows, 10 % deployment requests, 5 % CI gate, 5 % team-scoped simulations. This sends that mix
open-loop (requests leave on schedule whether or not earlier ones have answered) at
each ``--multiplier`` times the peak for ``--seconds`` seconds, each followed by the peak alone
for ``--recovery-seconds``, and reports per endpoint and phase the requests answered, shed by
admission control (503) and failed (other 5xx, timeouts, refused connections), the answered
requests' p50/p95/p99 latency and every status seen. Bounded: a fixed number of requests,
loopback only, the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import numpy as np

from _databases import backend_parser, backends
from _loadgen import Server
from api_models import SECRET, seed, token
from governance import seed_governance

PEAK_PER_SECOND = 20
SHED_STATUS = 503
KEEPALIVE_SECONDS = 2.0
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


@dataclass(frozen=True)
class Outcome:
    seconds: float
    status: int | None  # None: no response (timeout, refused or dropped connection)
    failure: str = ""  # the client's exception when there was no response

    @property
    def kind(self) -> str:
        if self.status == SHED_STATUS:
            return "shed"
        if self.status is None or self.status >= 500:
            return "error"
        return "answered"


async def run(
    http: httpx2.AsyncClient, calls: Calls, plan: list[str], rate: float
) -> dict[str, list[Outcome]]:
    results: dict[str, list[Outcome]] = defaultdict(list)

    async def one(scenario: str) -> None:
        method, path, body = calls.build(scenario)
        started = time.perf_counter()
        try:
            response = await http.request(method, path, json=body)
        except httpx2.HTTPError as exc:
            outcome = Outcome(time.perf_counter() - started, None, type(exc).__name__)
        else:
            outcome = Outcome(time.perf_counter() - started, response.status_code)
        results[scenario].append(outcome)

    started = time.perf_counter()
    tasks = []
    for index, scenario in enumerate(plan):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scenario)))
    await asyncio.gather(*tasks)
    return results


def _percentiles(outcomes: list[Outcome]) -> str:
    if not outcomes:
        return "- | - | -"
    ms = np.asarray([o.seconds for o in outcomes]) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return f"{p50:.1f} | {p95:.1f} | {p99:.1f}"


def report(title: str, results: dict[str, list[Outcome]], wall: float) -> None:
    """Per endpoint: answered (any status but 503 and other 5xx), shed (503), errors (other 5xx,
    timeouts, refused connections), latency of the answered requests, and the shed ones' p95."""
    total = sum(len(rows) for rows in results.values())
    print(f"\n{title}: {total} requests, {total / wall:.1f}/s achieved over {wall:.1f} s, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    print("| endpoint | requests | answered | shed (503) | errors | p50 ms | p95 ms | p99 ms "
          "| shed p95 ms | statuses |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for scenario, _ in MIX:
        rows = results.get(scenario, [])
        if not rows:
            continue
        by_kind: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in rows:
            by_kind[outcome.kind].append(outcome)
        shed = by_kind["shed"]
        shed_p95 = f"{np.percentile([o.seconds for o in shed], 95) * 1000:.1f}" if shed else "-"
        statuses = Counter(o.failure or str(o.status) for o in rows)
        print(f"| {scenario} | {len(rows)} | {len(by_kind['answered'])} | {len(shed)} | "
              f"{len(by_kind['error'])} | {_percentiles(by_kind['answered'])} | {shed_p95} | "
              f"{', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))} |",
              flush=True)  # fmt: skip


async def phases(
    base_url: str, headers: dict[str, str], calls: Calls, args: argparse.Namespace
) -> None:
    """Each multiplier for ``--seconds``, each followed by the peak for ``--recovery-seconds``:
    the recovery phase shows whether service is back as soon as the load drops."""
    # Idle connections are dropped by the client well before the server's 5 s keep-alive ends:
    # with equal timeouts, a request sent on a connection the server is closing fails with a
    # ReadError that no server ever saw (seen at 2 x before this was set).
    limits = httpx2.Limits(
        max_connections=400, max_keepalive_connections=50, keepalive_expiry=KEEPALIVE_SECONDS
    )
    rng = random.Random(1)
    async with httpx2.AsyncClient(
        base_url=base_url, headers=headers, timeout=args.timeout, limits=limits
    ) as http:
        for multiplier in args.multiplier:
            steps = [(multiplier, args.seconds, f"{multiplier:g} x peak")]
            if args.recovery_seconds > 0:
                steps.append(
                    (1.0, args.recovery_seconds, f"back to 1 x peak after {multiplier:g} x")
                )
            for factor, seconds, title in steps:
                rate = PEAK_PER_SECOND * factor
                plan = schedule(int(rate * seconds), rng)
                wall = time.perf_counter()
                results = await run(http, calls, plan, rate)
                report(f"{title} ({rate:g}/s planned)", results, time.perf_counter() - wall)


def bench(url: str, label: str, args: argparse.Namespace) -> None:
    seed(url, args.models, args.teams)
    seed_governance(url)
    env = {
        "DRIFTGUARD_DATABASE_URL": url, "DRIFTGUARD_JWT_SECRET": SECRET,
        "DRIFTGUARD_RATE_LIMIT_ENABLED": "false", "DRIFTGUARD_SCHEDULER_ENABLED": "false",
        # Warnings and errors only (shed requests, failures), to the file given by --server-log.
        "DRIFTGUARD_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    if args.redis:
        env["DRIFTGUARD_REDIS_URL"] = args.redis
    env.update(dict(item.split("=", 1) for item in args.env))
    log_path = None if args.server_log is None else Path(f"{args.server_log}.{label.lower()}.log")
    with Server(env, workers=args.workers, log_path=log_path) as server:
        headers = {"Authorization": f"Bearer {token(server.base_url, 'engineer@bench.example')}"}
        models = httpx2.get(
            f"{server.base_url}/api/v1/models?limit=200", headers=headers, timeout=30
        ).json()["items"]
        calls = Calls(models, models[0]["team_id"])
        print(f"\n## {label}")
        asyncio.run(phases(server.base_url, headers, calls, args))


def main() -> None:
    parser = backend_parser(__doc__.splitlines()[0])
    parser.add_argument("--redis", help="Redis URL for the server (shared limits and cache)")
    parser.add_argument("--models", type=int, default=1_000)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--multiplier", type=float, nargs="+", default=[3.0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--recovery-seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=30.0, help="client timeout, seconds")
    parser.add_argument("--server-log", help="write the server's log to PREFIX.<backend>.log")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="server setting"
    )
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    for url, label in backends(args):
        bench(url, label, args)


if __name__ == "__main__":
    main()
