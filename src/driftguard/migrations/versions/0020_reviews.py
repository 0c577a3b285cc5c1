"""periodic reviews: two-party attestations of a model version

``model_reviews``: one row per review (open until its second attestation completes it), with the
owner's and the validator's attestation, the evidence seen and the combined conclusion. At most one
open review per version (a partial unique index); the last completed review of a version is read
by ``(version_id, completed_at)``. ``ix_deployments_version_id_environment_status`` covers what
the review lists read of deployments (live in production, first ``deployed_at``).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import driftguard.db.base

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "model_reviews",
        sa.Column("team_id", _ID, nullable=False),
        sa.Column("model_id", _ID, nullable=False),
        sa.Column("version_id", _ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("conclusion", sa.String(length=24), nullable=True),
        sa.Column("owner_id", _ID, nullable=True),
        sa.Column("owner_conclusion", sa.String(length=24), nullable=True),
        sa.Column(
            "owner_attested_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("validator_id", _ID, nullable=True),
        sa.Column("validator_conclusion", sa.String(length=24), nullable=True),
        sa.Column(
            "validator_attested_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_model_reviews_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_model_reviews_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_model_reviews_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["validator_id"],
            ["users.id"],
            name=op.f("fk_model_reviews_validator_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_reviews_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_reviews")),
    )
    op.create_index(
        "ix_model_reviews_one_open",
        "model_reviews",
        ["version_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_model_reviews_version_id_completed_at",
        "model_reviews",
        ["version_id", "completed_at"],
        unique=False,
    )
    op.create_index(
        "ix_model_reviews_team_id_status", "model_reviews", ["team_id", "status"], unique=False
    )
    op.create_index(
        "ix_deployments_version_id_environment_status",
        "deployments",
        ["version_id", "environment", "status", "deployed_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_deployments_version_id_environment_status", table_name="deployments")
    op.drop_index("ix_model_reviews_team_id_status", table_name="model_reviews")
    op.drop_index("ix_model_reviews_version_id_completed_at", table_name="model_reviews")
    op.drop_index("ix_model_reviews_one_open", table_name="model_reviews")
    op.drop_table("model_reviews")
