"""versions by stage: one index on (stage, model_id) instead of (stage); newest live versions

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_model_versions_stage_model_id", "model_versions", ["stage", "model_id"])
    op.drop_index("ix_model_versions_stage", table_name="model_versions")
    op.create_index(
        "ix_model_versions_newest_live",
        "model_versions",
        ["model_id", "number"],
        postgresql_include=["id", "created_at", "sensitive_attributes"],
        postgresql_where=sa.text("stage <> 'archived'"),
        sqlite_where=sa.text("stage <> 'archived'"),
    )


def downgrade() -> None:
    op.drop_index("ix_model_versions_newest_live", table_name="model_versions")
    op.create_index("ix_model_versions_stage", "model_versions", ["stage"])
    op.drop_index("ix_model_versions_stage_model_id", table_name="model_versions")
