"""Model-list latency: 10,000 models on PostgreSQL, a running server, 20 concurrent clients.

    uv run python benchmarks/api_models.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Creates a throwaway database next to the one named, seeds it, starts `driftguard serve`-equivalent
uvicorn on loopback, measures, and drops the database. `--sqlite` runs the same on SQLite.

Each scenario runs twice: 20 users who pause 0.5-1.5 s between requests (people and CI jobs
browsing the registry, about 20 requests per second offered), then 20 clients that never pause
(a saturation test: their latency is 20 / throughput, and requests admission control turns away
with 503 are counted apart, not in the latencies).
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta

import httpx2
from sqlalchemy import insert, text

from _databases import backend_parser, backends
from _loadgen import TABLE_HEADER, Server, users
from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.identity.orm import Membership, Team, User
from driftguard.identity.passwords import build_hasher
from driftguard.identity.permissions import Role
from driftguard.registry.orm import ModelTag, ModelVersion, RegisteredModel
from driftguard.settings import load_settings

SECRET = "benchmark-secret-" + "z" * 48
PASSWORD = "benchmark-otter-lantern-meadow"  # noqa: S105 - a throwaway benchmark user
WORDS = ["credit", "fraud", "churn", "pricing", "aml", "limit", "collections", "uplift", "clv"]
TAGS = ["retail", "sme", "eu", "us", "champion", "challenger", "batch", "realtime"]


def seed(url: str, models: int, teams: int) -> None:
    settings = load_settings(database_url=url, jwt_secret=SECRET)
    engine = build_engine(settings)
    migrate.upgrade(engine)
    rng = random.Random(1)
    now = datetime.now(UTC)
    hasher = build_hasher(settings)
    features = [{"name": f"f{i}", "type": "numeric", "sensitive": False} for i in range(20)]
    with engine.begin() as conn:
        conn.execute(
            insert(Team),
            [{"name": f"team-{t}", "description": "", "created_at": now, "updated_at": now}
             for t in range(teams)],
        )  # fmt: skip
        conn.execute(
            insert(User),
            [{"email": "auditor@bench.example", "display_name": "auditor", "is_active": True,
              "password_hash": hasher.hash(PASSWORD), "platform_role": Role.AUDITOR,
              "created_at": now, "updated_at": now},
             {"email": "engineer@bench.example", "display_name": "engineer", "is_active": True,
              "password_hash": hasher.hash(PASSWORD), "platform_role": None,
              "created_at": now, "updated_at": now}],
        )  # fmt: skip
        team_ids = [r[0] for r in conn.execute(text("SELECT id FROM teams ORDER BY id"))]
        engineer = conn.execute(text("SELECT id FROM users WHERE email LIKE 'engineer%'")).scalar()
        conn.execute(
            insert(Membership),
            [{"team_id": t, "user_id": engineer, "role": Role.ML_ENGINEER, "created_at": now}
             for t in team_ids[: max(1, teams // 3)]],
        )  # fmt: skip
        rows = []
        for i in range(models):
            word = WORDS[i % len(WORDS)]
            rows.append({
                "team_id": team_ids[i % teams], "name": f"{word}-{i:05d}",
                "description": f"{word} model number {i}", "owner_id": engineer, "use_case": word,
                "materiality": rng.choice(["low", "medium", "high"]),
                "criticality": rng.choice(["low", "medium", "high"]),
                "next_version_number": 3,
                "created_at": now - timedelta(minutes=i), "updated_at": now,
            })  # fmt: skip
        conn.execute(insert(RegisteredModel), rows)
        ids = [r[0] for r in conn.execute(text("SELECT id FROM registered_models"))]
        conn.execute(
            insert(ModelTag),
            [{"model_id": m, "tag": t} for m in ids for t in rng.sample(TAGS, 2)],
        )
        conn.execute(
            insert(ModelVersion),
            [{"model_id": m, "number": n, "description": "", "artifact_uri": "", "framework": "",
              "task_type": "binary_classification", "features": features, "target": "y",
              "training_metrics": {"auc": 0.8}, "stage": "staging" if n == 2 else "none",
              "created_at": now, "updated_at": now}
             for m in ids for n in (1, 2)],
        )  # fmt: skip
    if engine.dialect.name == "postgresql":  # what autovacuum would have done by now
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def token(base_url: str, email: str) -> str:
    response = httpx2.post(
        f"{base_url}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def bench(url: str, label: str, args: argparse.Namespace) -> list[str]:
    seed(url, args.models, args.teams)
    # Rate limits off: this measures latency under load, not the limiter's refusals.
    env = {
        "DRIFTGUARD_DATABASE_URL": url,
        "DRIFTGUARD_JWT_SECRET": SECRET,
        "DRIFTGUARD_RATE_LIMIT_ENABLED": "false",
        "DRIFTGUARD_SCHEDULER_ENABLED": "false",
    }
    rows = []
    with Server(env, workers=args.workers) as server:
        for who in ("auditor", "engineer"):
            headers = {"Authorization": f"Bearer {token(server.base_url, f'{who}@bench.example')}"}
            scenarios = {
                "list, first page": ["/api/v1/models?limit=50"],
                "list, deep pages": [
                    f"/api/v1/models?limit=50&offset={o}" for o in (500, 2000, 3000)
                ],
                "search + filter": [
                    f"/api/v1/models?q={w}&materiality=high&sort=-created_at&limit=50"
                    for w in WORDS
                ],
                "tag + stage filter": [
                    f"/api/v1/models?tag={t}&stage=staging&limit=50" for t in TAGS
                ],
            }  # fmt: skip
            for think in (True, False):
                how = f"{args.clients} users" if think else f"{args.clients} clients, no pause"
                for name, paths in scenarios.items():
                    result = users(
                        f"{label}, {who}: {name}, {how}", server.base_url, paths,
                        [headers] * args.clients, think=think, seconds=args.seconds,
                    )  # fmt: skip
                    print(result.row(), flush=True)
                    rows.append(result.row())
    return rows


def main() -> None:
    parser = backend_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20, help="per scenario and mode")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    print(TABLE_HEADER)
    for url, label in backends(args):
        bench(url, label, args)


if __name__ == "__main__":
    main()
