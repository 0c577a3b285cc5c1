"""prediction storage and monitoring

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import driftguard.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_receipts",
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_ingest_receipts_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "key", name=op.f("pk_ingest_receipts")),
    )
    op.create_table(
        "prediction_blocks",
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("first_ts", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_ts", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("columns", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_prediction_blocks_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_blocks")),
    )
    with op.batch_alter_table("prediction_blocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_prediction_blocks_version_id_span",
            ["version_id", "first_ts", "last_ts"],
            unique=False,
        )

    op.create_table(
        "reference_datasets",
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("source_format", sa.String(length=16), nullable=False),
        sa.Column("profile", sa.LargeBinary(), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column(
            "created_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_reference_datasets_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_reference_datasets_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_datasets")),
    )
    with op.batch_alter_table("reference_datasets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reference_datasets_version_id_active", ["version_id", "is_active"], unique=False
        )

    op.create_table(
        "monitoring_runs",
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("window_start", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_end", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("schedule_key", sa.String(length=96), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n_predictions", sa.Integer(), nullable=False),
        sa.Column("n_labelled", sa.Integer(), nullable=False),
        sa.Column(
            "reference_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_monitoring_runs_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reference_id"],
            ["reference_datasets.id"],
            name=op.f("fk_monitoring_runs_reference_id_reference_datasets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_monitoring_runs_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_runs")),
        sa.UniqueConstraint("schedule_key", name=op.f("uq_monitoring_runs_schedule_key")),
    )
    with op.batch_alter_table("monitoring_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitoring_runs_version_id_window", ["version_id", "window_start"], unique=False
        )

    op.create_table(
        "prediction_block_counts",
        sa.Column("block_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["prediction_blocks.id"],
            name=op.f("fk_prediction_block_counts_block_id_prediction_blocks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("block_id", "profile_id", name=op.f("pk_prediction_block_counts")),
    )
    op.create_table(
        "prediction_records",
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("prediction_id", sa.String(length=128), nullable=False),
        sa.Column("ts", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("block_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["prediction_blocks.id"],
            name=op.f("fk_prediction_records_block_id_prediction_blocks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_prediction_records_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "prediction_id", name=op.f("pk_prediction_records")),
    )
    with op.batch_alter_table("prediction_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prediction_records_block_id"), ["block_id"], unique=False
        )
        batch_op.create_index(
            "ix_prediction_records_version_id_ts", ["version_id", "ts"], unique=False
        )

    op.create_table(
        "alerts",
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("fact", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("observed", sa.Double(), nullable=False),
        sa.Column("operator", sa.String(length=4), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("window_end", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "acknowledged_by_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("resolved_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "resolved_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["users.id"],
            name=op.f("fk_alerts_acknowledged_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_alerts_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["users.id"],
            name=op.f("fk_alerts_resolved_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["monitoring_runs.id"],
            name=op.f("fk_alerts_run_id_monitoring_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_alerts_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_alerts_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_active_key",
            ["version_id", "rule", "subject"],
            unique=True,
            postgresql_where=sa.text("status <> 'resolved'"),
            sqlite_where=sa.text("status <> 'resolved'"),
        )
        batch_op.create_index("ix_alerts_team_id_status", ["team_id", "status"], unique=False)

    op.create_table(
        "monitoring_reports",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("window_start", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_end", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["monitoring_runs.id"],
            name=op.f("fk_monitoring_reports_run_id_monitoring_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_monitoring_reports_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_reports")),
    )
    with op.batch_alter_table("monitoring_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitoring_reports_run_id"), ["run_id"], unique=False)
        batch_op.create_index(
            "ix_monitoring_reports_version_id_kind_window",
            ["version_id", "kind", "window_start"],
            unique=False,
        )

    op.create_table(
        "prediction_labels",
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("prediction_id", sa.String(length=128), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("received_at", driftguard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id", "prediction_id"],
            ["prediction_records.version_id", "prediction_records.prediction_id"],
            name=op.f("fk_prediction_labels_version_id_prediction_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "prediction_id", name=op.f("pk_prediction_labels")),
    )
    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("monitoring_interval_minutes", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.drop_column("monitoring_interval_minutes")

    op.drop_table("prediction_labels")
    with op.batch_alter_table("monitoring_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_reports_version_id_kind_window")
        batch_op.drop_index(batch_op.f("ix_monitoring_reports_run_id"))

    op.drop_table("monitoring_reports")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_team_id_status")
        batch_op.drop_index(
            "ix_alerts_active_key",
            postgresql_where=sa.text("status <> 'resolved'"),
            sqlite_where=sa.text("status <> 'resolved'"),
        )

    op.drop_table("alerts")
    with op.batch_alter_table("prediction_records", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_records_version_id_ts")
        batch_op.drop_index(batch_op.f("ix_prediction_records_block_id"))

    op.drop_table("prediction_records")
    op.drop_table("prediction_block_counts")
    with op.batch_alter_table("monitoring_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_runs_version_id_window")

    op.drop_table("monitoring_runs")
    with op.batch_alter_table("reference_datasets", schema=None) as batch_op:
        batch_op.drop_index("ix_reference_datasets_version_id_active")

    op.drop_table("reference_datasets")
    with op.batch_alter_table("prediction_blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_prediction_blocks_version_id_span")

    op.drop_table("prediction_blocks")
    op.drop_table("ingest_receipts")
