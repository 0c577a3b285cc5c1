"""what a portfolio judgement reads without parsing documents: each version's count of sensitive
attributes, and beside each facts snapshot its summary (per fact the extreme values and their
subjects)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from driftguard.policy.portfolio import summarise

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
        {"key": version_id, "summary": summarise(facts)}
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


def downgrade() -> None:
    op.drop_column("version_facts", "summary")  # SQLite 3.35 and later drop columns in place
    op.drop_column("model_versions", "sensitive_attributes")
