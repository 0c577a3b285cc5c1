"""Demo monitoring data: reference sets, two weeks of predictions with drift creeping into one
feature, a model that treats one group worse, late labels, and a daily run for each day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy.orm import Session

from driftguard.governance import after_run
from driftguard.identity.principal import Principal
from driftguard.ingest import service
from driftguard.ingest.schemas import LabelBatch, PredictionBatch
from driftguard.monitoring.schemas import RunRequest

CATEGORIES = {
    "employment_type": ["salaried", "self-employed", "unemployed"],
    "gender": ["f", "m"],
    "merchant_category": ["grocery", "travel", "electronics", "gaming"],
    "country": ["de", "fr", "us", "br"],
    "region": ["north", "south", "east", "west"],
    "age_band": ["18-30", "31-50", "51+"],
}
NUMERIC = {  # mean, standard deviation
    "income": (4_200.0, 1_300.0),
    "debt_to_income": (0.32, 0.11),
    "age": (41.0, 12.0),
    "amount": (85.0, 40.0),
    "hour_of_day": (14.0, 5.0),
    "tenure_months": (30.0, 14.0),
    "monthly_spend": (62.0, 20.0),
}
DAYS = 14
PER_DAY = 400
LABELLED_DAYS = 10


def _column(name: str, kind: str, n: int, rng: np.random.Generator, drift: float) -> list[Any]:
    if kind == "numeric":
        mean, sd = NUMERIC[name]
        return [round(float(v), 3) for v in rng.normal(mean * (1 + drift), sd, n)]
    if kind == "boolean":
        return [bool(v) for v in rng.random(n) < 0.6 + 0.2 * drift]
    categories = CATEGORIES[name]
    weights = np.linspace(1.0, 1.0 + 3 * drift, len(categories))
    return [str(v) for v in rng.choice(categories, n, p=weights / weights.sum())]


def _rows(
    features: Sequence[dict[str, Any]], n: int, rng: np.random.Generator, drift: float
) -> dict[str, list[Any]]:
    drifting = next(f["name"] for f in features if f["type"] == "numeric")
    return {
        f["name"]: _column(f["name"], f["type"], n, rng, drift if f["name"] == drifting else 0.0)
        for f in features
    }


def seed_monitoring(
    session: Session,
    *,
    engineer: Principal,
    model_id: int,
    number: int,
    features: Sequence[dict[str, Any]],
    seed: int,
    drifting: bool = True,
    biased: bool = True,
    now: datetime | None = None,
) -> None:
    """Two weeks of predictions; a ``drifting`` model's first numeric feature shifts further
    each day of the second week; a ``biased`` one favours one group of its sensitive attribute."""
    rng = np.random.default_rng(seed)
    end = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=DAYS)
    reference = pa.table(_rows(features, 2_000, rng, 0.0))
    service.set_reference(
        session,
        principal=engineer,
        model_id=model_id,
        number=number,
        table=reference,
        source_format="demo",
    )
    sensitive = next((f["name"] for f in features if f.get("sensitive")), None)
    for day in range(DAYS):
        drift = max(0.0, (day - 6) / 7) * 0.5 if drifting else 0.0
        columns = _rows(features, PER_DAY, rng, drift)
        risk = rng.normal(0, 1, PER_DAY)
        # The model's scores favour the first group of the sensitive attribute.
        unfair = np.asarray(
            [
                0.9
                if biased and sensitive and columns[sensitive][i] == CATEGORIES[sensitive][0]
                else 0.0
                for i in range(PER_DAY)
            ]
        )
        score = 1 / (1 + np.exp(-(risk - unfair)))
        truth = rng.random(PER_DAY) < 1 / (1 + np.exp(-risk))
        day_start = start + timedelta(days=day)
        rows = [
            {
                "prediction_id": f"d{day:02d}-{i:04d}",
                "timestamp": day_start + timedelta(seconds=int(i * 86_400 / PER_DAY)),
                "features": {name: values[i] for name, values in columns.items()},
                "prediction": {"label": int(score[i] >= 0.5), "score": round(float(score[i]), 4)},
            }
            for i in range(PER_DAY)
        ]
        service.log_predictions(
            session,
            principal=engineer,
            model_id=model_id,
            number=number,
            batch=PredictionBatch.model_validate({"rows": rows}),
        )
        if day < LABELLED_DAYS:
            labels = [
                {"prediction_id": r["prediction_id"], "label": int(truth[i])}
                for i, r in enumerate(rows)
            ]
            service.log_labels(
                session,
                principal=engineer,
                model_id=model_id,
                number=number,
                batch=LabelBatch.model_validate({"labels": labels}),
            )
    for day in range(DAYS):
        window = RunRequest(start=start + timedelta(days=day), end=start + timedelta(days=day + 1))
        # Not re-scored per window: the fortnight is replayed in one instant, so each score
        # would be stamped now and count in today's team trend; seed_governance scores once.
        after_run.request_run(
            session,
            principal=engineer,
            model_id=model_id,
            number=number,
            window=window,
            rescore=False,
        )


def seed_governance(
    session: Session,
    *,
    engineer: Principal,
    approvers: Sequence[Principal],
    model_id: int,
    number: int,
    go_live: bool,
) -> None:
    """Deploy to staging, ask for production; some requests are approved and go live, drifted
    or biased models are blocked with their reasons, the rest wait in the approval queue."""
    from driftguard.governance import deployments, risk
    from driftguard.governance.schemas import DeploymentCreate, DeploymentRead
    from driftguard.registry.orm import ModelVersion, RegisteredModel

    def ask(environment: str, reason: str) -> DeploymentRead:
        data = DeploymentCreate(
            model_id=model_id, version=number, environment=environment, reason=reason
        )
        return deployments.request(
            session, principal=engineer, environments=("staging", "production"), data=data
        )

    staged = ask("staging", "shadow traffic before production")
    if staged.status == "approved":
        deployments.deploy(session, principal=engineer, deployment_id=staged.id)
    production = ask("production", "quarterly model refresh")
    if production.status == "pending_approval" and go_live:
        for approver in approvers[: production.decision.required_approvals]:
            deployments.approve(
                session,
                principal=approver,
                deployment_id=production.id,
                comment="validation report reviewed",
            )
        deployments.deploy(session, principal=engineer, deployment_id=production.id)
    model = session.get(RegisteredModel, model_id)
    version = session.get(ModelVersion, production.version_id)
    assert model is not None
    assert version is not None
    risk.refresh(session, model=model, version=version, trigger="demo")


def score_versions(session: Session, *, model_id: int) -> None:
    """A first risk score for every version of an unmonitored model (mostly missing evidence)."""
    from sqlalchemy import select

    from driftguard.governance import risk
    from driftguard.registry.orm import ModelVersion, RegisteredModel

    model = session.get(RegisteredModel, model_id)
    assert model is not None
    for version in session.scalars(select(ModelVersion).where(ModelVersion.model_id == model_id)):
        risk.refresh(session, model=model, version=version, trigger="demo")


# --- lifecycle: cards and independent validation ---------------------------


def seed_lifecycle(
    session: Session,
    *,
    engineer: Principal,
    validator: Principal | None,
    model_id: int,
    number: int,
    eu_high_risk: bool,
    prediction_retention_days: int,
) -> None:
    """Complete cards for the model and the version (owned by the engineer) and, when a
    ``validator`` is given, an independent validation of the version it approves: what the
    default policy asks of tier-1 and EU high-risk versions before production."""
    from driftguard.lifecycle import cards, validations
    from driftguard.lifecycle.schemas import (
        AiActClass,
        AnnexIIIArea,
        ModelCardContent,
        VersionCardContent,
    )
    from driftguard.lifecycle.schemas_validation import ValidationCreate, ValidationOutcome

    cards.put_model_card(
        session,
        principal=engineer,
        model_id=model_id,
        prediction_retention_days=prediction_retention_days,
        data=ModelCardContent(
            owner_id=engineer.user_id,
            business_use="Decisions of the team's retail portfolio.",
            intended_use="Scoring of complete applications and transactions, reviewed by staff.",
            out_of_scope_uses="Business customers; decisions without human review.",
            known_limitations="Thin-file customers are scored conservatively.",
            data_sources=["core banking ledger", "transaction history"],
            ai_act_class=AiActClass.HIGH if eu_high_risk else AiActClass.MINIMAL,
            annex_iii_area=AnnexIIIArea.ESSENTIAL_SERVICES if eu_high_risk else None,
        ),
    )
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(days=DAYS + 30)
    cards.put_version_card(
        session,
        principal=engineer,
        model_id=model_id,
        number=number,
        data=VersionCardContent(
            changes="retrained on the latest year of data",
            training_data_start=end - timedelta(days=365),
            training_data_end=end,
            evaluation_summary="Out-of-time holdout within 2% of the previous version.",
            known_limitations="Not evaluated on customers of under three months' tenure.",
        ),
    )
    if validator is None:
        return
    opened = validations.open_validation(
        session,
        principal=validator,
        model_id=model_id,
        number=number,
        data=ValidationCreate(
            scope="conceptual soundness, outcomes analysis",
            method="back-testing, benchmarking",
            report_ids=[],
        ),
    )
    validations.record_outcome(
        session,
        principal=validator,
        model_id=model_id,
        number=number,
        validation_id=opened.id,
        data=ValidationOutcome(outcome="approved", note="fit for purpose"),
    )
