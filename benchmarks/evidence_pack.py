"""The evidence pack of a long-lived version: 365 daily monitoring runs (drift over 12 features,
fairness over 2 sensitive attributes, performance), 365 MRI scores, 50 deployment requests with
decisions, approvals and history, and 5,000 audit records.

    uv run python benchmarks/evidence_pack.py --sqlite \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test --repeats 5

Times building the pack from the database and rendering it, in process, for each format (the
median of ``--repeats`` runs after one warm-up); goals: HTML <= 2 s, PDF <= 5 s. Prints Markdown.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from _databases import backend_parser, backends
from driftguard.audit import service as audit
from driftguard.audit.schemas import SYSTEM
from driftguard.db import migrate
from driftguard.db.engine import build_engine
from driftguard.db.session import build_session_factory, unit_of_work
from driftguard.evidence import render
from driftguard.evidence.sections import Limits
from driftguard.evidence.service import build_pack
from driftguard.governance.orm import Deployment, DeploymentApproval, DeploymentEvent, RiskScore
from driftguard.identity import service as identity
from driftguard.identity.orm import User
from driftguard.identity.permissions import Role
from driftguard.identity.principal import Principal
from driftguard.identity.schemas import TeamCreate
from driftguard.monitoring.orm import MonitoringReport, MonitoringRun
from driftguard.registry import service as registry
from driftguard.registry.schemas import ModelVersionCreate, RegisteredModelCreate
from driftguard.settings import load_settings

DAYS = 365
DEPLOYMENTS = 50
AUDIT_RECORDS = 5_000
FEATURES = [f"f{i}" for i in range(12)]
ATTRIBUTES = ("gender", "age_band")
ADMIN = Principal(user_id=None, platform_role=Role.ADMIN)
START = datetime(2025, 12, 1, tzinfo=UTC)


def _drift(rng: random.Random, day: int) -> dict[str, Any]:
    def row(feature: str) -> dict[str, Any]:
        psi = round(rng.expovariate(20) + day / 4000, 4)
        return {
            "feature": feature,
            "kind": "numeric",
            "method": "exact",
            "psi": psi,
            "jensen_shannon": psi / 3,
            "ks_statistic": psi / 2,
            "ks_statistic_upper_bound": None,
            "ks_error_bound": None,
            "wasserstein": psi * 10,
            "chi_square": None,
            "p_value": rng.random(),
            "p_value_adjusted": rng.random(),
            "n_reference": 50_000,
            "n_current": 10_000,
            "n_missing": 0,
        }

    return {
        "method": "exact",
        "correction": "holm",
        "features": [row(f) for f in FEATURES],
        "skipped": [],
        "source": "raw",
    }


def _fairness(rng: random.Random) -> dict[str, Any]:
    def group(name: str) -> dict[str, Any]:
        return {
            "group": name,
            "size": 5_000,
            "n_selected": 2_000,
            "selection_rate": 0.4 + rng.random() / 10,
            "impact_ratio": 0.9,
            "below_min_group_size": False,
            "n_positive": 2_500,
            "n_negative": 2_500,
            "true_positives": 1_500,
            "false_positives": 500,
            "tpr": 0.6,
            "fpr": 0.2,
            "ppv": 0.75,
        }

    def attribute() -> dict[str, Any]:
        return {
            "demographic_parity_difference": rng.random() / 10,
            "demographic_parity_ratio": 0.9,
            "disparate_impact_ratio": 0.8 + rng.random() / 5,
            "equal_opportunity_difference": rng.random() / 10,
            "equalized_odds_difference": rng.random() / 10,
            "groups": [group("a"), group("b")],
            "n": 10_000,
            "min_group_size": 30,
            "undefined_rates": "nan",
        }

    return {"attributes": {name: attribute() for name in ATTRIBUTES}, "source": "raw"}


def _decision(rng: random.Random) -> dict[str, Any]:
    rules = [
        {
            "rule": f"rule-{i}",
            "fact": "drift.psi",
            "subject": f"f{i}",
            "observed": rng.random() / 5,
            "operator": "<",
            "threshold": 0.25,
            "severity": "block",
            "passed": True,
            "missing": False,
            "message": "within the limit",
        }
        for i in range(8)
    ]
    return {
        "outcome": "approved",
        "rules": rules,
        "required_approvals": 2,
        "approver_roles": ["approver"],
        "separation_of_duties": True,
        "mri": 31.5,
        "mri_band": "medium",
        "policy": {
            "name": "default",
            "version": None,
            "version_id": None,
            "content_hash": "0" * 64,
        },
    }


def seed(factory: sessionmaker[Session]) -> tuple[int, int]:
    rng = random.Random(7)
    with unit_of_work(factory) as session:
        team = identity.create_team(session, actor=SYSTEM, data=TeamCreate(name="risk"))
        model = registry.create_model(
            session,
            principal=ADMIN,
            data=RegisteredModelCreate(team_id=team.id, name="retail-pd", use_case="credit"),
        )
        version = registry.create_version(
            session,
            principal=ADMIN,
            model_id=model.id,
            data=ModelVersionCreate(
                task_type="binary_classification",
                features=[{"name": f, "type": "numeric"} for f in FEATURES]
                + [{"name": a, "type": "categorical", "sensitive": True} for a in ATTRIBUTES],
                target="default",
            ),
        )
    with unit_of_work(factory) as session:
        for day in range(DAYS):
            start = START + timedelta(days=day)
            run = MonitoringRun(
                version_id=version.id,
                window_start=start,
                window_end=start + timedelta(days=1),
                trigger="scheduled",
                status="completed",
                n_predictions=10_000,
                n_labelled=8_000,
            )
            session.add(run)
            session.flush()
            payloads = {
                "drift": _drift(rng, day),
                "fairness": _fairness(rng),
                "performance": {
                    "n_labelled": 8_000,
                    "n": 8_000,
                    "accuracy": 0.8 + rng.random() / 20,
                    "roc_auc": 0.85 + rng.random() / 20,
                    "source": "raw",
                },
            }
            for kind, payload in payloads.items():
                session.add(
                    MonitoringReport(
                        run_id=run.id,
                        version_id=version.id,
                        kind=kind,
                        window_start=run.window_start,
                        window_end=run.window_end,
                        payload=payload,
                    )
                )
            components = [
                {
                    "name": n,
                    "measurement": 0.1,
                    "value": 0.2,
                    "weight": 0.2,
                    "contribution": 4.0 + rng.random(),
                    "evidence": "measured",
                }
                for n in ("drift", "fairness", "performance", "data_quality", "staleness")
            ]
            session.add(
                RiskScore(
                    version_id=version.id,
                    model_id=model.id,
                    team_id=team.id,
                    score=sum(c["contribution"] for c in components),
                    band="medium",
                    tier=2,
                    policy_hash="0" * 64,
                    components=components,
                    trigger="monitoring_run",
                    computed_at=run.window_end + timedelta(minutes=5),
                )
            )
        for index in range(DEPLOYMENTS):
            at = START + timedelta(days=7 * index)
            last = index == DEPLOYMENTS - 1
            deployment = Deployment(
                team_id=team.id,
                model_id=model.id,
                version_id=version.id,
                environment="production" if last else "staging",
                status="deployed" if last else "superseded",
                revision=4,
                reason=f"release {index}",
                policy_name="default",
                policy_hash="0" * 64,
                facts_hash="1" * 64,
                facts={"drift.psi": dict.fromkeys(FEATURES, 0.05)},
                decision=_decision(rng),
                required_approvals=2,
                created_at=at,
                updated_at=at,
                decided_at=at,
                deployed_at=at,
            )
            session.add(deployment)
            session.flush()
            for step, (action, before, after) in enumerate(
                [
                    ("request", None, "pending_approval"),
                    ("approve", "pending_approval", "approved"),
                    ("deploy", "approved", "deployed"),
                ]
            ):
                session.add(
                    DeploymentEvent(
                        deployment_id=deployment.id,
                        action=action,
                        from_status=before,
                        to_status=after,
                        reason="",
                        at=at + timedelta(hours=step),
                    )
                )
    with unit_of_work(factory) as session:
        approvers = [
            User(
                email=f"approver{i}@example.com",
                display_name=f"Approver {i}",
                password_hash="!",  # noqa: S106 - no password: never signs in
            )
            for i in range(2)
        ]
        session.add_all(approvers)
        session.flush()
        ids = session.scalars(select(Deployment.id).where(Deployment.version_id == version.id))
        session.add_all(
            DeploymentApproval(
                deployment_id=deployment_id, user_id=user.id, verdict="approve", comment="fine"
            )
            for deployment_id in ids.all()
            for user in approvers
        )
    with unit_of_work(factory) as session:
        for index in range(AUDIT_RECORDS):
            audit.record(
                session,
                actor=SYSTEM,
                action="predictions.log",
                object_type="model_version",
                object_id=version.id,
                after={"accepted": 1_000, "batch": index},
            )
    return model.id, version.number


def timed(repeats: int, action: Any) -> tuple[float, float, int]:
    """Median wall and CPU seconds of this process (the database server's work is wall time
    only), and the size of the output."""
    action()  # warm-up: templates compiled, fonts loaded
    wall, cpu, size = [], [], 0
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        size = len(action())
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return statistics.median(wall), statistics.median(cpu), size


def main() -> None:
    parser = backend_parser(__doc__ or "")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    auditor = Principal(user_id=None, platform_role=Role.AUDITOR)
    limits = Limits()
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| backend | format | median wall s | median CPU s | size | goal |")
    print("|---|---|---:|---:|---:|---|")
    for url, label in backends(args):
        engine = build_engine(load_settings(database_url=url, jwt_secret="x" * 40))
        migrate.upgrade(engine)
        factory = build_session_factory(engine)
        model_id, number = seed(factory)

        def pack(
            factory: sessionmaker[Session] = factory, model_id: int = model_id, number: int = number
        ) -> Any:
            with unit_of_work(factory) as session:
                return build_pack(
                    session,
                    principal=auditor,
                    model_id=model_id,
                    number=number,
                    limits=limits,
                    environments=("staging", "production"),
                )

        formats = {
            "JSON": (lambda: render.to_json(pack()), "—"),
            "HTML": (lambda: render.to_html(pack()).encode(), "≤ 2 s"),
            "PDF": (lambda: render.to_pdf(render.to_html(pack())), "≤ 5 s"),
        }
        for name, (action, goal) in formats.items():
            wall, cpu, size = timed(args.repeats, action)
            print(
                f"| {label} | {name} | {wall:.2f} | {cpu:.2f} | {size / 1024:,.0f} KiB | {goal} |"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
