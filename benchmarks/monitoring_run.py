"""A monitoring run over a 1,000,000-prediction window, end to end: load the window from
storage, compute drift (PSI, KS, Jensen-Shannon, Wasserstein), data quality and fairness for
20 numeric features, and store the reports.

    uv run python benchmarks/monitoring_run.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    uv run python benchmarks/monitoring_run.py --sqlite

Seeding writes blocks directly (this measures the run, not ingest).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from _databases import backend_parser, backends
from driftguard import stats
from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.identity.orm import Team
from driftguard.ingest import repository
from driftguard.ingest.blocks import encode_block
from driftguard.ingest.frames import ID, LABEL, SCORE, TAGS, TS, FeatureSchema
from driftguard.ingest.orm import ReferenceDataset
from driftguard.monitoring.runs import execute_run
from driftguard.registry.orm import ModelVersion, RegisteredModel, TaskType
from driftguard.settings import load_settings

FEATURES = [f"f{i:02d}" for i in range(20)]
START = datetime(2026, 10, 1, tzinfo=UTC)


def seed(url: str, rows: int, block_rows: int) -> int:
    engine = build_engine(load_settings(database_url=url))
    migrate.upgrade(engine)
    rng = np.random.default_rng(0)
    with unit_of_work(build_session_factory(engine)) as session:
        team = Team(name="bench", description="")
        session.add(team)
        session.flush()
        model = RegisteredModel(team_id=team.id, name="bench", next_version_number=2)
        session.add(model)
        session.flush()
        features = [{"name": f, "type": "numeric", "sensitive": False} for f in FEATURES]
        features.append({"name": "group", "type": "categorical", "sensitive": True})
        version = ModelVersion(
            model_id=model.id, number=1, task_type=TaskType.BINARY_CLASSIFICATION,
            features=features, target="y", training_metrics={},
        )  # fmt: skip
        session.add(version)
        session.flush()
        reference = {f: rng.normal(0, 1, 200_000) for f in FEATURES}
        reference["group"] = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), 200_000)
        profile = stats.fit_profile(reference, categorical=["group"])
        session.add(ReferenceDataset(
            version_id=version.id, is_active=True, row_count=200_000, source_format="bench",
            profile=profile.to_bytes(), profile_id=profile.profile_id,
        ))  # fmt: skip
        version_id = version.id
    schema = FeatureSchema.from_version(features)
    step = timedelta(seconds=1)
    # Blocks are cut at UTC midnight as ingest cuts them (START is a midnight; a row a second).
    cuts = sorted({*range(0, rows, block_rows), *range(0, rows, 86_400), rows})
    for first, stop in itertools.pairwise(cuts):
        n = stop - first
        ts = [START + step * (first + i) for i in range(n)]
        ids = [f"p{first + i}" for i in range(n)]
        columns = {
            ID: pa.array(ids), TS: pa.array(ts, pa.timestamp("us", tz="UTC")),
            LABEL: pa.array(rng.choice(["0", "1"], n)), SCORE: pa.array(rng.random(n)),
            TAGS: pa.nulls(n, pa.string()),
            **{f: pa.array(rng.normal(0.1, 1.1, n)) for f in FEATURES},
            "group": pa.array(rng.choice(["a", "b", "c", "d"], n)),
        }  # fmt: skip
        with unit_of_work(build_session_factory(engine)) as session:
            repository.add_block(
                session, version_id=version_id, first=ts[0], last=ts[-1], rows=n,
                data=encode_block(pa.table(columns), schema),
            )  # fmt: skip
            repository.add_records(session, version_id=version_id, ids=columns[ID], ts=columns[TS])
    engine.dispose()
    return version_id


def bench(url: str, label: str, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    version_id = seed(url, args.rows, args.block_rows)
    print(f"{label}: seeded {args.rows:,} predictions in {time.perf_counter() - started:.1f} s")
    engine = build_engine(load_settings(database_url=url))
    factory = build_session_factory(engine)
    end = START + timedelta(seconds=args.rows)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        with unit_of_work(factory) as session:
            version = session.get(ModelVersion, version_id)
            assert version is not None
            run = execute_run(session, version=version, start=START, end=end, trigger="manual").run
            assert run.status == "completed", run.error
            assert run.n_predictions == args.rows
        times.append(time.perf_counter() - t0)
    engine.dispose()
    print(
        f"| {label} | {args.rows:,} | {statistics.median(times):.2f} | {min(times):.2f} | "
        f"{max(times):.2f} |"
    )


def main() -> None:
    parser = backend_parser(__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--block-rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| storage | window rows | median s | min s | max s |\n|---|---:|---:|---:|---:|")
    for url, label in backends(args):
        bench(url, label, args)


if __name__ == "__main__":
    main()
