"""Seed data for ``driftguard demo``: three teams, their people, and a portfolio of models."""

from __future__ import annotations

import random
import secrets

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from driftguard.audit.schemas import SYSTEM
from driftguard.cli.demo_data import (
    score_versions,
    seed_governance,
    seed_lifecycle,
    seed_monitoring,
)
from driftguard.identity import service as identity_service
from driftguard.identity.permissions import Permission, Role
from driftguard.identity.principal import Principal
from driftguard.identity.schemas import MembershipCreate, TeamCreate, UserCreate
from driftguard.registry import service as registry_service
from driftguard.registry.orm import Level, Stage, TaskType
from driftguard.registry.schemas import FeatureSpec, ModelVersionCreate, RegisteredModelCreate
from driftguard.rules import tier_of

TEAMS = {
    "credit-risk": ("Credit Risk", "Retail and SME credit scoring models"),
    "fraud": ("Fraud Detection", "Card and payment fraud models"),
    "marketing": ("Marketing Analytics", "Propensity and churn models"),
}
MODEL_KINDS = {
    "credit-risk": ["pd-scorecard", "lgd-model", "ead-model", "limit-assignment", "collections"],
    "fraud": ["card-fraud", "ach-anomaly", "account-takeover", "merchant-risk", "aml-alerting"],
    "marketing": ["churn", "next-best-offer", "clv-regression", "email-uplift", "cross-sell"],
}
FEATURES = {
    "credit-risk": [
        ("income", "numeric"),
        ("debt_to_income", "numeric"),
        ("age", "numeric"),
        ("employment_type", "categorical"),
        ("gender", "categorical"),
    ],
    "fraud": [
        ("amount", "numeric"),
        ("merchant_category", "categorical"),
        ("hour_of_day", "numeric"),
        ("card_present", "boolean"),
        ("country", "categorical"),
    ],
    "marketing": [
        ("tenure_months", "numeric"),
        ("monthly_spend", "numeric"),
        ("region", "categorical"),
        ("age_band", "categorical"),
        ("opted_in", "boolean"),
    ],
}
SENSITIVE = {"gender", "age_band", "country"}
# Two approvers per team: the default policy wants two distinct approvals for production.
DEMO_ROLES = (
    (Role.ML_ENGINEER, ""),
    (Role.APPROVER, ""),
    (Role.APPROVER, "-2"),
    (Role.VIEWER, ""),
    # Independent validation: neither creates versions nor asks for deployments.
    (Role.VALIDATOR, ""),
)
# Models that get reference data, two weeks of predictions and labels, and daily reports.
MONITORED_MODELS = 9
WORDS = [
    "amber",
    "birch",
    "cobalt",
    "delta",
    "ember",
    "fjord",
    "granite",
    "harbor",
    "indigo",
    "juniper",
    "kestrel",
    "lumen",
    "meadow",
    "nimbus",
    "orchid",
    "quartz",
    "russet",
    "sierra",
]


def demo_password() -> str:
    """A random password for a demo user: four words and two digits, long enough for the password
    policy."""
    return "-".join(secrets.choice(WORDS) for _ in range(4)) + f"-{secrets.randbelow(100):02d}"


