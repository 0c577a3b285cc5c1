"""The executive dashboard at scale: 10,000 models, 1,000,000 predictions, 20 concurrent users.

    uv run python benchmarks/dashboard_scale.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Seeds the governance benchmark's portfolio (10,000 models in 10 teams, facts snapshots, references,
alerts), a Model Risk Index for every newest version with four older points over 90 days, 1,000
deployment requests (staging approved and deployed, production pending or blocked), 20 viewers
(two per team) and, through the running server's bulk upload, 1,000,000 predictions spread over
the first versions of 100 models. Then 20 users, each starting at a random moment of the first
1.5 s and pausing 0.5 to 1.5 s between requests (about 20 requests per second offered), fetch

* the executive API warm (the 60 s cache) — target p95 <= 50 ms;
* the executive API cold (a server started with the cache off, so every request computes) —
  target p95 <= 300 ms;
* the overview page (HTML) warm — target p95 <= 100 ms;

and, for the record, the same with 20 clients that never pause. Bounded: a fixed duration per
scenario, loopback only.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx2
import pyarrow.parquet as pq
from sqlalchemy import insert, select, text

from _databases import backend_parser, backends
from _loadgen import TABLE_HEADER, Server, users
from api_models import PASSWORD, SECRET, seed
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.governance import deployments, risk
from driftguard.governance.orm import RiskScore
from driftguard.governance.schemas import DeploymentCreate
from driftguard.identity.orm import ApiKey, Membership, User
from driftguard.identity.passwords import build_hasher
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.identity.tokens import API_KEY_PREFIX, hash_secret, new_secret
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.rules import band_of
from driftguard.rules.document import Mri
from driftguard.settings import load_settings
from governance import seed_governance
from ingest import PARQUET, predictions
from web_dashboard import session_cookie
from web_dashboard import token as login

FEATURES = [f"f{i}" for i in range(20)]  # the portfolio's schema (api_models.seed)
ENVIRONMENTS = ["staging", "production"]


def seed_scale(url: str, *, models: int, requests: int) -> tuple[list[str], dict[int, str]]:
    """The portfolio, risk history and deployments; returns the viewers' e-mails and an API key
    per team (for the prediction uploads)."""
    seed(url, models, 10)
    seed_governance(url)
    settings = load_settings(database_url=url, jwt_secret=SECRET)
    engine = build_engine(settings)
    factory = build_session_factory(engine)
    rng = random.Random(3)
    now = datetime.now(UTC)
    with unit_of_work(factory) as session:
        newest = session.execute(
            select(RegisteredModel, ModelVersion)
            .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
            .where(ModelVersion.number == 2)
            .order_by(RegisteredModel.id)
        ).all()
        for model, version in newest:
            risk.refresh(session, model=model, version=version, trigger="benchmark")
    with engine.begin() as conn:
        current = conn.execute(select(RiskScore)).mappings().all()
        history = []
        for row in current:
            for k in range(1, 5):  # four older points, 20 days apart
                score = min(100.0, row["score"] * rng.uniform(0.7, 1.2))
                history.append({
                    **{c: row[c] for c in ("version_id", "model_id", "team_id", "tier",
                                           "policy_hash", "components")},
                    "score": score, "band": band_of(score, Mri()), "trigger": "benchmark",
                    "computed_at": row["computed_at"] - timedelta(days=20 * k),
                })  # fmt: skip
        conn.execute(insert(RiskScore), history)
        hasher = build_hasher(settings)
        password_hash = hasher.hash(PASSWORD)
        teams = [r[0] for r in conn.execute(text("SELECT id FROM teams ORDER BY id"))]
        viewers = [f"viewer-{t}-{i}@bench.example" for t in teams for i in range(2)]
        conn.execute(
            insert(User),
            [{"email": email, "display_name": email.split("@")[0], "is_active": True,
              "password_hash": password_hash, "platform_role": None,
              "created_at": now, "updated_at": now} for email in viewers],
        )  # fmt: skip
        ids = dict(
            conn.execute(text("SELECT email, id FROM users WHERE email LIKE 'viewer-%'")).all()
        )
        conn.execute(
            insert(Membership),
            [{"team_id": teams[i // 2], "user_id": ids[email], "role": Role.VIEWER,
              "created_at": now} for i, email in enumerate(viewers)],
        )  # fmt: skip
        keys = {}
        for team in teams:
            keys[team] = key = API_KEY_PREFIX + new_secret()
            conn.execute(
                insert(ApiKey),
                [{"team_id": team, "name": "bench", "prefix": key[:12],
                  "key_hash": hash_secret(key), "role": Role.ML_ENGINEER, "created_at": now}],
            )  # fmt: skip
    engineer = Principal(user_id=None, platform_role=Role.ADMIN)
    with unit_of_work(factory) as session:
        for i, (model, _) in enumerate(newest[:requests]):
            environment = ENVIRONMENTS[i % 2]
            request = deployments.request(
                session, principal=engineer, environments=ENVIRONMENTS,
                data=DeploymentCreate(model_id=model.id, version=2, environment=environment),
            )  # fmt: skip
            if request.status == "approved":
                deployments.deploy(session, principal=engineer, deployment_id=request.id)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return viewers, keys


def upload_predictions(base_url: str, url: str, keys: dict[int, str], total: int) -> float:
    """``total`` predictions over 100 models, as Parquet files through the bulk endpoint."""
    engine = build_engine(load_settings(database_url=url, jwt_secret=SECRET))
    with engine.connect() as conn:
        targets = conn.execute(
            text("SELECT id, team_id FROM registered_models ORDER BY id LIMIT 100")
        ).all()
    engine.dispose()
    per_model = total // len(targets)
    started = time.perf_counter()
    with TemporaryDirectory() as tmp:
        for n, (model_id, team_id) in enumerate(targets):
            table = predictions(f"m{model_id}", per_model, n * per_model, n)
            table = table.rename_columns(
                [f"f{int(c[1:])}" if c.startswith("f") else c for c in table.column_names]
            )
            file = Path(tmp) / "batch.parquet"
            pq.write_table(table, file)
            with file.open("rb") as body:
                response = httpx2.post(
                    # Version 1: the newest versions carry the governance seed's stand-in
                    # references, whose profiles are empty.
                    f"{base_url}/api/v1/models/{model_id}/versions/1/predictions/upload",
                    content=body, timeout=600,
                    headers={"X-API-Key": keys[team_id], "Content-Type": PARQUET},
                )  # fmt: skip
            assert response.status_code == 200, response.text[:500]
    return time.perf_counter() - started


def bench(url: str, label: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    viewers, keys = seed_scale(url, models=args.models, requests=args.deployment_requests)
    print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
    env = {
        "DRIFTGUARD_DATABASE_URL": url, "DRIFTGUARD_JWT_SECRET": SECRET,
        "DRIFTGUARD_RATE_LIMIT_ENABLED": "false", "DRIFTGUARD_SCHEDULER_ENABLED": "false",
    }  # fmt: skip
    with Server(env) as server:
        elapsed = upload_predictions(server.base_url, url, keys, args.predictions)
        print(f"  {args.predictions:,} predictions uploaded in {elapsed:.0f} s", flush=True)
        api = [{"Authorization": f"Bearer {login(server.base_url, v, PASSWORD)}"} for v in viewers]
        browser = [{"Cookie": session_cookie(server.base_url, v, PASSWORD)} for v in viewers]
        for think in (True, False):
            how = "20 users" if think else "20 clients, no pause"
            for name, path, headers in (
                ("executive API, warm", "/api/v1/dashboard/executive", api),
                ("overview page, warm", "/", browser),
            ):
                result = users(f"{label}: {name}, {how}", server.base_url, [path], headers,
                               think=think, seconds=args.seconds)  # fmt: skip
                print(result.row(), flush=True)
    with Server({**env, "DRIFTGUARD_DASHBOARD_CACHE_SECONDS": "0"}) as server:
        api = [{"Authorization": f"Bearer {login(server.base_url, v, PASSWORD)}"} for v in viewers]
        for think in (True, False):
            how = "20 users" if think else "20 clients, no pause"
            result = users(
                f"{label}: executive API, cold (no cache), {how}", server.base_url,
                ["/api/v1/dashboard/executive"], api, think=think, seconds=args.seconds,
            )  # fmt: skip
            print(result.row(), flush=True)


def main() -> None:
    parser = backend_parser(__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--deployment-requests", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=30, help="per scenario")
    args = parser.parse_args()
    print(TABLE_HEADER)
    for url, label in backends(args):
        bench(url, label, args)


if __name__ == "__main__":
    main()
