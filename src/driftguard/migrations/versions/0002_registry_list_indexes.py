"""registry list indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import driftguard.db.base  # noqa: F401 - types autogenerate may reference

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registered_models_created_at_id", ["created_at", "id"], unique=False
        )
        batch_op.create_index("ix_registered_models_name_id", ["name", "id"], unique=False)
        batch_op.create_index(
            "ix_registered_models_live_team_id",
            ["team_id"],
            unique=False,
            postgresql_where=sa.text("archived_at IS NULL"),
            sqlite_where=sa.text("archived_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.drop_index("ix_registered_models_live_team_id")
        batch_op.drop_index("ix_registered_models_name_id")
        batch_op.drop_index("ix_registered_models_created_at_id")
