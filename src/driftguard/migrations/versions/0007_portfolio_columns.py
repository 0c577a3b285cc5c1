"""what a portfolio judgement and the dashboard read without parsing documents or searching
history: each version's count of sensitive attributes, beside each facts snapshot its summary (per
fact the extreme values and their subjects), and each model's current risk score

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import driftguard.db.base

DOCUMENT = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(astext_type=sa.Text(), none_as_null=True), "postgresql"
)

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch copy: on SQLite, dropping the copied table would cascade
    # to every row that references a model version.
    op.add_column(
        "model_versions",
        sa.Column("sensitive_attributes", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("version_facts", sa.Column("summary", DOCUMENT, nullable=True))
    connection = op.get_bind()
    snapshots = sa.table(
        "version_facts",
        sa.column("version_id", sa.Integer()),
        sa.column("facts", DOCUMENT),
        sa.column("summary", DOCUMENT),
    )
    summaries = [
        {"key": version_id, "summary": _summarise(facts)}
        for version_id, facts in connection.execute(
            sa.select(snapshots.c.version_id, snapshots.c.facts)
        )
    ]
    if summaries:
        connection.execute(
            snapshots.update()
            .where(snapshots.c.version_id == sa.bindparam("key"))
            .values(summary=sa.bindparam("summary")),
            summaries,
        )
    versions = sa.table(
        "model_versions",
        sa.column("id", sa.Integer()),
        sa.column("features", DOCUMENT),
        sa.column("sensitive_attributes", sa.Integer()),
    )
    counts = [
        {"key": version_id, "count": sum(1 for f in features if f.get("sensitive"))}
        for version_id, features in connection.execute(
            sa.select(versions.c.id, versions.c.features)
        )
    ]
    counted = [c for c in counts if c["count"]]
    if counted:
        connection.execute(
            versions.update()
            .where(versions.c.id == sa.bindparam("key"))
            .values(sensitive_attributes=sa.bindparam("count")),
            counted,
        )

    _model_risk()
    _risk_trend()


def _risk_trend() -> None:
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "risk_trend",
        sa.Column("team_id", id_type, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("score_sum", sa.Float(), nullable=False),
        sa.Column("scores", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_risk_trend_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", "day", name=op.f("pk_risk_trend")),
    )
    # The stored scores summed per team and UTC day.
    scores = sa.table(
        "risk_scores",
        sa.column("team_id", id_type),
        sa.column("score", sa.Float()),
        sa.column("computed_at", sa.DateTime(timezone=True)),
    )
    day = (
        sa.cast(sa.func.timezone("UTC", scores.c.computed_at), sa.Date)
        if op.get_context().dialect.name == "postgresql"
        else sa.func.date(scores.c.computed_at)
    )
    trend = sa.table(
        "risk_trend",
        sa.column("team_id", id_type),
        sa.column("day", sa.Date()),
        sa.column("score_sum", sa.Float()),
        sa.column("scores", sa.Integer()),
    )
    op.execute(
        trend.insert().from_select(
            ["team_id", "day", "score_sum", "scores"],
            sa.select(scores.c.team_id, day, sa.func.sum(scores.c.score), sa.func.count()).group_by(
                scores.c.team_id, day
            ),
        )
    )


def _model_risk() -> None:
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "model_risk",
        sa.Column("model_id", id_type, nullable=False),
        sa.Column("team_id", id_type, nullable=False),
        sa.Column("version_id", id_type, nullable=False),
        sa.Column("risk_score_id", id_type, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=16), nullable=False),
        sa.Column("main_driver", sa.String(length=32), nullable=False),
        sa.Column("computed_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_model_risk_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["risk_score_id"],
            ["risk_scores.id"],
            name=op.f("fk_model_risk_risk_score_id_risk_scores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_model_risk_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_risk_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_model_risk")),
    )
    op.create_index("ix_model_risk_score", "model_risk", ["score"])
    op.create_index("ix_model_risk_team_id_score", "model_risk", ["team_id", "score"])
    # Each model's last stored score becomes its current one.
    scores = sa.table(
        "risk_scores",
        *(sa.column(c, id_type) for c in ("id", "model_id", "team_id", "version_id")),
        sa.column("score", sa.Float()),
        sa.column("band", sa.String()),
        sa.column("components", DOCUMENT),
        sa.column("computed_at", driftguard.db.base.UTCDateTime(timezone=True)),
    )
    last = sa.select(sa.func.max(scores.c.id)).group_by(scores.c.model_id).scalar_subquery()
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            scores.c.model_id,
            scores.c.team_id,
            scores.c.version_id,
            scores.c.id,
            scores.c.score,
            scores.c.band,
            scores.c.components,
            scores.c.computed_at,
        ).where(scores.c.id.in_(last))
    ).all()
    if rows:
        current = sa.table(
            "model_risk",
            *(
                sa.column(c, id_type)
                for c in ("model_id", "team_id", "version_id", "risk_score_id")
            ),
            sa.column("score", sa.Float()),
            sa.column("band", sa.String()),
            sa.column("main_driver", sa.String()),
            sa.column("computed_at", driftguard.db.base.UTCDateTime(timezone=True)),
        )
        connection.execute(
            current.insert(),
            [
                {
                    "model_id": model_id,
                    "team_id": team_id,
                    "version_id": version_id,
                    "risk_score_id": score_id,
                    "score": score,
                    "band": band,
                    "main_driver": _main_driver(components),
                    "computed_at": at,
                }
                for model_id, team_id, version_id, score_id, score, band, components, at in rows
            ],
        )


def _main_driver(components: list[dict[str, object]]) -> str:
    """The component contributing most (as ``governance.risk.main_driver`` at this revision)."""
    best = max(components, key=lambda c: float(c.get("contribution", 0.0)), default=None)  # type: ignore[arg-type]
    return str(best["name"]) if best is not None else ""


def _summarise(facts: Mapping[str, Mapping[str, float | None]]) -> dict[str, list[Any]] | None:
    """The extremes of each measured fact, or ``None`` when a value is not a finite number.

    A frozen copy of ``policy.portfolio.summarise`` at this revision: the migration writes the
    summaries of that day, whatever the function becomes (a new format needs a new migration).
    """
    summary: dict[str, list[Any]] = {}
    for fact, by_subject in facts.items():
        high: tuple[float, str] | None = None
        low: tuple[float, str] | None = None
        for subject in sorted(by_subject):
            value = by_subject[subject]
            if value is None:
                continue
            if not isinstance(value, int | float) or not math.isfinite(value):
                return None
            number = float(value)
            if high is None or number > high[0]:
                high = (number, subject)
            if low is None or number < low[0]:
                low = (number, subject)
        if high is not None and low is not None:
            summary[fact] = [high[0], high[1], low[0], low[1]]
    return summary


def downgrade() -> None:
    op.drop_table("risk_trend")
    op.drop_index("ix_model_risk_team_id_score", table_name="model_risk")
    op.drop_index("ix_model_risk_score", table_name="model_risk")
    op.drop_table("model_risk")
    op.drop_column("version_facts", "summary")  # SQLite 3.35 and later drop columns in place
    op.drop_column("model_versions", "sensitive_attributes")
