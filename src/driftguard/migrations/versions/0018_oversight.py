"""human oversight: resume requests of suspended deployments, per-prediction overrides

``deployments.resumes_id``: the suspended deployment a request resumes (the status column is a
plain string, so ``suspended`` needs no change). ``prediction_overrides``: one human override per
version and prediction id, with the prediction's time when it was known (monitoring counts a
window's overrides by it).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import driftguard.db.base

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # No foreign key (see ``governance.orm.Deployment.resumes_id``): SQLite would rebuild the table.
    op.add_column("deployments", sa.Column("resumes_id", _ID, nullable=True))
    op.create_table(
        "prediction_overrides",
        sa.Column("version_id", _ID, nullable=False),
        sa.Column("prediction_id", sa.String(length=128), nullable=False),
        sa.Column("prediction_ts", driftguard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("original_decision", sa.Text(), nullable=False),
        sa.Column("final_decision", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("overridden_by", sa.String(length=256), nullable=True),
        sa.Column("logged_by_id", _ID, nullable=True),
        sa.Column("logged_by_api_key_id", _ID, nullable=True),
        sa.Column("created_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["logged_by_api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_prediction_overrides_logged_by_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["logged_by_id"],
            ["users.id"],
            name=op.f("fk_prediction_overrides_logged_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_prediction_overrides_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "version_id", "prediction_id", name=op.f("pk_prediction_overrides")
        ),
    )
    op.create_index(
        "ix_prediction_overrides_version_id_prediction_ts",
        "prediction_overrides",
        ["version_id", "prediction_ts"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_prediction_overrides_version_id_prediction_ts", table_name="prediction_overrides"
    )
    op.drop_table("prediction_overrides")
    op.drop_column("deployments", "resumes_id")  # SQLite 3.35 and later drop columns in place
