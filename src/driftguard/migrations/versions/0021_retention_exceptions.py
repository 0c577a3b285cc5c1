"""retention exceptions: an admin's audited exception to the EU AI Act retention floor

``retention_exceptions``: per model, why a retention shorter than the floor (183 days for the
raw predictions and audit records of EU high-risk models, Art. 12 and 19) applies, until when,
who recorded it and who withdrew it. Rows are history: never deleted by the application.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import driftguard.db.base

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "retention_exceptions",
        sa.Column("model_id", _ID, nullable=False),
        sa.Column("team_id", _ID, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", _ID, nullable=True),
        sa.Column("created_by_api_key_id", _ID, nullable=True),
        sa.Column("created_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by_id", _ID, nullable=True),
        sa.Column("withdrawn_by_api_key_id", _ID, nullable=True),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_retention_exceptions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_retention_exceptions_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_retention_exceptions_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"],
            ["users.id"],
            name=op.f("fk_retention_exceptions_withdrawn_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_exceptions")),
    )
    with op.batch_alter_table("retention_exceptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_retention_exceptions_model_id_expires_at", ["model_id", "expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_retention_exceptions_team_id"), ["team_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("retention_exceptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retention_exceptions_team_id"))
        batch_op.drop_index("ix_retention_exceptions_model_id_expires_at")
    op.drop_table("retention_exceptions")
