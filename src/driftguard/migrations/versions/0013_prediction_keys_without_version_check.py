"""prediction key rows without a foreign key to their version

Every row of a COPY into ``prediction_records`` paid a foreign-key check against
``model_versions`` (about 4 s of PostgreSQL time per million predictions on the benchmark
machine, 40 % of a bulk upload). Versions are never deleted (they are archived), and every
insert is made with the version's row locked FOR UPDATE in the same transaction, which is a
stronger guarantee than the check. On SQLite the table is rebuilt, with the labels that
reference it kept aside meanwhile (the rebuild would cascade to them).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

from driftguard.migrations.rebuild import labels_kept

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_prediction_records_version_id_model_versions"


def upgrade() -> None:
    with labels_kept(), op.batch_alter_table("prediction_records") as batch_op:
        batch_op.drop_constraint(FOREIGN_KEY, type_="foreignkey")


def downgrade() -> None:
    with labels_kept(), op.batch_alter_table("prediction_records") as batch_op:
        batch_op.create_foreign_key(
            FOREIGN_KEY, "model_versions", ["version_id"], ["id"], ondelete="CASCADE"
        )