def seed_demo(
    session: Session,
    *,
    hasher: PasswordHasher,
    model_count: int,
    seed: int = 7,
    prediction_retention_days: int = 0,
) -> list[tuple[str, str, str]]:
    """Create the demo portfolio; returns (email, role, password) for each demo user.
    ``prediction_retention_days``: the installation's setting, which the EU AI Act retention
    floor checks when a demo card classifies a model high-risk."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    credentials: list[tuple[str, str, str]] = []

    def user(email: str, name: str, platform_role: Role | None = None) -> int:
        password = demo_password()
        created = identity_service.create_user(
            session,
            actor=SYSTEM,
            data=UserCreate(
                email=email, display_name=name, password=password, platform_role=platform_role
            ),
            hasher=hasher,
        )
        credentials.append((email, str(platform_role or "member"), password))
        return created.id

    user("admin@driftguard.example", "Ada Admin", Role.ADMIN)
    user("auditor@driftguard.example", "Audrey Auditor", Role.AUDITOR)
    system = Principal(user_id=None, platform_role=Role.ADMIN)
    team_ids: dict[str, int] = {}
    engineers: dict[str, int] = {}
    approvers: dict[str, list[int]] = {}
    validators: dict[str, int] = {}
    for slug, (name, description) in TEAMS.items():
        team = identity_service.create_team(
            session, actor=SYSTEM, data=TeamCreate(name=name, description=description)
        )
        team_ids[slug] = team.id
        for role, suffix in DEMO_ROLES:
            uid = user(
                f"{slug}.{role.value}{suffix}@driftguard.example", f"{name} {role.value}{suffix}"
            )
            identity_service.add_membership(
                session,
                principal=system,
                team_id=team.id,
                data=MembershipCreate(user_id=uid, role=role),
            )
            credentials[-1] = (credentials[-1][0], f"{role.value} in {name}", credentials[-1][2])
            if role is Role.ML_ENGINEER:
                engineers[slug] = uid
            if role is Role.APPROVER:
                approvers.setdefault(slug, []).append(uid)
            if role is Role.VALIDATOR:
                validators[slug] = uid

    slugs = list(TEAMS)
    monitored = 0
    left_unvalidated = False
    for index in range(model_count):
        slug = slugs[index % len(slugs)]
        kind = MODEL_KINDS[slug][(index // len(slugs)) % len(MODEL_KINDS[slug])]
        engineer = Principal(user_id=engineers[slug], team_roles={team_ids[slug]: Role.ML_ENGINEER})
        assert engineer.can_in_team(Permission.MODELS_WRITE, team_ids[slug])
        model = registry_service.create_model(
            session,
            principal=engineer,
            data=RegisteredModelCreate(
                team_id=team_ids[slug],
                name=f"{kind}-{index // (len(slugs) * 5) + 1:02d}",
                description=f"{TEAMS[slug][0]}: {kind.replace('-', ' ')} model",
                use_case=f"{kind.replace('-', ' ')} decisions",
                materiality=rng.choice(list(Level)),
                criticality=rng.choice(list(Level)),
                tags=rng.sample(["retail", "sme", "eu", "us", "champion", "challenger"], 2),
            ),
        )
        task = (
            TaskType.REGRESSION
            if kind in ("lgd-model", "ead-model", "clv-regression")
            else (TaskType.BINARY_CLASSIFICATION)
        )
        for number in range(1, rng.randint(1, 4) + 1):
            metrics = (
                {"roc_auc": round(rng.uniform(0.68, 0.92), 4)}
                if task is not TaskType.REGRESSION
                else {"rmse": round(rng.uniform(0.1, 0.4), 4)}
            )
            version = registry_service.create_version(
                session,
                principal=engineer,
                model_id=model.id,
                data=ModelVersionCreate(
                    task_type=task,
                    framework=rng.choice(["scikit-learn", "xgboost", "lightgbm"]),
                    artifact_uri=f"s3://models/{slug}/{model.name}/{number}",
                    features=[
                        FeatureSpec(name=n, type=t, sensitive=n in SENSITIVE)
                        for n, t in FEATURES[slug]
                    ],
                    target="default" if slug == "credit-risk" else "label",
                    training_metrics=metrics,
                    stage=Stage.STAGING if number > 1 and rng.random() < 0.4 else Stage.NONE,
                ),
            )
        if task is TaskType.BINARY_CLASSIFICATION and monitored < MONITORED_MODELS:
            monitored += 1
            seed_monitoring(
                session,
                engineer=engineer,
                model_id=model.id,
                number=version.number,
                features=[f.model_dump(mode="json") for f in version.features],
                seed=index,
                drifting=monitored % 3 == 1,
                biased=monitored % 3 == 2,
            )
            team_id = team_ids[slug]
            # Cards for every model asked for production, and an approved validation for all
            # but the first tier-1 one: the default policy blocks that one (a realistic picture).
            # Credit scoring is high-risk under the EU AI Act (Annex III, essential services).
            tier_one = tier_of(model.materiality.value, model.criticality.value) == 1
            validate = left_unvalidated or not tier_one
            left_unvalidated = left_unvalidated or tier_one
            seed_lifecycle(
                session,
                engineer=engineer,
                validator=Principal(user_id=validators[slug], team_roles={team_id: Role.VALIDATOR})
                if validate
                else None,
                model_id=model.id,
                number=version.number,
                eu_high_risk=slug == "credit-risk",
                prediction_retention_days=prediction_retention_days,
            )
            reviewers = [
                Principal(user_id=u, team_roles={team_id: Role.APPROVER}) for u in approvers[slug]
            ]
            seed_governance(
                session,
                engineer=engineer,
                approvers=reviewers,
                model_id=model.id,
                number=version.number,
                go_live=monitored % 6 == 3,
            )
        else:
            score_versions(session, model_id=model.id)
    return credentials
