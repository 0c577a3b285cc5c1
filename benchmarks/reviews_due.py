"""The periodic-review lists at 10,000 models: ``GET /api/v1/reviews?status=overdue|due_soon``.

    uv run python benchmarks/reviews_due.py --sqlite --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test

Seeds the API benchmark's portfolio (10,000 models in 10 teams, two versions each), puts every
model's version 2 live in production at a random moment of the last four years, and completes a
review for 40 % of them at a random moment of the last three years. Then times the service call
behind the route (what the request spends in the database and in Python, without HTTP) for a
caller who sees one team (1,000 live versions) and for one who sees every team (10,000), 30 times
each after one warm-up call. Target: p95 <= 50 ms.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, text

from _databases import backend_parser, backends
from api_models import SECRET, seed
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, reading
from driftguard.governance import reviews_due
from driftguard.governance.orm import Deployment
from driftguard.identity.orm import Team
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.lifecycle.orm import ModelReview
from driftguard.registry.orm import ModelVersion, RegisteredModel
from driftguard.settings import load_settings

MODELS = 10_000
RUNS = 30


def seed_reviews(url: str) -> None:
    seed(url, MODELS, 10)
    engine = build_engine(load_settings(database_url=url, jwt_secret=SECRET))
    rng = random.Random(18)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        live = conn.execute(
            select(RegisteredModel.team_id, RegisteredModel.id, ModelVersion.id)
            .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
            .where(ModelVersion.number == 2)
        ).all()
        deployments, reviews = [], []
        for team_id, model_id, version_id in live:
            at = now - timedelta(days=rng.uniform(0, 4 * 365))
            deployments.append({
                "team_id": team_id, "model_id": model_id, "version_id": version_id,
                "environment": "production", "status": "deployed", "revision": 1, "reason": "",
                "policy_name": "driftguard-default", "policy_hash": "0" * 64,
                "facts_hash": "0" * 64, "facts": {}, "decision": {}, "required_approvals": 2,
                "created_at": at, "updated_at": at, "decided_at": at, "deployed_at": at,
            })  # fmt: skip
            if rng.random() < 0.4:
                done = now - timedelta(days=rng.uniform(0, 3 * 365))
                reviews.append({
                    "team_id": team_id, "model_id": model_id, "version_id": version_id,
                    "status": "completed", "revision": 2, "conclusion": "satisfactory",
                    "owner_conclusion": "satisfactory", "owner_attested_at": done,
                    "validator_conclusion": "satisfactory", "validator_attested_at": done,
                    "evidence": {}, "created_at": done, "completed_at": done,
                })  # fmt: skip
        conn.execute(insert(Deployment), deployments)
        conn.execute(insert(ModelReview), reviews)
    if engine.dialect.name == "postgresql":  # what autovacuum does after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def measure(url: str, label: str) -> None:
    engine = build_engine(load_settings(database_url=url, jwt_secret=SECRET))
    factory = build_session_factory(engine)
    with reading(factory) as session:
        team = session.scalar(select(Team.id).order_by(Team.id))
    assert team is not None
    callers = {
        "one team (1,000 live)": Principal(user_id=None, team_roles={team: Role.VIEWER}),
        "every team (10,000 live)": Principal(user_id=None, platform_role=Role.AUDITOR),
    }
    print(f"\n{label}\n\n| caller | status | total | p50 ms | p95 ms |\n|---|---|---:|---:|---:|")
    for name, principal in callers.items():
        for status in ("overdue", "due_soon"):
            times, total = [], 0
            for run in range(RUNS + 1):
                with reading(factory) as session:
                    started = time.perf_counter()
                    page = reviews_due.list_due(
                        session, principal=principal, status=status, limit=50, offset=0
                    )
                    elapsed = (time.perf_counter() - started) * 1000
                total = page.total
                if run:
                    times.append(elapsed)
            p95 = statistics.quantiles(times, n=20)[-1]
            print(f"| {name} | {status} | {total} | {statistics.median(times):.1f} | {p95:.1f} |")
    engine.dispose()


def main() -> None:
    args = backend_parser(__doc__ or "").parse_args()
    for url, label in backends(args):
        seed_reviews(url)
        measure(url, label)


if __name__ == "__main__":
    main()
